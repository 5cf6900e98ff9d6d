//! The anonymous visitor id: a keyed hash of (site, IP, user agent) under the caller's daily
//! salt. Once the salt is forgotten the id cannot be recomputed from a stored row, and the
//! same person gets a new id each day, so no cross-day profile exists without consent.

use sha2::{Digest, Sha256};
use std::net::IpAddr;

/// Hex (32 characters, 128 bits) of SHA-256(salt ‖ IP ‖ SHA-256(UA) ‖ len ‖ site): fixed-size
/// fields plus one length-prefixed one, so no two different inputs give the same bytes. The
/// salt is secret and rotates, which is all the keying needs: the output is an identifier,
/// not a MAC anyone verifies, so the length-extension property of a bare hash does not matter.
pub fn anonymous_visitor_id(salt: &[u8; 32], site: &str, ip: IpAddr, user_agent: &str) -> String {
    visitor_id_with_ua_digest(salt, site, ip, &ua_digest(user_agent))
}

/// SHA-256 of a user agent; the UA cache keeps it, so a hit hashes 2 blocks instead of 4.
pub fn ua_digest(user_agent: &str) -> [u8; 32] {
    Sha256::digest(user_agent.as_bytes()).into()
}

/// [`anonymous_visitor_id`] with the user agent's digest already computed.
pub(crate) fn visitor_id_with_ua_digest(
    salt: &[u8; 32],
    site: &str,
    ip: IpAddr,
    ua_digest: &[u8; 32],
) -> String {
    let hex = visitor_hex(salt, site, ip, ua_digest);
    String::from(visitor_text(&hex))
}

/// The visitor id as its 32 hex digits, on the stack (the collector's rows borrow it).
pub(crate) fn visitor_hex(
    salt: &[u8; 32],
    site: &str,
    ip: IpAddr,
    ua_digest: &[u8; 32],
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    let ip_bytes: [u8; 16] = match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    };
    h.update(ip_bytes);
    h.update(ua_digest);
    h.update((site.len() as u64).to_le_bytes());
    h.update(site.as_bytes());
    let digest = h.finalize();
    let mut out = [0u8; 32];
    for (pair, b) in out.chunks_exact_mut(2).zip(&digest[..16]) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 0x0f)];
    }
    out
}

/// The text of [`visitor_hex`]'s digits (always ASCII, so never empty in practice).
pub(crate) fn visitor_text(hex: &[u8; 32]) -> &str {
    std::str::from_utf8(hex).unwrap_or("")
}

const HEX: &[u8; 16] = b"0123456789abcdef";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_and_sensitive_to_every_input() {
        let ip: IpAddr = [81, 2, 69, 142].into();
        let other_ip: IpAddr = [81, 2, 69, 143].into();
        let salt = [7u8; 32];
        let base = anonymous_visitor_id(&salt, "shop", ip, "UA");
        assert_eq!(base.len(), 32);
        assert!(base.bytes().all(|b| HEX.contains(&b)));
        assert_eq!(base, anonymous_visitor_id(&salt, "shop", ip, "UA"));
        for other in [
            anonymous_visitor_id(&[8u8; 32], "shop", ip, "UA"),
            anonymous_visitor_id(&salt, "shop2", ip, "UA"),
            anonymous_visitor_id(&salt, "shop", other_ip, "UA"),
            anonymous_visitor_id(&salt, "shop", ip, "UA2"),
            anonymous_visitor_id(&salt, "shopU", ip, "A"),
        ] {
            assert_ne!(base, other);
        }
        let mapped: IpAddr = "::ffff:81.2.69.142".parse().unwrap_or(ip);
        assert_eq!(base, anonymous_visitor_id(&salt, "shop", mapped, "UA"));
    }
}
