//! Command-line flags of `loadgen`. Every bad flag is reported at once, naming the flag and the
//! expected form; every address must be loopback.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use common::ch::{valid_identifier, ChSettings};

use crate::drive::Pace;
use crate::metrics::Selector;
use crate::target::{loopback_addr, loopback_url};

/// The counter of hits the collector dropped on purpose (queue and spool full), over every
/// route: pixel drops are this minus the hits of beacons answered 503. Override with
/// `--drop-metric`.
pub const DEFAULT_DROP_METRIC: &str = "collector_hits_dropped_total{cause=\"intentional\"}";

/// Help text (also the flag reference in BENCHMARKS.md).
pub const USAGE: &str = "\
loadgen: bounded pixel/beacon load against a collector on loopback, then a ClickHouse count check

  --target ADDR          collector public address, loopback only      [127.0.0.1:8080]
  --mode max|rate        closed loop as fast as answers come / open loop at --rate  [max]
  --rate N               requests per second in rate mode (latency measured from due time)
  --connections N        workers, one keep-alive connection each      [16]
  --duration SECS        stop sending after this long                 [10]
  --max-requests N       stop sending after this many requests        [1000000]
  --timeout-ms N         per request; unanswered = unknown outcome     [5000]
  --beacon-share F       fraction of requests that are POST /e        [0.2]
  --max-batch N          beacon array size is 1..=N                   [20]
  --invalid-share F      fraction of pixels made invalid on purpose   [0]
  --site ID              run id sent as `s` (rows are counted by it)  [load-<time>-<rand>]
  --seed N               traffic seed                                 [from the clock]
  --clickhouse-url URL   loopback ClickHouse HTTP  [$CLICKHOUSE_URL or http://127.0.0.1:8123]
  --clickhouse-database DB                    [$CLICKHOUSE_DATABASE or tracking]
  --no-reconcile         skip the ClickHouse check (e.g. against the bare server)
  --settle-timeout SECS  how long to wait for rows to land            [60]
  --allow-loss           report accepted-but-missing hits instead of failing (SIGKILL)
  --migrate-only         create/migrate the ClickHouse database and exit
  --check-only N         send nothing; check that --site holds exactly N accepted hits
                         (for traffic sent by another tool, e.g. wrk)
  --unknown N            with --check-only: hits whose outcome is unknown (in flight at the end)
  --metrics-url URL      collector /metrics, scraped every second for intentional drops
  --drop-metric SEL      counter of hits dropped on purpose, all routes; pixel drops are it
                         minus the hits of 503'd beacons [collector_hits_dropped_total{cause=\"intentional\"}]
  --watch-pid PID        sample this process's RSS every 250 ms
  --watch-pidfile FILE   same, re-reading the pid (follows restarts)
  --window SECS          p99 per window of this length                [10]
  --json FILE            write the full report as JSON
  --series FILE          write 2xx latency per 100 ms of due time as CSV (Unix ms, count,
                         p50/p99/max ms), to line stalls up with ClickHouse's logs
Exit: 0 all good, 1 counts or answers wrong, 64 bad flags.";

/// Parsed flags.
#[derive(Debug, Clone)]
pub struct Flags {
    /// Collector public address.
    pub target: SocketAddr,
    /// Open or closed loop.
    pub pace: Pace,
    /// Workers / connections.
    pub connections: usize,
    /// Time bound.
    pub duration: Duration,
    /// Count bound.
    pub max_requests: u64,
    /// Per-request bound.
    pub timeout: Duration,
    /// Share of beacons.
    pub beacon_share: f64,
    /// Largest beacon array.
    pub max_batch: u32,
    /// Share of invalid pixels.
    pub invalid_share: f64,
    /// Run id.
    pub site: String,
    /// Traffic seed.
    pub seed: u64,
    /// Where to reconcile; None with `--no-reconcile`.
    pub clickhouse: Option<ChSettings>,
    /// Bound on waiting for rows.
    pub settle_timeout: Duration,
    /// Measure loss instead of failing on it.
    pub allow_loss: bool,
    /// Collector `/metrics`.
    pub metrics_url: Option<String>,
    /// Counter of intentional pixel drops.
    pub drop_metric: Selector,
    /// Process whose RSS to sample.
    pub watch: Option<crate::rss::Watched>,
    /// Window for per-window percentiles.
    pub window_s: u32,
    /// Report file.
    pub json: Option<PathBuf>,
    /// Latency series file (per 100 ms).
    pub series: Option<PathBuf>,
    /// Only create/migrate the database.
    pub migrate_only: bool,
    /// Only reconcile: the site must hold this many accepted hits.
    pub check_only: Option<u64>,
    /// With `check_only`: hits whose outcome is unknown.
    pub unknown: u64,
}

/// Parses `args` (without the program name); `env` gives `CLICKHOUSE_URL`/`_DATABASE`.
/// `Ok(None)` means `--help` was asked for.
pub fn parse(
    args: &[String],
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<Flags>, Vec<String>> {
    let mut errors = Vec::new();
    let mut map = std::collections::HashMap::<&str, &str>::new();
    let mut switches = std::collections::HashSet::<&str>::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-h" | "--help" => return Ok(None),
            "--no-reconcile" | "--allow-loss" | "--migrate-only" => {
                switches.insert(a.as_str());
            }
            f if f.starts_with("--") && VALUED.contains(&f) => match it.next() {
                Some(v) => {
                    map.insert(f, v.as_str());
                }
                None => errors.push(format!("{f}: needs a value")),
            },
            other => errors.push(format!("{other}: unknown flag (see --help)")),
        }
    }
    let mut num = |flag: &str, default: f64, min: f64, max: f64| -> f64 {
        match map.get(flag) {
            None => default,
            Some(v) => match v.parse::<f64>() {
                Ok(n) if n >= min && n <= max && n.is_finite() => n,
                _ => {
                    errors.push(format!("{flag}: {v:?} is not a number in [{min}, {max}]"));
                    default
                }
            },
        }
    };
    let connections = num("--connections", 16.0, 1.0, 4096.0) as usize;
    let duration = Duration::from_secs_f64(num("--duration", 10.0, 0.1, 86_400.0));
    let max_requests = num("--max-requests", 1_000_000.0, 1.0, 100_000_000.0) as u64;
    let timeout = Duration::from_millis(num("--timeout-ms", 5000.0, 1.0, 600_000.0) as u64);
    let beacon_share = num("--beacon-share", 0.2, 0.0, 1.0);
    let max_batch = num("--max-batch", 20.0, 1.0, 100.0) as u32;
    let invalid_share = num("--invalid-share", 0.0, 0.0, 1.0);
    let settle_timeout = Duration::from_secs_f64(num("--settle-timeout", 60.0, 0.0, 3600.0));
    let window_s = num("--window", 10.0, 1.0, 3600.0) as u32;
    let rate = num("--rate", 0.0, 0.0, 10_000_000.0);
    let seed = num("--seed", 0.0, 0.0, 9.0e15) as u64;
    let check_only = num("--check-only", 0.0, 0.0, 1.0e12) as u64;
    let unknown = num("--unknown", 0.0, 0.0, 1.0e12) as u64;
    let pace = match map.get("--mode").copied().unwrap_or("max") {
        "max" => Pace::Max,
        "rate" if rate > 0.0 => Pace::Rate(rate),
        "rate" => {
            errors.push("--rate: rate mode needs --rate N with N > 0".into());
            Pace::Max
        }
        m => {
            errors.push(format!("--mode: {m:?} is not max or rate"));
            Pace::Max
        }
    };
    let target = match loopback_addr(map.get("--target").copied().unwrap_or("127.0.0.1:8080")) {
        Ok(a) => Some(a),
        Err(e) => {
            errors.push(format!("--target: {e}"));
            None
        }
    };
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let site = map.get("--site").map(|s| s.to_string()).unwrap_or_else(|| {
        format!(
            "load-{}-{:04x}",
            clock.as_secs(),
            clock.subsec_nanos() & 0xffff
        )
    });
    let site_ok = !site.is_empty()
        && site.len() <= 64
        && site
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !site_ok {
        errors.push(format!("--site: {site:?} is not 1-64 of [A-Za-z0-9._-]"));
    }
    let clickhouse = if switches.contains("--no-reconcile") {
        None
    } else {
        let url = map
            .get("--clickhouse-url")
            .map(|s| s.to_string())
            .or_else(|| env("CLICKHOUSE_URL"))
            .unwrap_or_else(|| "http://127.0.0.1:8123".into());
        let database = map
            .get("--clickhouse-database")
            .map(|s| s.to_string())
            .or_else(|| env("CLICKHOUSE_DATABASE"))
            .unwrap_or_else(|| "tracking".into());
        if !valid_identifier(&database) {
            errors.push(format!(
                "--clickhouse-database: {database:?} is not a plain identifier"
            ));
        }
        match loopback_url(&url) {
            Ok(url) => Some(ChSettings {
                url,
                database,
                ..ChSettings::default()
            }),
            Err(e) => {
                errors.push(format!("--clickhouse-url: {e}"));
                None
            }
        }
    };
    let metrics_url = map
        .get("--metrics-url")
        .and_then(|u| match loopback_url(u) {
            Ok(u) => Some(u),
            Err(e) => {
                errors.push(format!("--metrics-url: {e}"));
                None
            }
        });
    let drop_metric = match map
        .get("--drop-metric")
        .copied()
        .unwrap_or(DEFAULT_DROP_METRIC)
        .parse()
    {
        Ok(s) => s,
        Err(e) => {
            errors.push(format!("--drop-metric: {e}"));
            Selector {
                name: "invalid".into(),
                labels: vec![],
            }
        }
    };
    let watch = match (map.get("--watch-pid"), map.get("--watch-pidfile")) {
        (Some(p), _) => match p.parse() {
            Ok(p) => Some(crate::rss::Watched::Pid(p)),
            Err(_) => {
                errors.push(format!("--watch-pid: {p:?} is not a pid"));
                None
            }
        },
        (None, Some(f)) => Some(crate::rss::Watched::PidFile(PathBuf::from(f))),
        (None, None) => None,
    };
    match (errors.is_empty(), target) {
        (true, Some(target)) => Ok(Some(Flags {
            target,
            pace,
            connections,
            duration,
            max_requests,
            timeout,
            beacon_share,
            max_batch,
            invalid_share,
            site,
            seed: if map.contains_key("--seed") {
                seed
            } else {
                clock.as_nanos() as u64
            },
            clickhouse,
            settle_timeout,
            allow_loss: switches.contains("--allow-loss"),
            metrics_url,
            drop_metric,
            watch,
            window_s,
            json: map.get("--json").map(PathBuf::from),
            series: map.get("--series").map(PathBuf::from),
            migrate_only: switches.contains("--migrate-only"),
            check_only: map.contains_key("--check-only").then_some(check_only),
            unknown,
        })),
        _ => Err(errors),
    }
}

const VALUED: &[&str] = &[
    "--target",
    "--mode",
    "--rate",
    "--connections",
    "--duration",
    "--max-requests",
    "--timeout-ms",
    "--beacon-share",
    "--max-batch",
    "--invalid-share",
    "--site",
    "--seed",
    "--clickhouse-url",
    "--clickhouse-database",
    "--settle-timeout",
    "--metrics-url",
    "--drop-metric",
    "--watch-pid",
    "--watch-pidfile",
    "--window",
    "--json",
    "--series",
    "--check-only",
    "--unknown",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn defaults_and_values() {
        let f = parse(
            &args("--mode rate --rate 500 --site run.1 --no-reconcile"),
            |_| None,
        )
        .expect("parses")
        .expect("not help");
        assert_eq!(f.pace, Pace::Rate(500.0));
        assert_eq!(f.site, "run.1");
        assert!(f.clickhouse.is_none());
        assert_eq!(f.target.to_string(), "127.0.0.1:8080");
        let f = parse(&[], |k| {
            (k == "CLICKHOUSE_DATABASE").then(|| "db_x".to_string())
        })
        .expect("parses")
        .expect("not help");
        assert_eq!(f.clickhouse.map(|c| c.database), Some("db_x".to_string()));
        assert!(f.site.starts_with("load-"));
    }

    #[test]
    fn every_error_is_reported_at_once() {
        let e = parse(
            &args("--target 10.0.0.5:80 --rate x --mode rate --site a/b --clickhouse-url http://8.8.8.8:8123 --bogus"),
            |_| None,
        )
        .expect_err("refused");
        let all = e.join("\n");
        for flag in [
            "--target",
            "--rate",
            "--site",
            "--clickhouse-url",
            "--bogus",
        ] {
            assert!(all.contains(flag), "{flag} missing in {all}");
        }
    }

    #[test]
    fn help() {
        assert!(parse(&args("--help"), |_| None).expect("ok").is_none());
    }
}
