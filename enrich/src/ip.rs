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
}
