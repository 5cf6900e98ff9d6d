//! The collector's one typed config: read from env (over an optional `--config` TOML file),
//! every bad key reported at once.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use common::ch::ChSettings;
use common::config::{ConfigErrors, Reader, Source};
use common::token::{Keyring, LINK_KEYS_FORM};
use ipnet::IpNet;

/// Everything the collector needs to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Public listener for hits (`COLLECTOR_LISTEN`).
    pub listen: SocketAddr,
    /// Ops listener for `/metrics`, `/healthz`, `/readyz` (`COLLECTOR_OPS_LISTEN`).
    pub ops_listen: SocketAddr,
    /// Where hits are written (`CLICKHOUSE_*`).
    pub clickhouse: ChSettings,
    /// MaxMind City database; `None` means hits carry no geo fields (`GEOIP_CITY_DB`).
    pub geoip_city_db: Option<PathBuf>,
    /// Keys that verify `/r`, `/o` and person tokens (`LINK_KEYS`); `None` refuses every token.
    pub link_keys: Option<Keyring>,
    /// Peers whose `X-Forwarded-For` is believed (`COLLECTOR_TRUSTED_PROXIES`).
    pub trusted_proxies: Vec<IpNet>,
    /// Folder of the on-disk spool and its quarantine (`COLLECTOR_SPOOL_DIR`).
    pub spool_dir: PathBuf,
    /// Hits the in-memory queue holds before beacons get 503 (`COLLECTOR_QUEUE_CAPACITY`).
    pub queue_capacity: usize,
    /// Rows that close a batch early (`COLLECTOR_BATCH_ROWS`).
    pub batch_rows: usize,
    /// Longest a hit waits in a forming batch (`COLLECTOR_BATCH_INTERVAL_MS`).
    pub batch_interval: Duration,
    /// Upper bound of the spool on disk (`COLLECTOR_SPOOL_MAX_BYTES`).
    pub spool_max_bytes: u64,
    /// An insert slower than this counts as ClickHouse being slow; its batch is spooled
    /// (`COLLECTOR_INSERT_TIMEOUT_MS`).
    pub insert_timeout: Duration,
    /// How long shutdown may take before whatever is left is spooled (`COLLECTOR_DRAIN_GRACE_S`).
    pub drain_grace: Duration,
    /// A client must send its request headers within this (`COLLECTOR_HEADER_TIMEOUT_MS`).
    pub header_timeout: Duration,
    /// Open public connections at most; more wait in the kernel backlog
    /// (`COLLECTOR_MAX_CONNECTIONS`).
    pub max_connections: usize,
    /// Name of this replica, stored on every hit (`COLLECTOR_REPLICA`, default the host name).
    pub replica: String,
    /// Entries of the user-agent parse cache (`COLLECTOR_UA_CACHE`).
    pub ua_cache_capacity: usize,
    /// How often the consent and identity directory reloads from ClickHouse
    /// (`COLLECTOR_DIRECTORY_REFRESH_MS`, at most 30 s so a withdrawal lands within 60 s).
    pub directory_refresh: Duration,
}

impl Config {
    /// Reads every setting from `src`, returning all errors together.
    pub fn from_source(src: &dyn Source) -> Result<Self, ConfigErrors> {
        let mut r = Reader::new(src);
        let listen = r.socket_addr("COLLECTOR_LISTEN", "127.0.0.1:8080");
        let ops_listen = r.socket_addr("COLLECTOR_OPS_LISTEN", "127.0.0.1:9100");
        let clickhouse = ChSettings::read(&mut r);
        let geoip_city_db = r.optional("GEOIP_CITY_DB").map(PathBuf::from);
        let link_keys = match r.optional("LINK_KEYS") {
            None => None,
            Some(raw) => {
                let parsed = Keyring::parse(&raw);
                if parsed.is_none() {
                    // Never echo secrets back into logs.
                    r.errors.push("LINK_KEYS", "(hidden)", LINK_KEYS_FORM);
                }
                parsed
            }
        };
        let trusted_proxies = r.parse(
            "COLLECTOR_TRUSTED_PROXIES",
            Vec::new(),
            "a comma list of CIDR networks or addresses, like 10.0.0.0/8,127.0.0.1",
            parse_cidrs,
        );
        let spool_dir = PathBuf::from(r.string("COLLECTOR_SPOOL_DIR", ".data/spool"));
        let queue_capacity = r.number("COLLECTOR_QUEUE_CAPACITY", 100_000, 100, 10_000_000);
        let batch_rows = r.number("COLLECTOR_BATCH_ROWS", 10_000, 1, 1_000_000);
        let batch_interval = r.number("COLLECTOR_BATCH_INTERVAL_MS", 1_000, 10, 60_000);
        let spool_max_bytes = r.number("COLLECTOR_SPOOL_MAX_BYTES", 1 << 30, 1 << 16, 1 << 40);
        let insert_timeout = r.number("COLLECTOR_INSERT_TIMEOUT_MS", 5_000, 100, 300_000);
        let drain_grace = r.number("COLLECTOR_DRAIN_GRACE_S", 20, 1, 3_600);
        let header_timeout = r.number("COLLECTOR_HEADER_TIMEOUT_MS", 5_000, 100, 120_000);
        let max_connections = r.number("COLLECTOR_MAX_CONNECTIONS", 10_000, 1, 1_000_000);
        let replica = r.parse(
            "COLLECTOR_REPLICA",
            default_replica(),
            "1-64 of [A-Za-z0-9._-]",
            |s| valid_replica(s).then(|| s.to_string()),
        );
        let ua_cache_capacity = r.number("COLLECTOR_UA_CACHE", 10_000, 0, 10_000_000);
        let directory_refresh = r.number("COLLECTOR_DIRECTORY_REFRESH_MS", 15_000, 100, 30_000);
        let cfg = Self {
            listen,
            ops_listen,
            clickhouse,
            geoip_city_db,
            link_keys,
            trusted_proxies,
            spool_dir,
            queue_capacity: queue_capacity as usize,
            batch_rows: batch_rows as usize,
            batch_interval: Duration::from_millis(batch_interval),
            spool_max_bytes,
            insert_timeout: Duration::from_millis(insert_timeout),
            drain_grace: Duration::from_secs(drain_grace),
            header_timeout: Duration::from_millis(header_timeout),
            max_connections: max_connections as usize,
            replica,
            ua_cache_capacity: ua_cache_capacity as usize,
            directory_refresh: Duration::from_millis(directory_refresh),
        };
        r.errors.into_result(cfg)
    }
}

fn parse_cidrs(s: &str) -> Option<Vec<IpNet>> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<IpNet>()
                .ok()
                .or_else(|| p.parse::<std::net::IpAddr>().ok().map(IpNet::from))
        })
        .collect()
}

fn valid_replica(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The host name when it is a valid replica name, else `collector`.
fn default_replica() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| valid_replica(h))
        .unwrap_or_else(|| "collector".into())
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
    fn defaults() {
        let c = Config::from_source(&src(&[])).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.ops_listen.to_string(), "127.0.0.1:9100");
        assert_eq!(c.batch_rows, 10_000);
        assert_eq!(c.batch_interval, Duration::from_secs(1));
        assert_eq!(c.spool_dir, PathBuf::from(".data/spool"));
        assert!(c.trusted_proxies.is_empty());
        assert!(c.link_keys.is_none() && c.geoip_city_db.is_none());
    }

    #[test]
    fn every_bad_key_is_reported_and_secrets_hidden() {
        let s = src(&[
            ("COLLECTOR_LISTEN", "nope"),
            ("CLICKHOUSE_URL", "ftp://x"),
            ("LINK_KEYS", "k1:short-secret"),
            ("COLLECTOR_TRUSTED_PROXIES", "10.0.0.0/8, banana"),
            ("COLLECTOR_BATCH_ROWS", "0"),
            ("COLLECTOR_REPLICA", "has space"),
        ]);
        let e = Config::from_source(&s).err().unwrap_or_default();
        let keys: Vec<&str> = e.0.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "COLLECTOR_LISTEN",
                "CLICKHOUSE_URL",
                "LINK_KEYS",
                "COLLECTOR_TRUSTED_PROXIES",
                "COLLECTOR_BATCH_ROWS",
                "COLLECTOR_REPLICA"
            ]
        );
        assert!(!e.to_string().contains("short-secret"));
    }

    #[test]
    fn proxies_accept_bare_addresses() {
        let c = Config::from_source(&src(&[(
            "COLLECTOR_TRUSTED_PROXIES",
            "127.0.0.1, 10.0.0.0/8,::1",
        )]))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.trusted_proxies.len(), 3);
        assert!(c.trusted_proxies[0].contains(
            &"127.0.0.1"
                .parse::<std::net::IpAddr>()
                .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into())
        ));
    }
}
