//! The aggregator's typed config, read from any `common::config::Source` (env over an optional
//! TOML file in the binary, a map in tests) with every bad key reported at once.

use std::net::SocketAddr;

use common::ch::ChSettings;
use common::config::{ConfigErrors, Reader, Source};
use common::token::{Keyring, LINK_KEYS_FORM};

/// Everything the aggregator needs to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the API and `/metrics` listen (`AGGREGATOR_LISTEN`).
    pub listen: SocketAddr,
    /// The ClickHouse database the aggregator owns (`CLICKHOUSE_*`).
    pub clickhouse: ChSettings,
    /// Signs click, open and person tokens with the first key (`LINK_KEYS`).
    pub keys: Keyring,
    /// The bearer token every `/api/` request must carry (`ADMIN_TOKEN`).
    pub admin_token: String,
    /// Seconds between metric job runs (`AGGREGATOR_REFRESH_S`).
    pub refresh_s: u64,
    /// The collector's public origin, the prefix of every signed URL (`AGGREGATOR_PUBLIC_URL`).
    pub public_url: String,
    /// Largest request body accepted, bytes (`AGGREGATOR_MAX_BODY_BYTES`); more is a 413.
    pub max_body_bytes: usize,
    /// Lifetime of a signed click or open link, days (`AGGREGATOR_LINK_TTL_DAYS`, 0 = forever).
    pub link_ttl_days: u64,
    /// Lifetime of a person token for `identify`, seconds (`AGGREGATOR_PERSON_TOKEN_TTL_S`).
    pub person_token_ttl_s: u64,
    /// Longest a GDPR erasure waits for its ClickHouse mutations (`AGGREGATOR_ERASE_TIMEOUT_S`).
    pub erase_timeout_s: u64,
    /// How long in-flight requests may finish after shutdown begins (`AGGREGATOR_GRACE_S`).
    pub grace_s: u64,
    /// Cluster mode: the HTTP URL of every ClickHouse node, where GDPR erasure runs its
    /// mutations (`AGGREGATOR_CLICKHOUSE_NODES`, comma list); empty = the hosts of
    /// `system.clusters` at the scheme and port of `CLICKHOUSE_URL`. Unused on a single node.
    pub clickhouse_nodes: Vec<String>,
}

/// What `ADMIN_TOKEN` must look like.
const ADMIN_TOKEN_FORM: &str = "at least 16 printable ASCII characters without spaces";

impl Config {
    /// Reads every key; on any bad key returns all of them.
    pub fn from_source(src: &dyn Source) -> Result<Self, ConfigErrors> {
        let mut r = Reader::new(src);
        let listen = r.socket_addr("AGGREGATOR_LISTEN", "127.0.0.1:8090");
        let clickhouse = ChSettings::read(&mut r);
        let keys = match r.optional("LINK_KEYS") {
            Some(raw) => Keyring::parse(&raw).or_else(|| {
                r.errors.push("LINK_KEYS", &mask(&raw), LINK_KEYS_FORM);
                None
            }),
            None => {
                r.errors.push("LINK_KEYS", "", LINK_KEYS_FORM);
                None
            }
        };
        let admin_token = r.string("ADMIN_TOKEN", "");
        let token_ok = admin_token.len() >= 16 && admin_token.bytes().all(|b| b.is_ascii_graphic());
        if !token_ok {
            r.errors
                .push("ADMIN_TOKEN", &mask(&admin_token), ADMIN_TOKEN_FORM);
        }
        let refresh_s = r.number("AGGREGATOR_REFRESH_S", 60, 1, 86_400);
        let public_url = r.parse(
            "AGGREGATOR_PUBLIC_URL",
            "http://127.0.0.1:8080".to_string(),
            "an absolute http(s) origin like https://t.example.com (no query or fragment)",
            parse_origin,
        );
        let max_body_bytes =
            r.number("AGGREGATOR_MAX_BODY_BYTES", 16 << 20, 1024, 1 << 30) as usize;
        let link_ttl_days = r.number("AGGREGATOR_LINK_TTL_DAYS", 730, 0, 36_500);
        let person_token_ttl_s = r.number(
            "AGGREGATOR_PERSON_TOKEN_TTL_S",
            30 * 86_400,
            60,
            400 * 86_400,
        );
        let erase_timeout_s = r.number("AGGREGATOR_ERASE_TIMEOUT_S", 300, 1, 86_400);
        let grace_s = r.number("AGGREGATOR_GRACE_S", 10, 0, 600);
        let clickhouse_nodes = r.parse(
            "AGGREGATOR_CLICKHOUSE_NODES",
            Vec::new(),
            "a comma list of http:// or https:// URLs, one per ClickHouse node",
            parse_url_list,
        );
        let errors = std::mem::take(&mut r.errors);
        match keys {
            Some(keys) if errors.0.is_empty() => Ok(Self {
                listen,
                clickhouse,
                keys,
                admin_token,
                refresh_s,
                public_url,
                max_body_bytes,
                link_ttl_days,
                person_token_ttl_s,
                erase_timeout_s,
                grace_s,
                clickhouse_nodes,
            }),
            _ => Err(errors),
        }
    }
}

/// `http(s)://host[:port][/prefix]` without a trailing slash, query or fragment.
fn parse_origin(s: &str) -> Option<String> {
    let u = url::Url::parse(s).ok()?;
    let ok = matches!(u.scheme(), "http" | "https")
        && u.host().is_some()
        && u.query().is_none()
        && u.fragment().is_none()
        && u.username().is_empty();
    ok.then(|| s.trim_end_matches('/').to_string())
}

/// `url, url, …` of http(s) URLs without query or fragment, trailing slashes dropped; empty
/// means none.
fn parse_url_list(s: &str) -> Option<Vec<String>> {
    s.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(|u| {
            let parsed = url::Url::parse(u).ok()?;
            let ok = matches!(parsed.scheme(), "http" | "https")
                && parsed.host().is_some()
                && parsed.query().is_none()
                && parsed.fragment().is_none();
            ok.then(|| u.trim_end_matches('/').to_string())
        })
        .collect()
}

/// Secrets never reach a log or an error message whole.
fn mask(secret: &str) -> String {
    if secret.is_empty() {
        String::new()
    } else {
        format!("<{} characters, hidden>", secret.chars().count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn src(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_with_the_two_secrets() {
        let c = Config::from_source(&src(&[
            ("LINK_KEYS", "k1:0123456789abcdef"),
            ("ADMIN_TOKEN", "admin-token-0123456789"),
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.listen.to_string(), "127.0.0.1:8090");
        assert_eq!(c.refresh_s, 60);
        assert_eq!(c.public_url, "http://127.0.0.1:8080");
        assert_eq!(c.clickhouse.database, "tracking");
        assert_eq!(c.keys.signing_kid(), "k1");
    }

    #[test]
    fn every_bad_key_is_reported_and_secrets_are_masked() {
        let e = Config::from_source(&src(&[
            ("AGGREGATOR_LISTEN", "nowhere"),
            ("LINK_KEYS", "k1:short"),
            ("ADMIN_TOKEN", "tiny"),
            ("AGGREGATOR_REFRESH_S", "0"),
            ("AGGREGATOR_PUBLIC_URL", "javascript:alert(1)"),
            ("CLICKHOUSE_URL", "ftp://x"),
        ]))
        .err()
        .unwrap_or_default();
        let keys: Vec<&str> = e.0.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "AGGREGATOR_LISTEN",
                "CLICKHOUSE_URL",
                "LINK_KEYS",
                "ADMIN_TOKEN",
                "AGGREGATOR_REFRESH_S",
                "AGGREGATOR_PUBLIC_URL"
            ]
        );
        let text = e.to_string();
        assert!(!text.contains("k1:short"), "{text}");
        assert!(!text.contains("tiny"), "{text}");
    }

    #[test]
    fn clickhouse_nodes_are_a_url_list() {
        let base = [
            ("LINK_KEYS", "k1:0123456789abcdef"),
            ("ADMIN_TOKEN", "admin-token-0123456789"),
        ];
        let with = |v: &str| {
            let mut pairs = base.to_vec();
            pairs.push(("AGGREGATOR_CLICKHOUSE_NODES", v));
            Config::from_source(&src(&pairs))
        };
        let c = with(" http://ch-0:8123/ , https://ch-1:8443").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.clickhouse_nodes,
            ["http://ch-0:8123", "https://ch-1:8443"]
        );
        let none = Config::from_source(&src(&base)).unwrap_or_else(|e| panic!("{e}"));
        assert!(none.clickhouse_nodes.is_empty());
        let bad = with("http://ch-0:8123,ftp://ch-1")
            .err()
            .map(|e| e.to_string());
        assert!(bad
            .unwrap_or_default()
            .contains("AGGREGATOR_CLICKHOUSE_NODES"));
    }

    #[test]
    fn missing_secrets_are_errors() {
        let e = Config::from_source(&src(&[])).err().unwrap_or_default();
        let keys: Vec<&str> = e.0.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["LINK_KEYS", "ADMIN_TOKEN"]);
    }
}
