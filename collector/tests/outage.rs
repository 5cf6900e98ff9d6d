//! ClickHouse killed in the middle of a stream of hits and started again: every hit the
//! collector accepted is in ClickHouse exactly once afterwards (by event_id and with FINAL),
//! and the spool was really used on the way.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::{request, start, wait_for_count};
use testkit::{query_text, ClickHouseServer};

/// Sends beacons of 5 hits back to back until `stop`; returns hits accepted (202).
async fn stream(addr: std::net::SocketAddr, stop: Arc<AtomicBool>, accepted: Arc<AtomicU64>) {
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let body: Vec<String> = (0..5)
            .map(|k| format!(r#"{{"s":"out","u":"https://x.example/{i}/{k}"}}"#))
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
                accepted.fetch_add(5, Ordering::Relaxed);
            }
            503 => {}
            other => panic!("unexpected status {other}: {}", r.text()),
        }
        i += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_outage_loses_nothing_and_duplicates_nothing() {
    let server = ClickHouseServer::start();
    let ch = server.fresh_db("outage").await;
    let c = start(&ch, &[("COLLECTOR_INSERT_TIMEOUT_MS", "1000")]).await;

    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(AtomicU64::new(0));
    let streams: Vec<_> = (0..2)
        .map(|_| tokio::spawn(stream(c.addr, stop.clone(), accepted.clone())))
        .collect();

    tokio::time::sleep(Duration::from_millis(800)).await;
    let before_outage = accepted.load(Ordering::Relaxed);
    let mut server = tokio::task::spawn_blocking(move || {
        let mut s = server;
        s.stop();
        s
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let during_outage = accepted.load(Ordering::Relaxed) - before_outage;
    server = tokio::task::spawn_blocking(move || {
        server.restart();
        server
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    tokio::time::sleep(Duration::from_millis(800)).await;
    stop.store(true, Ordering::Relaxed);
    for s in streams {
        s.await.unwrap_or_else(|e| panic!("{e}"));
    }
    let total = accepted.load(Ordering::Relaxed);
    assert!(
        during_outage > 0,
        "nothing was accepted while ClickHouse was down"
    );
    eprintln!("accepted {total} hits, {during_outage} of them while ClickHouse was down");

    let distinct = wait_for_count(
        &ch,
        "SELECT uniqExact(event_id) FROM hits",
        total,
        Duration::from_secs(40),
    )
    .await;
    assert_eq!(
        distinct, total,
        "accepted {total}, distinct in ClickHouse {distinct}"
    );
    let fin: u64 = query_text(&ch, "SELECT count() FROM hits FINAL")
        .await
        .trim()
        .parse()
        .unwrap_or(0);
    assert_eq!(fin, total, "count() FINAL");

    let metrics = c.ops_get("/metrics").await.text();
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .filter(|l| l.starts_with(name))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    assert!(value("collector_spooled_hits_total") > 0.0, "{metrics}");
    assert!(value("collector_replayed_hits_total") > 0.0, "{metrics}");
    c.stop().await;
    drop(server);
}
