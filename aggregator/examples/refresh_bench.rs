//! Benchmark of the metric jobs and the metric API on generated data, against a private
//! ClickHouse server (testkit, free loopback port, temp dir):
//!
//! ```sh
//! cargo run --release -p aggregator --example refresh_bench [-- HITS]   # default 10 000 000
//! ```
//!
//! Generates HITS hits over 30 days on the server (INSERT … SELECT from numbers()), times a
//! full recompute of every job, then a one-minute increment (the hits of one minute arriving
//! on the last day), a refresh with nothing new, a late replay of a minute into day 3, then
//! the p50/p99 latency of each metric endpoint over sequential calls.
//! Prints a Markdown table for BENCHMARKS.md.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aggregator::api::AppState;
use aggregator::metrics::jobs::{self, Job};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "bench-admin-token-0123456789";
/// 2026-01-01 00:00 UTC.
const BASE_S: u64 = 1_767_225_600;
const VISITORS: u64 = 300_000;

/// Hits over 30 days: 300 000 visitors on 5 sites, sessions of six hits 40 s apart with a 2 h
/// break between sessions, pageviews on 200 paths, pings, signup events; every 50th visitor
/// is a known person whose first two hits are an open and a click of one of 20 mailings.
const GENERATE: &str = "
INSERT INTO hits (event_id, received_at, ts_ms, site, type, path, visitor_id, person_id,
                  account_id, consent, mailing_id, link_id, verdict, event_name, replica)
SELECT generateUUIDv4(), toDateTime(intDiv(ts, 1000)), ts,
       concat('s', toString(v % 5)), ty,
       concat('/p', toString(intHash32(n) % 200)),
       concat('v', toString(v)),
       if(v % 50 = 0, concat('p', toString(v)), ''),
       if(v % 50 = 0, concat('a', toString(v % 97)), ''),
       toUInt8(v % 50 = 0),
       if(ty IN ('open', 'click'), concat('m', toString(intDiv(v, 50) % 20)), ''),
       if(ty = 'click', concat('l', toString(n % 3)), ''),
       if(ty IN ('open', 'click'), if(n % 4 = 0, 'apple_mpp', 'human'), ''),
       if(ty = 'event', 'signup', ''),
       if(n % 2 = 0, 'r1', 'r2')
FROM
(
    SELECT number AS n, number % 300000 AS v, intDiv(number, 300000) AS k,
           ? * 1000 + (intHash32(v) % (29 * 86400)) * 1000 + k * 40000 + intDiv(k, 6) * 7200000 AS ts,
           multiIf(v % 50 = 0 AND k = 0, 'open', v % 50 = 0 AND k = 1, 'click',
                   k % 5 = 3, 'ping', k % 11 = 7, 'event', 'pageview') AS ty
    FROM numbers(?)
)";

async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, usize) {
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
        return (0, 0);
    };
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    );
    if s.write_all(req.as_bytes()).await.is_err() {
        return (0, 0);
    }
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, raw.len())
}

/// Keeps a table row and prints it at once (a later failure still leaves the figures).
fn note(rows: &mut Vec<String>, row: String) {
    eprintln!("{row}");
    rows.push(row);
}

/// The 1-minute load average, as the figures are noisy on a shared machine.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_default()
}

/// One job's part of a refresh: buckets recomputed, wall seconds, server CPU seconds.
struct JobRun {
    job: Job,
    buckets: usize,
    secs: f64,
    cpu_s: f64,
}

/// A refresh of every job in the scheduler's order, as generation `version`.
struct Refresh {
    jobs: Vec<JobRun>,
    secs: f64,
    cpu_s: f64,
}

impl Refresh {
    fn buckets(&self) -> usize {
        self.jobs.iter().map(|r| r.buckets).sum()
    }
}

/// Runs every job once at `version` (`force`: recompute everything), timing each and the
/// whole, with the CPU the ClickHouse server in `dir` used meanwhile.
async fn refresh(
    ch: &clickhouse::Client,
    dir: &std::path::Path,
    version: u64,
    force: bool,
) -> anyhow::Result<Refresh> {
    let (started, cpu) = (Instant::now(), server_cpu_s(dir));
    let mut out = Vec::new();
    for job in Job::ALL {
        let (t, job_cpu) = (Instant::now(), server_cpu_s(dir));
        let buckets = jobs::run(ch, job, version, force).await?.buckets.len();
        out.push(JobRun {
            job,
            buckets,
            secs: t.elapsed().as_secs_f64(),
            cpu_s: server_cpu_s(dir) - job_cpu,
        });
    }
    Ok(Refresh {
        jobs: out,
        secs: started.elapsed().as_secs_f64(),
        cpu_s: server_cpu_s(dir) - cpu,
    })
}

/// CPU seconds (user + system, all threads) the ClickHouse server under `dir` has used so
/// far: unlike wall time, not inflated by other work on a shared machine. 0 when unknown.
fn server_cpu_s(dir: &std::path::Path) -> f64 {
    let config = dir.join("config.xml").display().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let cmdline = std::fs::read(path.join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        if !cmdline.starts_with("sh") && cmdline.contains(&config) {
            let stat = std::fs::read_to_string(path.join("stat")).unwrap_or_default();
            // Fields after "(comm)": state is the first, utime the 12th, stime the 13th.
            let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
            let f: Vec<u64> = rest
                .split_whitespace()
                .map(|x| x.parse().unwrap_or(0))
                .collect();
            let ticks = f.get(11).unwrap_or(&0) + f.get(12).unwrap_or(&0);
            return ticks as f64 / 100.0;
        }
    }
    0.0
}

fn pct(sorted: &[Duration], q: f64) -> f64 {
    let i = ((q * sorted.len() as f64) as usize).min(sorted.len().saturating_sub(1));
    sorted
        .get(i)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let hits: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    // RUST_LOG=aggregator::metrics=debug shows the steps of each job run.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let server = testkit::ClickHouseServer::start();
    let db = server.fresh_db("bench").await;
    let ch = db.client();
    let t = Instant::now();
    ch.query(GENERATE).bind(BASE_S).bind(hits).execute().await?;
    ch.query(
        "INSERT INTO mailing_sends SELECT concat('m', toString(intDiv(v, 50) % 20)), concat('p', toString(v)), \
         toDateTime(?) FROM (SELECT number * 50 AS v FROM numbers(?))",
    )
    .bind(BASE_S)
    .bind(VISITORS / 50)
    .execute()
    .await?;
    ch.query(
        "INSERT INTO consents SELECT concat('c', toString(v)), concat('p', toString(v)), \
         'tracking', 1, 'bench', 'v1', toDateTime(?), 'bench', now() \
         FROM (SELECT number * 50 AS v FROM numbers(?))",
    )
    .bind(BASE_S)
    .bind(VISITORS / 50)
    .execute()
    .await?;
    // The CRM rows of the known persons (an unknown person's activities are a 404).
    ch.query(
        "INSERT INTO persons SELECT concat('p', toString(v)), concat('a', toString(v % 97)), \
         '', '{}', toDateTime(?), 1 FROM (SELECT number * 50 AS v FROM numbers(?))",
    )
    .bind(BASE_S)
    .bind(VISITORS / 50)
    .execute()
    .await?;
    // The funnel the API part reads, defined before the jobs so job `funnels` computes it.
    ch.query(
        "INSERT INTO funnels VALUES ('buy', '{\"steps\":[{\"name\":\"a\",\"path\":\"/p1\"},\
         {\"name\":\"b\",\"path\":\"/p2*\"},{\"name\":\"c\",\"event\":\"signup\"}],\
         \"window_s\":3600}', now(), 1)",
    )
    .execute()
    .await?;
    ch.query("INSERT INTO goals VALUES ('signup', '{\"event\":\"signup\"}', now(), 1)")
        .execute()
        .await?;
    // Merge the generated parts first, as a running system's hits mostly are: the jobs then
    // do not race the background merges of a fresh 10 M-row insert.
    ch.query("OPTIMIZE TABLE hits FINAL").execute().await?;
    let generated = t.elapsed();
    let count: u64 = ch.query("SELECT count() FROM hits").fetch_one().await?;
    println!("generated {count} hits in {:.1} s", generated.as_secs_f64());

    let mut rows = Vec::new();
    note(
        &mut rows,
        format!("| load average before the jobs | {} |", load()),
    );
    let full = refresh(&ch, server.dir(), 1, true).await?;
    for r in &full.jobs {
        note(
            &mut rows,
            format!(
                "| full recompute, job `{}` ({} buckets) | {:.2} s; server CPU {:.1} s |",
                r.job, r.buckets, r.secs, r.cpu_s
            ),
        );
    }
    note(
        &mut rows,
        format!(
            "| **full recompute, all jobs** | **{:.2} s** (target < 10 s); server CPU {:.1} s |",
            full.secs, full.cpu_s
        ),
    );

    // One minute of traffic (hits / 30 days / 1440 minutes) lands on the last day.
    let per_minute = (hits / (30 * 1440)).max(1);
    let minute_start = BASE_S + 29 * 86_400 + 12 * 3600;
    // Same shape as GENERATE, but every hit inside that one minute.
    let minute = GENERATE.replace(
        "? * 1000 + (intHash32(v) % (29 * 86400)) * 1000 + k * 40000 + intDiv(k, 6) * 7200000",
        "? * 1000 + intHash32(n) % 60000",
    );
    ch.query(&minute)
        .bind(minute_start)
        .bind(per_minute)
        .execute()
        .await?;
    let inc = refresh(&ch, server.dir(), 2, false).await?;
    for r in &inc.jobs {
        eprintln!(
            "increment, job `{}`: {} buckets, {:.2} s, server CPU {:.2} s",
            r.job, r.buckets, r.secs, r.cpu_s
        );
    }
    note(&mut rows, format!(
        "| **one-minute increment ({per_minute} new hits, {} buckets recomputed)** | **{:.2} s** (target < 1 s); server CPU {:.2} s |",
        inc.buckets(), inc.secs, inc.cpu_s
    ));
    let idle = refresh(&ch, server.dir(), 3, false).await?;
    note(
        &mut rows,
        format!(
            "| refresh with nothing new (watermark check only) | {:.2} s; server CPU {:.2} s |",
            idle.secs, idle.cpu_s
        ),
    );

    // A collector's spool replaying a minute of day 3 four weeks late, with its original
    // received_at: a part of its own, so job days fingerprints that day again, not every day.
    ch.query(&minute)
        .bind(BASE_S + 2 * 86_400 + 12 * 3600)
        .bind(per_minute)
        .execute()
        .await?;
    let late = refresh(&ch, server.dir(), 4, false).await?;
    note(&mut rows, format!(
        "| late replay of a minute into day 3 ({per_minute} hits, {} buckets recomputed) | {:.2} s; server CPU {:.2} s |",
        late.buckets(), late.secs, late.cpu_s
    ));

    // The API over the computed tables.
    let m: HashMap<String, String> = [
        ("CLICKHOUSE_URL", db.url.as_str()),
        ("CLICKHOUSE_DATABASE", db.database.as_str()),
        ("LINK_KEYS", "k1:0123456789abcdef0123"),
        ("ADMIN_TOKEN", TOKEN),
        ("AGGREGATOR_PUBLIC_URL", "https://t.example.com"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let config = aggregator::Config::from_source(&m).map_err(|e| anyhow::anyhow!("{e}"))?;
    let state = Arc::new(AppState::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (_stop, rx) = tokio::sync::oneshot::channel::<()>();
    let serving = Arc::clone(&state);
    tokio::spawn(async move {
        let stop = async {
            let _ = rx.await;
        };
        let _ = aggregator::server::serve(serving, listener, stop, Duration::from_secs(1)).await;
    });
    let (st, _) = http_get(addr, "/api/funnels/buy?site=s1").await;
    if st == 404 {
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        let body = r#"{"steps":[{"name":"a","path":"/p1"},{"name":"b","path":"/p2*"},{"name":"c","event":"signup"}],"window_s":3600}"#;
        let req = format!("PUT /api/funnels/buy HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        s.write_all(req.as_bytes()).await?;
        let mut sink = Vec::new();
        s.read_to_end(&mut sink).await?;
    }
    for path in [
        "/api/pages?site=s1&from=2026-01-01&to=2026-02-01&limit=50",
        "/api/pages?from=2026-01-20&to=2026-01-21&limit=50",
        "/api/mailings/m1/response?goal=signup",
        "/api/persons/p50/activities",
        "/api/activities?limit=100",
        "/api/funnels/buy?site=s1&from=2026-01-29&to=2026-01-30",
        "/api/funnels/buy?site=s1&from=2026-01-01&to=2026-02-01",
        // Answers are cached per request and generation: a limit that differs on every call
        // (`{i}`) measures the uncached queries.
        "/api/pages?site=s1&from=2026-01-01&to=2026-02-01&limit=5{i}",
        "/api/pages?from=2026-01-20&to=2026-01-21&limit=5{i}",
        "/api/pages?site=s1&from=2026-01-10&to=2026-01-17&limit=5{i}",
    ] {
        let mut lat = Vec::new();
        let mut bytes = 0;
        for i in 0..100 {
            let call = path.replace("{i}", &format!("{i:02}"));
            let t = Instant::now();
            let (status, n) = http_get(addr, &call).await;
            lat.push(t.elapsed());
            bytes = n;
            if status != 200 {
                anyhow::bail!("{path} answered {status}");
            }
        }
        lat.sort_unstable();
        note(
            &mut rows,
            format!(
                "| `GET {path}` ({bytes} bytes), 100 calls | p50 {:.1} ms, p99 {:.1} ms |",
                pct(&lat, 0.5),
                pct(&lat, 0.99)
            ),
        );
    }
    println!("\n| what | time |\n|---|---|");
    note(
        &mut rows,
        format!("| load average at the end | {} |", load()),
    );
    for r in rows {
        println!("{r}");
    }
    Ok(())
}
