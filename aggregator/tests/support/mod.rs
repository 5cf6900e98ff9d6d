//! Test helpers: start the aggregator on `127.0.0.1:0` against a fresh ClickHouse database,
//! and a tiny HTTP/1.1 client that shows status, headers and body exactly as sent.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

pub mod live;

use aggregator::api::AppState;
use aggregator::Config;
use common::ch::ChSettings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The admin token every test server uses.
pub const TOKEN: &str = "test-admin-token-0123456789";
/// The signing keys every test server uses.
pub const KEYS: &str = "k1:0123456789abcdef0123";

/// A running aggregator.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its database.
    pub db: ChSettings,
    /// Its state (for reaching the ClickHouse client).
    pub state: Arc<AppState>,
    /// Dropping this stops the server.
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// Config for a test server on `db`, with `extra` keys on top.
pub fn config(db: &ChSettings, extra: &[(&str, &str)]) -> Config {
    let mut m: HashMap<String, String> = [
        ("CLICKHOUSE_URL", db.url.as_str()),
        ("CLICKHOUSE_DATABASE", db.database.as_str()),
        ("LINK_KEYS", KEYS),
        ("ADMIN_TOKEN", TOKEN),
        ("AGGREGATOR_LISTEN", "127.0.0.1:0"),
        ("AGGREGATOR_PUBLIC_URL", "https://t.example.com"),
        ("AGGREGATOR_MAX_BODY_BYTES", "65536"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        m.insert(k.to_string(), v.to_string());
    }
    Config::from_source(&m).unwrap_or_else(|e| panic!("test config: {e}"))
}

/// Starts a server on a fresh database.
pub async fn start(prefix: &str) -> TestServer {
    let db = testkit::shared_server().fresh_db(prefix).await;
    start_with(config(&db, &[])).await
}

/// Starts a server with this config.
pub async fn start_with(config: Config) -> TestServer {
    let db = config.clickhouse.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let state = Arc::new(AppState::new(config));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let s = Arc::clone(&state);
    tokio::spawn(async move {
        let _ = aggregator::server::serve(
            s,
            listener,
            async {
                let _ = rx.await;
            },
            std::time::Duration::from_secs(1),
        )
        .await;
    });
    TestServer {
        addr,
        db,
        state,
        _stop: tx,
    }
}

/// A parsed answer.
#[derive(Debug)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Header lines, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body text.
    pub body: String,
}

impl Answer {
    /// The body as JSON (Null when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends raw request bytes and reads the whole answer (the request must ask to close).
pub async fn raw(addr: SocketAddr, request: &[u8]) -> Answer {
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    s.write_all(request)
        .await
        .unwrap_or_else(|e| panic!("write: {e}"));
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    parse(&buf)
}

fn parse(buf: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(buf);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Answer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// A request with the admin token.
pub async fn call(addr: SocketAddr, method: &str, path: &str, body: &str) -> Answer {
    call_as(addr, method, path, body, Some(TOKEN)).await
}

/// A request with the given bearer token (None = no header).
pub async fn call_as(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
    token: Option<&str>,
) -> Answer {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    raw(addr, req.as_bytes()).await
}
