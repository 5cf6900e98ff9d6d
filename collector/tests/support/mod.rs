//! Test helpers shared by the collector's black-box tests: start `run()` on 127.0.0.1:0 with
//! a oneshot shutdown, and a raw HTTP/1.1 client (raw so tests can also send broken requests).
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use collector::{Config, Listeners};
use common::ch::ChSettings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Keys the tests sign links with.
pub const LINK_KEYS: &str = "t1:0123456789abcdef0123456789";

/// A running collector.
pub struct Running {
    /// Public listener.
    pub addr: SocketAddr,
    /// Ops listener.
    pub ops: SocketAddr,
    /// The spool folder (kept until the test ends).
    pub spool: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), collector::StartError>>,
}

/// Settings every test uses; `extra` overrides.
pub fn settings(ch: &ChSettings, spool: &std::path::Path, extra: &[(&str, &str)]) -> Config {
    let mut m: HashMap<String, String> = [
        ("CLICKHOUSE_URL", ch.url.as_str()),
        ("CLICKHOUSE_DATABASE", ch.database.as_str()),
        ("GEOIP_CITY_DB", enrich::testdata::TEST_MMDB),
        ("LINK_KEYS", LINK_KEYS),
        ("COLLECTOR_TRUSTED_PROXIES", "127.0.0.1"),
        ("COLLECTOR_BATCH_INTERVAL_MS", "100"),
        ("COLLECTOR_REPLICA", "test"),
        ("COLLECTOR_INSERT_TIMEOUT_MS", "2000"),
        ("COLLECTOR_DRAIN_GRACE_S", "10"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    m.insert("COLLECTOR_SPOOL_DIR".into(), spool.display().to_string());
    for (k, v) in extra {
        m.insert(k.to_string(), v.to_string());
    }
    Config::from_source(&m).unwrap_or_else(|e| panic!("test config: {e}"))
}

/// Starts `run()` against `ch` on free loopback ports.
pub async fn start(ch: &ChSettings, extra: &[(&str, &str)]) -> Running {
    let spool = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    start_with_spool(ch, extra, spool).await
}

/// Starts `run()` with a given spool folder (e.g. one prepared by the test).
pub async fn start_with_spool(
    ch: &ChSettings,
    extra: &[(&str, &str)],
    spool: tempfile::TempDir,
) -> Running {
    let config = settings(ch, spool.path(), extra);
    let public = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ops = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = public.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let ops_addr = ops.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(collector::run(
        config,
        Listeners { public, ops },
        async move {
            let _ = rx.await;
        },
    ));
    Running {
        addr,
        ops: ops_addr,
        spool,
        stop: Some(tx),
        task,
    }
}

impl Running {
    /// Shuts down and waits for the drain to finish.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match tokio::time::timeout(Duration::from_secs(30), &mut self.task).await {
            Ok(Ok(Ok(()))) => {}
            other => panic!("collector did not stop cleanly: {other:?}"),
        }
        self.spool
    }

    /// Sends a request (a GET or HEAD without body).
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        request(self.addr, "GET", path, headers, b"").await
    }

    /// Sends a POST.
    pub async fn post(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        request(self.addr, "POST", path, headers, body).await
    }

    /// GET on the ops listener.
    pub async fn ops_get(&self, path: &str) -> Resp {
        request(self.ops, "GET", path, &[], b"").await
    }
}

/// A parsed response.
#[derive(Debug, Clone)]
pub struct Resp {
    /// Status code (0 when the server closed without answering).
    pub status: u16,
    /// Headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Resp {
    /// First value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request with `Connection: close` and reads the answer.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut raw = head.into_bytes();
    raw.extend_from_slice(body);
    raw_request(addr, &raw).await
}

/// Sends raw bytes and parses whatever comes back (status 0: refused or no answer).
pub async fn raw_request(addr: SocketAddr, raw: &[u8]) -> Resp {
    let Ok(mut s) = TcpStream::connect(addr).await else {
        return parse(b"");
    };
    // The server may answer (413, 431) and close before reading everything: ignore that.
    let _ = s.write_all(raw).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    parse(&out)
}

/// Parses an HTTP/1.1 response (Content-Length bodies; enough for the collector).
pub fn parse(out: &[u8]) -> Resp {
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(out.len());
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let body = out.get(split + 4..).unwrap_or_default().to_vec();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Resp {
        status,
        headers,
        body,
    }
}

/// Signs a click or open token with [`LINK_KEYS`].
pub fn token(kind: common::token::TokenKind, url: &str) -> String {
    let keys = common::token::Keyring::parse(LINK_KEYS).unwrap_or_else(|| panic!("keys"));
    keys.sign(&common::token::Claims {
        kind,
        kid: String::new(),
        expires_at: 0,
        mailing_id: "m1".into(),
        person_id: "p1".into(),
        link_id: "l1".into(),
        url: url.into(),
    })
    .unwrap_or_else(|e| panic!("sign: {e}"))
}

/// Polls `sql` (a single number) until it equals `want` or `limit` passes; returns the last value.
pub async fn wait_for_count(ch: &ChSettings, sql: &str, want: u64, limit: Duration) -> u64 {
    let start = std::time::Instant::now();
    loop {
        let got: u64 = testkit::query_text(ch, sql)
            .await
            .trim()
            .parse()
            .unwrap_or(0);
        if got == want || start.elapsed() > limit {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
