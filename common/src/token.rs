//! Signed tokens for mailing clicks (`/r/`), opens (`/o/`) and person identification (`pt`).
//!
//! A token is the URL-safe base64 (no padding) of a compact binary payload followed by a
//! 16-byte truncated HMAC-SHA256 tag over it. The payload names the key id, so `LINK_KEYS`
//! can rotate: the first key signs, every listed key verifies.
//!
//! Payload: `version=1 | kind | kid | expires_at u32 BE | mailing | person | link | url`,
//! strings length-prefixed (u8, url u16 BE). Parsing is strict: no trailing bytes.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
const TAG_LEN: usize = 16;
/// Longest token text accepted before any decoding.
pub const MAX_TOKEN_LEN: usize = 4096;
/// Longest id (mailing, person, link, key id) in bytes.
pub const MAX_ID_LEN: usize = 128;
/// Longest signed target URL in bytes.
pub const MAX_URL_LEN: usize = 2048;

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// A tracked mailing link: redirects to the signed URL.
    Click,
    /// A mailing open pixel.
    Open,
    /// A person token for `identify` / `pt`.
    Person,
}

impl TokenKind {
    fn code(self) -> u8 {
        match self {
            Self::Click => 1,
            Self::Open => 2,
            Self::Person => 3,
        }
    }

    fn from_code(c: u8) -> Option<Self> {
        match c {
            1 => Some(Self::Click),
            2 => Some(Self::Open),
            3 => Some(Self::Person),
            _ => None,
        }
    }
}

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Claims {
    /// Click, open or person.
    pub kind: TokenKind,
    /// Key id that signed it (filled in by `sign` and `verify`).
    pub kid: String,
    /// Unix seconds after which it is refused; 0 = no expiry.
    pub expires_at: u32,
    /// Mailing (empty for person tokens).
    pub mailing_id: String,
    /// Person.
    pub person_id: String,
    /// Link id (clicks only).
    pub link_id: String,
    /// Redirect target (clicks only).
    pub url: String,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not base64, too short or long, or a payload that does not parse.
    #[error("malformed token")]
    Malformed,
    /// Signed by a key id not in `LINK_KEYS`.
    #[error("unknown key id")]
    UnknownKey,
    /// The tag does not match.
    #[error("bad signature")]
    BadSignature,
    /// Past its expiry.
    #[error("expired token")]
    Expired,
    /// A kind other than the route expects.
    #[error("wrong token kind")]
    WrongKind,
    /// The signed target is not a safe absolute http(s) URL.
    #[error("unsafe redirect target")]
    UnsafeTarget,
    /// An id or URL too long to sign.
    #[error("field too long to sign")]
    TooLong,
}

impl TokenError {
    /// Short label for metrics and logs.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::UnknownKey => "unknown_key",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::WrongKind => "wrong_kind",
            Self::UnsafeTarget => "unsafe_target",
            Self::TooLong => "too_long",
        }
    }
}

/// The signing keys from `LINK_KEYS`: the first signs, all verify.
#[derive(Clone)]
pub struct Keyring {
    /// (key id, secret) in configured order.
    keys: Vec<(String, Vec<u8>)>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("Keyring").field("kids", &kids).finish()
    }
}

/// The form `LINK_KEYS` must have, for config error messages.
pub const LINK_KEYS_FORM: &str =
    "a comma list of kid:secret, kid 1-16 of [A-Za-z0-9_-], secret at least 16 characters";

impl Keyring {
    /// Parses `kid:secret,kid:secret`.
    pub fn parse(s: &str) -> Option<Self> {
        let mut keys: Vec<(String, Vec<u8>)> = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (kid, secret) = part.split_once(':')?;
            let kid_ok = (1..=16).contains(&kid.len())
                && kid
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !kid_ok || secret.len() < 16 || keys.iter().any(|(k, _)| k == kid) {
                return None;
            }
            keys.push((kid.to_string(), secret.as_bytes().to_vec()));
        }
        (!keys.is_empty()).then_some(Self { keys })
    }

    /// Id of the signing key.
    pub fn signing_kid(&self) -> &str {
        &self.keys[0].0
    }

    fn mac(secret: &[u8]) -> HmacSha256 {
        // HMAC takes keys of any length, so this cannot fail.
        <HmacSha256 as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!())
    }

    /// Signs the claims with the first key (its id replaces `claims.kid`).
    pub fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        let (kid, secret) = &self.keys[0];
        if claims.kind == TokenKind::Click && !safe_redirect_target(&claims.url) {
            return Err(TokenError::UnsafeTarget);
        }
        let mut p = Vec::with_capacity(64 + claims.url.len());
        p.push(VERSION);
        p.push(claims.kind.code());
        put_short(&mut p, kid)?;
        p.extend_from_slice(&claims.expires_at.to_be_bytes());
        put_short(&mut p, &claims.mailing_id)?;
        put_short(&mut p, &claims.person_id)?;
        put_short(&mut p, &claims.link_id)?;
        if claims.url.len() > MAX_URL_LEN {
            return Err(TokenError::TooLong);
        }
        p.extend_from_slice(&(claims.url.len() as u16).to_be_bytes());
        p.extend_from_slice(claims.url.as_bytes());
        let mut mac = Self::mac(secret);
        mac.update(&p);
        let tag = mac.finalize().into_bytes();
        p.extend_from_slice(&tag[..TAG_LEN]);
        Ok(URL_SAFE_NO_PAD.encode(p))
    }

    /// Verifies a token: format, key, tag (constant time), expiry against `now` (Unix s), and
    /// for clicks a safe target.
    pub fn verify(&self, token: &str, now: u32) -> Result<Claims, TokenError> {
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let raw = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| TokenError::Malformed)?;
        if raw.len() < TAG_LEN + 2 {
            return Err(TokenError::Malformed);
        }
        let (payload, tag) = raw.split_at(raw.len() - TAG_LEN);
        let claims = parse_payload(payload)?;
        let secret = self
            .keys
            .iter()
            .find(|(k, _)| *k == claims.kid)
            .map(|(_, s)| s)
            .ok_or(TokenError::UnknownKey)?;
        let mut mac = Self::mac(secret);
        mac.update(payload);
        mac.verify_truncated_left(tag)
            .map_err(|_| TokenError::BadSignature)?;
        if claims.expires_at != 0 && now > claims.expires_at {
            return Err(TokenError::Expired);
        }
        if claims.kind == TokenKind::Click && !safe_redirect_target(&claims.url) {
            return Err(TokenError::UnsafeTarget);
        }
        Ok(claims)
    }

    /// Verifies and checks the kind.
    pub fn verify_kind(
        &self,
        token: &str,
        kind: TokenKind,
        now: u32,
    ) -> Result<Claims, TokenError> {
        let c = self.verify(token, now)?;
        if c.kind == kind {
            Ok(c)
        } else {
            Err(TokenError::WrongKind)
        }
    }
}

fn put_short(p: &mut Vec<u8>, s: &str) -> Result<(), TokenError> {
    if s.len() > MAX_ID_LEN {
        return Err(TokenError::TooLong);
    }
    p.push(s.len() as u8);
    p.extend_from_slice(s.as_bytes());
    Ok(())
}

/// A strict reader over the payload bytes.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TokenError> {
        if self.0.len() < n {
            return Err(TokenError::Malformed);
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }

    fn string(&mut self, len: usize) -> Result<String, TokenError> {
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| TokenError::Malformed)
    }

    fn short(&mut self) -> Result<String, TokenError> {
        let len = self.take(1)?[0] as usize;
        if len > MAX_ID_LEN {
            return Err(TokenError::Malformed);
        }
        self.string(len)
    }
}

fn parse_payload(payload: &[u8]) -> Result<Claims, TokenError> {
    let mut c = Cursor(payload);
    if c.take(1)?[0] != VERSION {
        return Err(TokenError::Malformed);
    }
    let kind = TokenKind::from_code(c.take(1)?[0]).ok_or(TokenError::Malformed)?;
    let kid = c.short()?;
    let exp = c.take(4)?;
    let expires_at = u32::from_be_bytes([exp[0], exp[1], exp[2], exp[3]]);
    let mailing_id = c.short()?;
    let person_id = c.short()?;
    let link_id = c.short()?;
    let len = c.take(2)?;
    let len = u16::from_be_bytes([len[0], len[1]]) as usize;
    if len > MAX_URL_LEN {
        return Err(TokenError::Malformed);
    }
    let url = c.string(len)?;
    if !c.0.is_empty() || kid.is_empty() {
        return Err(TokenError::Malformed);
    }
    Ok(Claims {
        kind,
        kid,
        expires_at,
        mailing_id,
        person_id,
        link_id,
        url,
    })
}

/// True for an absolute `http(s)://host/...` URL with no userinfo, no whitespace or control
/// characters and no backslashes: the only kind of target a click may redirect to.
pub fn safe_redirect_target(target: &str) -> bool {
    if target.is_empty() || target.len() > MAX_URL_LEN {
        return false;
    }
    if target
        .bytes()
        .any(|b| b.is_ascii_control() || b == b' ' || b == b'\\' || b >= 0x80)
    {
        return false;
    }
    let lower = target.get(..8).unwrap_or(target).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &target[8..]
    } else if lower.starts_with("http://") {
        &target[7..]
    } else {
        return false;
    };
    if rest.is_empty() || rest.starts_with('/') {
        return false;
    }
    match url::Url::parse(target) {
        Ok(u) => {
            matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some_and(|h| !h.is_empty())
                && u.username().is_empty()
                && u.password().is_none()
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(s: &str) -> Keyring {
        Keyring::parse(s).unwrap_or_else(|| panic!("bad test keys {s}"))
    }

    fn click(url: &str) -> Claims {
        Claims {
            kind: TokenKind::Click,
            kid: String::new(),
            expires_at: 0,
            mailing_id: "m1".into(),
            person_id: "p1".into(),
            link_id: "l1".into(),
            url: url.into(),
        }
    }

    #[test]
    fn round_trip_and_rotation() {
        let old = ring("k1:0123456789abcdef0123");
        let t = old
            .sign(&click("https://example.com/a?b=1"))
            .unwrap_or_default();
        let rotated = ring("k2:fedcba9876543210fedc,k1:0123456789abcdef0123");
        let c = rotated.verify(&t, 100).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.kid, "k1");
        assert_eq!(c.url, "https://example.com/a?b=1");
        let only_new = ring("k2:fedcba9876543210fedc");
        assert_eq!(only_new.verify(&t, 100), Err(TokenError::UnknownKey));
    }

    #[test]
    fn every_bit_flip_is_refused() {
        let k = ring("k1:0123456789abcdef0123");
        let t = k.sign(&click("https://example.com/")).unwrap_or_default();
        let raw = URL_SAFE_NO_PAD.decode(&t).unwrap_or_default();
        for i in 0..raw.len() * 8 {
            let mut r = raw.clone();
            r[i / 8] ^= 1 << (i % 8);
            assert!(k.verify(&URL_SAFE_NO_PAD.encode(&r), 0).is_err(), "bit {i}");
        }
        for n in 0..t.len() {
            assert!(k.verify(&t[..n], 0).is_err(), "truncated to {n}");
        }
    }

    #[test]
    fn expiry() {
        let k = ring("k1:0123456789abcdef0123");
        let mut c = click("https://example.com/");
        c.expires_at = 1000;
        let t = k.sign(&c).unwrap_or_default();
        assert!(k.verify(&t, 1000).is_ok());
        assert_eq!(k.verify(&t, 1001), Err(TokenError::Expired));
    }

    #[test]
    fn unsafe_targets() {
        for bad in [
            "//evil.example",
            "https:\\\\evil",
            "https://good@evil.example/",
            "javascript:alert(1)",
            "data:text/html,x",
            "https://evil.example/\r\nSet-Cookie: a=b",
            "http:///evil",
            "ftp://x.example/",
            "",
            "/relative",
        ] {
            assert!(!safe_redirect_target(bad), "{bad:?} must be refused");
        }
        assert!(safe_redirect_target("https://example.com/x?y=%20z#f"));
        assert!(safe_redirect_target("HTTP://Example.com"));
    }

    #[test]
    fn keyring_parse() {
        assert!(Keyring::parse("").is_none());
        assert!(Keyring::parse("k1:short").is_none());
        assert!(Keyring::parse("bad kid:0123456789abcdef").is_none());
        assert!(Keyring::parse("k1:0123456789abcdef,k1:0123456789abcdef").is_none());
        assert_eq!(
            ring("a:0123456789abcdef, b:0123456789abcdef").signing_kid(),
            "a"
        );
    }

    proptest::proptest! {
        #[test]
        fn verify_never_panics(s in ".{0,300}") {
            let k = ring("k1:0123456789abcdef0123");
            let _ = k.verify(&s, 0);
        }
    }
}
