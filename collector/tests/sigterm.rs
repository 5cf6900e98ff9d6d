//! The real binary under load gets SIGTERM: it stops accepting, drains, exits 0 within the
//! grace period, and every hit it answered 202 for is in ClickHouse.

mod support;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{request, wait_for_count};
use testkit::{free_port, shared_server};

async fn load(
    addr: std::net::SocketAddr,
    worker: usize,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicU64>,
) {
    let mut i = 0u64;
    // Keep going until the server is gone (refused or reset) or told to stop.
    while !stop.load(Ordering::Relaxed) {
        let body: Vec<String> = (0..10)
            .map(|k| format!(r#"{{"s":"term","u":"https://x.example/{worker}/{i}/{k}"}}"#))
            .collect();
        let body = format!("[{}]", body.join(","));
        let r = request(
            addr,
            "POST",
            "/e",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
        .await;
        match r.status {
            202 => {
                accepted.fetch_add(10, Ordering::Relaxed);
            }
            // Refused or reset: the server is gone.
            0 => break,
            503 => {}
            other => panic!("unexpected {other}: {}", r.text()),
        }
        i += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_loses_nothing() {
    let ch = shared_server().fresh_db("term").await;
    let spool = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (port, ops_port) = (free_port(), free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_collector"))
        .env("COLLECTOR_LISTEN", format!("127.0.0.1:{port}"))
        .env("COLLECTOR_OPS_LISTEN", format!("127.0.0.1:{ops_port}"))
        .env("CLICKHOUSE_URL", &ch.url)
        .env("CLICKHOUSE_DATABASE", &ch.database)
        .env("COLLECTOR_SPOOL_DIR", spool.path())
        .env("COLLECTOR_DRAIN_GRACE_S", "15")
        .env("COLLECTOR_LOG", "warn")
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the collector: {e}"));
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let ops: std::net::SocketAddr = ([127, 0, 0, 1], ops_port).into();
    let start = Instant::now();
    while request(ops, "GET", "/readyz", &[], b"").await.status != 200 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "collector never became ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..4)
        .map(|w| tokio::spawn(load(addr, w, stop.clone(), accepted.clone())))
        .collect();
    // Long enough for several batches, short of the 1 s batch interval for the last ones, so
    // hits are in memory when the signal lands.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = accepted.load(Ordering::Relaxed);
    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status();
    assert!(killed.is_ok_and(|s| s.success()), "kill -TERM failed");
    let signalled = Instant::now();

    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("{e}"));
    let took = signalled.elapsed();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap_or_else(|e| panic!("{e}"));
    }
    let total = accepted.load(Ordering::Relaxed);
    assert!(status.success(), "exit status {status:?}");
    assert!(took < Duration::from_secs(15), "drain took {took:?}");
    assert!(before > 0 && total >= before, "no load was accepted");
    eprintln!("accepted {total} hits; exited {took:?} after SIGTERM");

    let n = wait_for_count(
        &ch,
        "SELECT uniqExact(event_id) FROM hits",
        total,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(n, total, "accepted {total}, in ClickHouse {n}");
    let spooled = std::fs::read_dir(spool.path())
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with("seg-"))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(
        spooled, 0,
        "with ClickHouse up nothing should be left in the spool"
    );
}
