//! Starts the real collector library (`collector::run`) in-process on loopback ports against
//! a test database, for tests that follow a link from the aggregator through the collector.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use common::ch::ChSettings;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Listeners bound before the collector starts, so the aggregator can be told its address.
pub struct Bound {
    /// Public listener.
    public: TcpListener,
    /// Ops listener.
    ops: TcpListener,
    /// Public address.
    pub addr: SocketAddr,
}

/// Binds the collector's two listeners on free ports.
pub async fn bind() -> Bound {
    let public = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ops = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = public.local_addr().unwrap_or_else(|e| panic!("{e}"));
    Bound { public, ops, addr }
}

/// A running collector; stops (draining) on [`Collector::stop`].
pub struct Collector {
    /// Public address.
    pub addr: SocketAddr,
    /// Spool folder, removed with the test.
    _spool: tempfile::TempDir,
    /// Ends `run()`.
    stop: Option<oneshot::Sender<()>>,
    /// The `run()` task.
    task: JoinHandle<Result<(), collector::StartError>>,
}

/// Starts `collector::run` on `bound` with the test keys, a fast directory refresh and fast
/// batches; `extra` overrides.
pub async fn start(bound: Bound, db: &ChSettings, extra: &[(&str, &str)]) -> Collector {
    let spool = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut m: HashMap<String, String> = [
        ("CLICKHOUSE_URL", db.url.as_str()),
        ("CLICKHOUSE_DATABASE", db.database.as_str()),
        ("LINK_KEYS", super::KEYS),
        ("COLLECTOR_BATCH_INTERVAL_MS", "50"),
        ("COLLECTOR_DIRECTORY_REFRESH_MS", "200"),
        ("COLLECTOR_REPLICA", "test"),
        ("COLLECTOR_DRAIN_GRACE_S", "10"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    m.insert(
        "COLLECTOR_SPOOL_DIR".into(),
        spool.path().display().to_string(),
    );
    for (k, v) in extra {
        m.insert(k.to_string(), v.to_string());
    }
    let config = collector::Config::from_source(&m).unwrap_or_else(|e| panic!("{e}"));
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(collector::run(
        config,
        collector::Listeners {
            public: bound.public,
            ops: bound.ops,
        },
        async move {
            let _ = rx.await;
        },
    ));
    Collector {
        addr: bound.addr,
        _spool: spool,
        stop: Some(tx),
        task,
    }
}

impl Collector {
    /// Stops and waits for the drain (every accepted hit written).
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match tokio::time::timeout(Duration::from_secs(30), &mut self.task).await {
            Ok(Ok(Ok(()))) => {}
            other => panic!("collector did not stop cleanly: {other:?}"),
        }
    }

    /// A GET with extra headers; a browser `User-Agent` unless the headers name one.
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> super::Answer {
        let mut req = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n");
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("user-agent"))
        {
            req.push_str(&format!("User-Agent: {BROWSER}\r\n"));
        }
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        super::raw(self.addr, req.as_bytes()).await
    }
}

/// A desktop Chrome user agent.
pub const BROWSER: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

/// Polls `sql` until it returns `want` (both trimmed) or `limit` passes; returns the last
/// answer, trimmed.
pub async fn wait_for(db: &ChSettings, sql: &str, want: &str, limit: Duration) -> String {
    let start = std::time::Instant::now();
    loop {
        let got = testkit::query_text(db, sql).await;
        if got.trim() == want.trim() || start.elapsed() > limit {
            return got.trim().to_string();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
