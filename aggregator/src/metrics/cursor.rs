//! The change feed's cursor: an opaque, URL-safe token for the position (first_seen, ts_ms,
//! activity_id) of the last activity a client has seen. Clients only echo it back.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// A position in the feed; the default is before everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    /// Generation that first produced the activity.
    pub first_seen: u64,
    /// When it happened, Unix ms.
    pub ts_ms: u64,
    /// Its id within the generation order.
    pub activity_id: u64,
}

impl Cursor {
    /// The token.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "v1.{}.{}.{}",
            self.first_seen, self.ts_ms, self.activity_id
        ))
    }

    /// Reads a token; `None` for anything this server did not make.
    pub fn decode(token: &str) -> Option<Self> {
        if token.len() > 128 {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(token).ok()?;
        let text = std::str::from_utf8(&raw).ok()?;
        let mut parts = text.split('.');
        if parts.next()? != "v1" {
            return None;
        }
        let mut next = || parts.next().and_then(|p| p.parse::<u64>().ok());
        let c = Self {
            first_seen: next()?,
            ts_ms: next()?,
            activity_id: next()?,
        };
        parts.next().is_none().then_some(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_junk() {
        let c = Cursor {
            first_seen: 1_764_000_000_000_000,
            ts_ms: 1_764_000_000_123,
            activity_id: u64::MAX,
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        for bad in [
            "",
            "!!",
            "djEuMS4y",
            "djIuMS4yLjM",
            "djEuMS4yLjMuNA",
            &"A".repeat(200),
        ] {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
    }
}
