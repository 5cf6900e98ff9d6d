//! IP truncation: what is stored and logged is never the full client address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The address with its host part zeroed: IPv4 to its /24, IPv6 to its /48. An IPv4 address
/// mapped into IPv6 (`::ffff:a.b.c.d`, as a dual-stack socket reports it) is truncated as IPv4.
pub fn truncate_ip(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(v4.to_bits() & 0xffff_ff00)),
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(v6.to_bits() & !((1u128 << 80) - 1))),
    }
}

/// The text of an address, as `Display` writes it but without the formatting machinery for
/// IPv4 (every hit stores one).
pub fn ip_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let mut s = String::with_capacity(15);
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    s.push('.');
                }
                if octet >= 100 {
                    s.push(char::from(b'0' + octet / 100));
                }
                if octet >= 10 {
                    s.push(char::from(b'0' + octet / 10 % 10));
                }
                s.push(char::from(b'0' + octet % 10));
            }
            s
        }
        IpAddr::V6(_) => ip.to_string(),
    }
}

/// An address's text on the stack, for rows that borrow it: the longest IPv6 text is 45
/// bytes (`ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct IpText {
    buf: [u8; 48],
    len: usize,
}

impl IpText {
    /// The text of `ip`, as [`ip_text`] writes it.
    pub(crate) fn new(ip: IpAddr) -> Self {
        let mut out = Self {
            buf: [0; 48],
            len: 0,
        };
        match ip {
            IpAddr::V4(v4) => {
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        out.push(b'.');
                    }
                    if octet >= 100 {
                        out.push(b'0' + octet / 100);
                    }
                    if octet >= 10 {
                        out.push(b'0' + octet / 10 % 10);
                    }
                    out.push(b'0' + octet % 10);
                }
            }
            IpAddr::V6(_) => {
                use std::io::Write;
                let mut cursor = std::io::Cursor::new(&mut out.buf[..]);
                // Cannot fail: the buffer holds the longest text.
                let _ = write!(cursor, "{ip}");
                out.len = usize::try_from(cursor.position()).unwrap_or(0);
            }
        }
        out
    }

    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    /// The text.
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(self.buf.get(..self.len).unwrap_or_default()).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases = [
            ("81.2.69.142", "81.2.69.0"),
            ("10.0.0.255", "10.0.0.0"),
            ("0.0.0.0", "0.0.0.0"),
            ("255.255.255.255", "255.255.255.0"),
            ("2001:db8:1:2:3:4:5:6", "2001:db8:1::"),
            ("2001:db8:ffff:ffff::1", "2001:db8:ffff::"),
            ("::1", "::"),
            ("::ffff:89.160.20.7", "89.160.20.0"),
        ];
        for (ip, want) in cases {
            let ip: IpAddr = ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            assert_eq!(truncate_ip(ip).to_string(), want, "{ip}");
        }
    }

    #[test]
    fn ip_text_matches_display() {
        for ip in [
            "0.0.0.0",
            "1.2.3.4",
            "10.20.30.40",
            "100.200.250.255",
            "9.99.100.109",
            "2001:db8::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            assert_eq!(ip_text(ip), ip.to_string());
            assert_eq!(IpText::new(ip).as_str(), ip.to_string());
        }
        for n in 0..=255u8 {
            let ip = IpAddr::V4(Ipv4Addr::new(n, n, 0, n));
            assert_eq!(ip_text(ip), ip.to_string());
            assert_eq!(IpText::new(ip).as_str(), ip.to_string());
        }
        let longest: IpAddr = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
            .parse()
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(IpText::new(longest).as_str(), longest.to_string());
    }
}
