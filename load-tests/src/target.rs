//! Where traffic may go: loopback only. Every address the generator talks to (the collector,
//! its ops port, ClickHouse) passes through here, so a typo can never aim load elsewhere.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// An address the generator refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    /// Not `host:port` / not a URL we can read.
    #[error("{0:?} is not host:port or an http:// URL")]
    Unparsable(String),
    /// Resolves (also) to something outside 127.0.0.0/8 and ::1.
    #[error("{0:?} is not a loopback address (only 127.0.0.0/8 and [::1] are allowed)")]
    NotLoopback(String),
}

/// Reads `127.0.0.1:8080`, `[::1]:8080` or `localhost:8080`, refusing anything that is not
/// loopback. Every resolved address must be loopback, not just the first.
pub fn loopback_addr(s: &str) -> Result<SocketAddr, TargetError> {
    let addrs: Vec<SocketAddr> = s
        .to_socket_addrs()
        .map_err(|_| TargetError::Unparsable(s.to_string()))?
        .collect();
    if addrs.is_empty() {
        return Err(TargetError::Unparsable(s.to_string()));
    }
    if addrs.iter().any(|a| !is_loopback(a.ip())) {
        return Err(TargetError::NotLoopback(s.to_string()));
    }
    // Prefer IPv4 when localhost resolves to both, so results do not depend on resolver order.
    let v4 = addrs.iter().find(|a| a.is_ipv4()).copied();
    Ok(v4.unwrap_or(addrs[0]))
}

/// Checks an `http://host:port/...` URL the same way and returns it unchanged.
pub fn loopback_url(s: &str) -> Result<String, TargetError> {
    let u = url::Url::parse(s).map_err(|_| TargetError::Unparsable(s.to_string()))?;
    if u.scheme() != "http" {
        return Err(TargetError::Unparsable(s.to_string()));
    }
    let host = match u.host() {
        Some(url::Host::Ipv6(a)) => format!("[{a}]"),
        Some(h) => h.to_string(),
        None => return Err(TargetError::Unparsable(s.to_string())),
    };
    let port = u.port_or_known_default().unwrap_or(80);
    loopback_addr(&format!("{host}:{port}"))?;
    Ok(s.trim_end_matches('/').to_string())
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_loopback(),
        IpAddr::V6(a) => a.is_loopback() || a.to_ipv4_mapped().is_some_and(|m| m.is_loopback()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_loopback_forms() {
        assert_eq!(loopback_addr("127.0.0.1:8080").map(|a| a.port()), Ok(8080));
        assert!(loopback_addr("127.3.4.5:1").is_ok());
        assert!(loopback_addr("[::1]:9000").is_ok());
        assert!(loopback_addr("localhost:80").is_ok());
        assert!(loopback_url("http://127.0.0.1:8123").is_ok());
        assert!(loopback_url("http://[::1]:9100/metrics").is_ok());
    }

    #[test]
    fn refuses_everything_else() {
        for s in [
            "10.0.0.1:80",
            "192.168.1.1:80",
            "172.16.0.1:80",
            "8.8.8.8:53",
            "0.0.0.0:80",
            "[::]:80",
            "[2001:db8::1]:80",
        ] {
            assert_eq!(
                loopback_addr(s),
                Err(TargetError::NotLoopback(s.into())),
                "{s}"
            );
        }
        assert!(matches!(
            loopback_addr("no port"),
            Err(TargetError::Unparsable(_))
        ));
        assert!(loopback_url("http://10.1.2.3:8123").is_err());
        assert!(loopback_url("https://127.0.0.1:8123").is_err());
        assert!(loopback_url("ftp://127.0.0.1/").is_err());
    }
}
