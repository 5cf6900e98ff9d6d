//! The client's IP: the socket peer, or, only when the peer is a trusted proxy, the
//! right-most `X-Forwarded-For` entry that is not itself a trusted proxy. Entries left of
//! that are written by the client and can be forged, so they are never believed.

use std::net::IpAddr;

use http::{HeaderMap, HeaderName};
use ipnet::IpNet;

fn trusted(ip: IpAddr, proxies: &[IpNet]) -> bool {
    proxies.iter().any(|n| n.contains(&ip))
}

/// `X-Forwarded-For`, parsed once rather than from a string on every request.
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// Resolves the client IP of a request from `peer` over `proxies`.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, proxies: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted(peer, proxies) {
        return peer;
    }
    // Several X-Forwarded-For headers are one list, in order. A proxy we trust would not
    // send one that is not text: then stop believing the header at all.
    let values = headers.get_all(&X_FORWARDED_FOR);
    if values.iter().any(|v| v.to_str().is_err()) {
        return peer;
    }
    // Walked from the right in place (no list is built: this runs on every request).
    let entries = values
        .iter()
        .rev()
        .flat_map(|v| v.to_str().unwrap_or("").rsplit(',').map(str::trim));
    let mut client = peer;
    for entry in entries {
        let Some(ip) = parse_entry(entry) else {
            // Garbage from here on left: the last hop we could read is the best we know.
            return client;
        };
        client = ip;
        if !trusted(ip, proxies) {
            return ip;
        }
    }
    client
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:567`, `::1` or `[::1]:567`.
fn parse_entry(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
        return Some(sa.ip().to_canonical());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    fn xff(vals: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in vals {
            if let Ok(v) = HeaderValue::from_str(v) {
                h.append("x-forwarded-for", v);
            }
        }
        h
    }

    #[test]
    fn table() {
        let proxies: Vec<IpNet> = ["10.0.0.0/8", "127.0.0.1/32"]
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect();
        let cases: &[(&str, &[&str], &str)] = &[
            // Untrusted peer: the header is ignored.
            ("203.0.113.9", &["81.2.69.160"], "203.0.113.9"),
            // Trusted peer: right-most untrusted entry.
            ("127.0.0.1", &["81.2.69.160"], "81.2.69.160"),
            (
                "10.1.1.1",
                &["6.6.6.6, 81.2.69.160, 10.2.2.2"],
                "81.2.69.160",
            ),
            ("10.1.1.1", &["6.6.6.6", "81.2.69.160"], "81.2.69.160"),
            // No header, or only proxies: the left-most known hop.
            ("10.1.1.1", &[], "10.1.1.1"),
            ("10.1.1.1", &["10.3.3.3"], "10.3.3.3"),
            // Garbage stops the walk at the last readable hop.
            ("10.1.1.1", &["81.2.69.160, garbage"], "10.1.1.1"),
            ("10.1.1.1", &["[2001:db8::1]:443"], "2001:db8::1"),
            ("10.1.1.1", &["81.2.69.160:1234"], "81.2.69.160"),
            ("::ffff:127.0.0.1", &["81.2.69.160"], "81.2.69.160"),
        ];
        for (peer, hdrs, want) in cases {
            assert_eq!(
                client_ip(ip(peer), &xff(hdrs), &proxies),
                ip(want),
                "{peer} {hdrs:?}"
            );
        }
        assert_eq!(
            client_ip(ip("127.0.0.1"), &xff(&["81.2.69.160"]), &[]),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn a_header_that_is_not_text_is_not_believed() {
        let proxies: Vec<IpNet> = ["127.0.0.1/32"]
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect();
        let mut h = xff(&["81.2.69.160"]);
        if let Ok(v) = HeaderValue::from_bytes(b"6.6.6.6\xff") {
            h.append("x-forwarded-for", v);
        }
        assert_eq!(h.get_all("x-forwarded-for").iter().count(), 2);
        assert_eq!(client_ip(ip("127.0.0.1"), &h, &proxies), ip("127.0.0.1"));
    }
}
