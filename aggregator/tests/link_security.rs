//! `/r/{token}` on the real collector under attack: a table of hostile tokens and targets
//! (bit flips, truncations, other keys, expired, wrong kinds, correctly signed payloads with
//! unsafe targets, malformed encodings), each answered 400 without `Location` and without a
//! recorded click; and `LINK_KEYS` rotation: old links keep working while their key is
//! listed, and stop when it is dropped.

mod support;

use std::time::Duration;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use common::token::{Claims, Keyring, TokenKind};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use support::live::{self, wait_for};

const SECRET: &str = "0123456789abcdef0123";
const TARGET: &str = "https://shop.example.com/spring";

fn ring(s: &str) -> Keyring {
    Keyring::parse(s).unwrap_or_else(|| panic!("bad keys {s}"))
}

fn claims(kind: TokenKind, url: &str) -> Claims {
    Claims {
        kind,
        kid: String::new(),
        expires_at: 0,
        mailing_id: "m1".into(),
        person_id: "p1".into(),
        link_id: "cta".into(),
        url: url.into(),
    }
}

fn sign(keys: &str, c: &Claims) -> String {
    ring(keys).sign(c).unwrap_or_else(|e| panic!("{e}"))
}

/// A payload built by hand and tagged with the real key: what an attacker who could get the
/// signer to sign anything would hold.
fn forge(version: u8, kind: u8, url: &str, trailing: &[u8]) -> String {
    let mut p = vec![version, kind, 2];
    p.extend_from_slice(b"k1");
    p.extend_from_slice(&0u32.to_be_bytes());
    for s in ["m1", "p1", "cta"] {
        p.push(s.len() as u8);
        p.extend_from_slice(s.as_bytes());
    }
    p.extend_from_slice(&(url.len() as u16).to_be_bytes());
    p.extend_from_slice(url.as_bytes());
    p.extend_from_slice(trailing);
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(SECRET.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    mac.update(&p);
    let tag = mac.finalize().into_bytes();
    p.extend_from_slice(&tag[..16]);
    URL_SAFE_NO_PAD.encode(p)
}

fn flip(token: &str, byte: usize) -> String {
    let mut raw = URL_SAFE_NO_PAD.decode(token).unwrap_or_default();
    let i = byte.min(raw.len().saturating_sub(1));
    raw[i] ^= 0x01;
    URL_SAFE_NO_PAD.encode(raw)
}

fn hostile() -> Vec<(String, String)> {
    let good = sign(support::KEYS, &claims(TokenKind::Click, TARGET));
    let n = URL_SAFE_NO_PAD.decode(&good).map(|r| r.len()).unwrap_or(0);
    let mut cases: Vec<(String, String)> = Vec::new();
    let mut add = |name: &str, token: String| cases.push((name.to_string(), token));
    for byte in [0, 1, 2, 3, 5, 8, 12, n / 2, n - 17, n - 16, n - 8, n - 1] {
        add(&format!("bit flip in byte {byte}"), flip(&good, byte));
    }
    for keep in [
        good.len() - 1,
        good.len() - 2,
        good.len() - 22,
        good.len() / 2,
        10,
        1,
    ] {
        add(&format!("truncated to {keep}"), good[..keep].to_string());
    }
    add("one char appended", format!("{good}A"));
    add("three chars appended", format!("{good}AAA"));
    add("padding appended", format!("{good}="));
    add(
        "unknown key id",
        sign("k9:0123456789abcdef0123", &claims(TokenKind::Click, TARGET)),
    );
    add(
        "known key id, other secret",
        sign("k1:ffffffffffffffffffff", &claims(TokenKind::Click, TARGET)),
    );
    add(
        "expired",
        sign(
            support::KEYS,
            &Claims {
                expires_at: 1,
                ..claims(TokenKind::Click, TARGET)
            },
        ),
    );
    add(
        "open token",
        sign(support::KEYS, &claims(TokenKind::Open, "")),
    );
    add(
        "person token",
        sign(support::KEYS, &claims(TokenKind::Person, "")),
    );
    for (name, url) in [
        ("protocol-relative", "//evil.example/"),
        ("backslashes", "https:\\\\evil.example/"),
        ("userinfo", "https://good.example@evil.example/"),
        (
            "userinfo with password",
            "https://good.example:pw@evil.example/",
        ),
        ("javascript", "javascript:alert(document.cookie)"),
        ("data", "data:text/html,<script>alert(1)</script>"),
        ("vbscript", "vbscript:msgbox(1)"),
        (
            "CR LF header injection",
            "https://evil.example/\r\nSet-Cookie: s=1",
        ),
        (
            "LF",
            "https://evil.example/\nLocation: https://evil.example",
        ),
        ("NUL", "https://evil.example/\u{0}"),
        ("tab", "https://evil.example/\tx"),
        ("leading space", " https://evil.example/"),
        ("empty host", "http:///evil.example"),
        ("ftp", "ftp://evil.example/"),
        ("relative", "/account/delete"),
        ("empty target", ""),
        ("non-ASCII", "https://évil.example/"),
    ] {
        add(
            &format!("signed unsafe target: {name}"),
            forge(1, 1, url, b""),
        );
    }
    let long = format!("https://evil.example/{}", "a".repeat(2100));
    add("signed over-long target", forge(1, 1, &long, b""));
    add("signed unknown version", forge(2, 1, TARGET, b""));
    add("signed unknown kind", forge(1, 9, TARGET, b""));
    add("signed trailing bytes", forge(1, 1, TARGET, b"xx"));
    add("empty token", String::new());
    add("not base64", "!!!!".into());
    add(
        "percent-encoded CR LF",
        "%0d%0aLocation:%20https://evil.example".into(),
    );
    add("extra path segment", format!("{good}/https://evil.example"));
    add("over-long token", "A".repeat(5000));
    add(
        "standard base64 alphabet",
        URL_SAFE_NO_PAD
            .encode([0xfb; 40])
            .replace('-', "+")
            .replace('_', "/"),
    );
    cases
}

#[tokio::test]
async fn hostile_links_get_400_without_location_and_record_nothing() {
    let db = testkit::shared_server().fresh_db("link_security").await;
    let c = live::start(live::bind().await, &db, &[]).await;
    let cases = hostile();
    assert!(cases.len() >= 30, "only {} cases", cases.len());
    for (name, token) in &cases {
        let r = c.get(&format!("/r/{token}"), &[]).await;
        assert_eq!(r.status, 400, "{name}: {r:?}");
        assert_eq!(r.header("location"), None, "{name}: {r:?}");
    }
    // The target is only ever what was signed: a query parameter cannot replace it.
    let good = sign(support::KEYS, &claims(TokenKind::Click, TARGET));
    let r = c
        .get(
            &format!("/r/{good}?url=https://evil.example/&u=https://evil.example/"),
            &[],
        )
        .await;
    assert_eq!(
        (r.status, r.header("location")),
        (302, Some(TARGET)),
        "{r:?}"
    );
    // Only that one click is stored (the batches flush in order).
    let n = wait_for(
        &db,
        "SELECT count() FROM hits",
        "1",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(n, "1");
    c.stop().await;
}

#[tokio::test]
async fn rotation_keeps_old_links_while_their_key_is_listed() {
    let db = testkit::shared_server().fresh_db("link_rotation").await;
    let old = sign(support::KEYS, &claims(TokenKind::Click, TARGET));
    let rotated = format!("k2:fedcba9876543210fedc,{}", support::KEYS);
    let c = live::start(live::bind().await, &db, &[("LINK_KEYS", &rotated)]).await;
    let new = sign(
        &rotated,
        &claims(TokenKind::Click, "https://shop.example.com/new"),
    );
    assert!(new.len() > 10);
    let r = c.get(&format!("/r/{old}"), &[]).await;
    assert_eq!((r.status, r.header("location")), (302, Some(TARGET)));
    let r = c.get(&format!("/r/{new}"), &[]).await;
    assert_eq!(r.status, 302);
    c.stop().await;

    let c = live::start(
        live::bind().await,
        &db,
        &[("LINK_KEYS", "k2:fedcba9876543210fedc")],
    )
    .await;
    let r = c.get(&format!("/r/{old}"), &[]).await;
    assert_eq!(
        (r.status, r.header("location")),
        (400, None),
        "k1 was dropped"
    );
    let r = c.get(&format!("/r/{new}"), &[]).await;
    assert_eq!(r.status, 302);
    c.stop().await;
}
