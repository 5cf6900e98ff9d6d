//! Black-box tests of the public and ops listeners over real TCP: answers, headers, CORS,
//! ETag, links, and the bad-input table (right status, never a 5xx, nothing stored).

mod support;

use std::time::Duration;

use common::token::TokenKind;
use support::{raw_request, request, start, token, wait_for_count};
use testkit::{query_text, shared_server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn routes_answer_as_the_spec_says() {
    let ch = shared_server().fresh_db("edge").await;
    let c = start(&ch, &[]).await;

    let r = c.get("/p.gif?s=a&u=https%3A%2F%2Fx.example%2F", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("image/gif"));
    assert!(r.header("cache-control").unwrap_or("").contains("no-store"));
    assert_eq!(r.body.len(), 43);

    let pre = request(
        c.addr,
        "OPTIONS",
        "/e",
        &[
            ("Origin", "https://any.example"),
            ("Access-Control-Request-Method", "POST"),
        ],
        b"",
    )
    .await;
    assert_eq!(pre.status, 204);
    assert_eq!(pre.header("access-control-allow-origin"), Some("*"));
    assert!(pre
        .header("access-control-allow-methods")
        .unwrap_or("")
        .contains("POST"));

    let r = c
        .post(
            "/e",
            &[
                ("Content-Type", "application/json"),
                ("Origin", "https://o.example"),
            ],
            br#"{"s":"a","u":"https://x.example/b"}"#,
        )
        .await;
    assert_eq!((r.status, r.text().as_str()), (202, r#"{"accepted":1}"#));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));

    let js = c.get("/t.js", &[]).await;
    assert_eq!(js.status, 200);
    assert!(js
        .header("content-type")
        .unwrap_or("")
        .starts_with("application/javascript"));
    let etag = js.header("etag").unwrap_or("").to_string();
    assert!(etag.starts_with('"') && etag.len() > 2, "{etag}");
    assert!(js.header("cache-control").unwrap_or("").contains("max-age"));
    let again = c.get("/t.js", &[("If-None-Match", &etag)]).await;
    assert_eq!((again.status, again.body.len()), (304, 0));

    let good = token(TokenKind::Click, "https://target.example/x");
    let r = c.get(&format!("/r/{good}"), &[]).await;
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("https://target.example/x"));
    let head = request(c.addr, "HEAD", &format!("/r/{good}"), &[], b"").await;
    assert_eq!(head.status, 302);
    let mut tampered = good.clone();
    tampered.replace_range(5..6, if &good[5..6] == "A" { "B" } else { "A" });
    let open_as_click = token(TokenKind::Open, "");
    for bad in [tampered.as_str(), "nope", open_as_click.as_str(), ""] {
        let r = c.get(&format!("/r/{bad}"), &[]).await;
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.header("location"), None, "{bad}");
    }
    let r = c.get(&format!("/o/{open_as_click}.gif"), &[]).await;
    assert_eq!((r.status, r.body.len()), (200, 43));
    let r = c.get("/o/garbage.gif", &[]).await;
    assert_eq!((r.status, r.body.len()), (200, 43));

    for r in [&r, &js, &pre] {
        assert!(r.header("set-cookie").is_none());
    }
    assert_eq!(c.get("/nothing-here", &[]).await.status, 404);
    assert_eq!(c.ops_get("/healthz").await.status, 200);
    assert_eq!(c.ops_get("/readyz").await.status, 200);

    // pixel + beacon + 2 clicks (GET and HEAD) + 1 open.
    let n = wait_for_count(&ch, "SELECT count() FROM hits", 5, Duration::from_secs(10)).await;
    assert_eq!(n, 5);
    let types = query_text(
        &ch,
        "SELECT type, count() FROM hits GROUP BY type ORDER BY type",
    )
    .await;
    assert_eq!(types, "click\t2\nopen\t1\npageview\t2\n");
    let metrics = c.ops_get("/metrics").await.text();
    // What this traffic must have produced, each name from the one catalogue.
    use collector::telemetry as t;
    for name in [
        t::HITS_RECEIVED,
        t::HITS_ACCEPTED,
        t::HITS_REJECTED,
        t::BATCH_ROWS,
        t::INSERT_DURATION,
        t::HITS_WRITTEN,
        t::QUEUE_HITS,
        t::SPOOL_BYTES,
        t::SPOOL_SEGMENTS,
        t::HTTP_REQUESTS,
        t::CONNECTIONS,
    ] {
        assert!(t::METRIC_NAMES.contains(&name));
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
    c.stop().await;
}

/// One row of the bad-input table: what, method, path, headers, body, status, text the
/// answer must contain.
type Case<'a> = (
    &'a str,
    &'a str,
    String,
    Vec<(&'a str, &'a str)>,
    Vec<u8>,
    u16,
    Option<&'a str>,
);

#[tokio::test]
async fn bad_input_gets_the_right_status_and_stores_nothing() {
    let ch = shared_server().fresh_db("bad").await;
    let c = start(&ch, &[("COLLECTOR_HEADER_TIMEOUT_MS", "300")]).await;
    let json = [("Content-Type", "application/json")];
    let one = r#"{"s":"a","u":"https://x.example/"}"#;
    let too_many = format!("[{}]", vec![one; 101].join(","));
    let huge = format!(
        r#"{{"s":"a","u":"https://x.example/","t":"{}"}}"#,
        "x".repeat(70_000)
    );
    // (what, method, path, headers, body, status, must mention field)
    let cases: Vec<Case> = vec![
        (
            "pixel bad percent",
            "GET",
            "/p.gif?s=a&u=%zz".into(),
            vec![],
            vec![],
            200,
            None,
        ),
        (
            "pixel invalid utf8",
            "GET",
            "/p.gif?s=a&u=https%3A%2F%2Fx.example%2F%FF".into(),
            vec![],
            vec![],
            200,
            None,
        ),
        (
            "pixel missing s",
            "GET",
            "/p.gif?u=https%3A%2F%2Fx.example%2F".into(),
            vec![],
            vec![],
            200,
            None,
        ),
        (
            "pixel missing u",
            "GET",
            "/p.gif?s=a".into(),
            vec![],
            vec![],
            200,
            None,
        ),
        (
            "pixel ftp url",
            "GET",
            "/p.gif?s=a&u=ftp%3A%2F%2Fx.example%2F".into(),
            vec![],
            vec![],
            200,
            None,
        ),
        (
            "beacon not json",
            "POST",
            "/e".into(),
            json.to_vec(),
            b"{nope".to_vec(),
            400,
            None,
        ),
        (
            "beacon invalid utf8",
            "POST",
            "/e".into(),
            json.to_vec(),
            b"{\"s\":\"a\xff\"}".to_vec(),
            400,
            None,
        ),
        (
            "beacon number",
            "POST",
            "/e".into(),
            json.to_vec(),
            b"42".to_vec(),
            400,
            None,
        ),
        (
            "beacon missing s",
            "POST",
            "/e".into(),
            json.to_vec(),
            br#"{"u":"https://x.example/"}"#.to_vec(),
            400,
            Some("\"field\":\"s\""),
        ),
        (
            "beacon second hit bad",
            "POST",
            "/e".into(),
            json.to_vec(),
            format!(r#"[{one},{{"s":"a"}}]"#).into_bytes(),
            400,
            Some("\"index\":1"),
        ),
        (
            "beacon array > 100",
            "POST",
            "/e".into(),
            json.to_vec(),
            too_many.into_bytes(),
            400,
            None,
        ),
        (
            "beacon nested props",
            "POST",
            "/e".into(),
            json.to_vec(),
            br#"{"s":"a","u":"https://x.example/","e":"event","n":"x","p":{"a":{"b":1}}}"#.to_vec(),
            400,
            Some("\"field\":\"p\""),
        ),
        (
            "beacon oversized",
            "POST",
            "/e".into(),
            json.to_vec(),
            huge.into_bytes(),
            413,
            None,
        ),
        (
            "beacon wrong type",
            "POST",
            "/e".into(),
            vec![("Content-Type", "application/x-www-form-urlencoded")],
            one.as_bytes().to_vec(),
            400,
            Some("content-type"),
        ),
        ("beacon GET", "GET", "/e".into(), vec![], vec![], 405, None),
        (
            "pixel POST",
            "POST",
            "/p.gif".into(),
            json.to_vec(),
            one.as_bytes().to_vec(),
            405,
            None,
        ),
    ];
    for (what, method, path, headers, body, status, mention) in &cases {
        let r = request(c.addr, method, path, headers, body).await;
        assert_eq!(r.status, *status, "{what}: {}", r.text());
        if let Some(m) = mention {
            assert!(r.text().contains(m), "{what}: {}", r.text());
        }
        if *status == 200 {
            assert_eq!(r.body.len(), 43, "{what}");
        }
    }

    // Header flood: far more header lines than we accept -> 431, not a crash.
    let mut flood =
        String::from("GET /p.gif?s=a&u=https%3A%2F%2Fx.example%2F HTTP/1.1\r\nHost: t\r\n");
    for i in 0..500 {
        flood.push_str(&format!("X-Flood-{i}: {}\r\n", "v".repeat(100)));
    }
    flood.push_str("\r\n");
    let r = raw_request(c.addr, flood.as_bytes()).await;
    assert_eq!(r.status, 431, "header flood");

    // A chunked body that grows past 64 KiB without a Content-Length.
    let mut chunked = String::from("POST /e HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    for _ in 0..20 {
        chunked.push_str(&format!("1000\r\n{}\r\n", "a".repeat(4096)));
    }
    chunked.push_str("0\r\n\r\n");
    assert_eq!(raw_request(c.addr, chunked.as_bytes()).await.status, 413);

    // A slow client that never finishes its headers is cut off by the header timeout.
    let mut slow = tokio::net::TcpStream::connect(c.addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = slow.write_all(b"GET /p.gif HTTP/1.1\r\nHost: t\r\n").await;
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut out)).await;
    assert!(
        read.is_ok(),
        "slow client was not cut off by the header timeout"
    );
    let status = support::parse(&out).status;
    assert!(status == 0 || status == 408, "slow client got {status}");

    // Nothing above is a storable hit; one good pixel proves the pipeline is alive.
    let ok = c
        .get("/p.gif?s=good&u=https%3A%2F%2Fx.example%2F", &[])
        .await;
    assert_eq!(ok.status, 200);
    let n = wait_for_count(&ch, "SELECT count() FROM hits", 1, Duration::from_secs(10)).await;
    assert_eq!(n, 1);
    c.stop().await;
    assert_eq!(query_text(&ch, "SELECT site FROM hits").await, "good\n");
}

/// A "ClickHouse" that accepts connections and never answers: slow, not down.
async fn black_hole() -> std::net::SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = l.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    addr
}

#[tokio::test]
async fn slow_clickhouse_drain_turns_readiness_off_and_spools() {
    let hole = black_hole().await;
    let ch = common::ch::ChSettings {
        url: format!("http://{hole}"),
        database: "nowhere".into(),
        ..Default::default()
    };
    let c = start(&ch, &[("COLLECTOR_INSERT_TIMEOUT_MS", "1500")]).await;
    assert_eq!(c.ops_get("/readyz").await.status, 200);
    let r = c
        .post(
            "/e",
            &[("Content-Type", "text/plain")],
            br#"[{"s":"a","u":"https://x.example/1"},{"s":"a","u":"https://x.example/2"}]"#,
        )
        .await;
    assert_eq!(r.status, 202);
    // Let the batch reach the shipper, which now hangs on the silent server.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (ops, addr) = (c.ops, c.addr);
    let stopping = tokio::spawn(c.stop());
    let mut statuses = Vec::new();
    for _ in 0..20 {
        statuses.push(request(ops, "GET", "/readyz", &[], b"").await.status);
        if statuses.last() == Some(&503) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        statuses.last(),
        Some(&503),
        "readiness during drain: {statuses:?}"
    );
    let spool = stopping.await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "public listener still accepting after shutdown"
    );
    // The accepted hits were not lost: they wait in the spool for the next start.
    let s =
        collector::pipeline::Spool::open(spool.path(), 1 << 20).unwrap_or_else(|e| panic!("{e}"));
    let (_, batch) = s.oldest().unwrap_or_else(|| panic!("nothing spooled"));
    assert_eq!(batch.rows, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_and_spool_full_gives_503_and_counts_intentional_drops() {
    let hole = black_hole().await;
    let ch = common::ch::ChSettings {
        url: format!("http://{hole}"),
        database: "nowhere".into(),
        ..Default::default()
    };
    let c = start(
        &ch,
        &[
            ("COLLECTOR_INSERT_TIMEOUT_MS", "2000"),
            ("COLLECTOR_QUEUE_CAPACITY", "100"),
            ("COLLECTOR_BATCH_ROWS", "50"),
            ("COLLECTOR_SPOOL_MAX_BYTES", "65536"),
            ("COLLECTOR_DRAIN_GRACE_S", "2"),
        ],
    )
    .await;
    let hits: Vec<String> = (0..50)
        .map(|i| format!(r#"{{"s":"a","u":"https://x.example/{i}"}}"#))
        .collect();
    let body = format!("[{}]", hits.join(","));
    let mut statuses = Vec::new();
    for _ in 0..200 {
        let r = c
            .post(
                "/e",
                &[("Content-Type", "application/json")],
                body.as_bytes(),
            )
            .await;
        statuses.push(r.status);
        if r.status == 503 {
            assert!(r.header("retry-after").is_some());
            break;
        }
    }
    assert_eq!(
        statuses.last(),
        Some(&503),
        "never overloaded: {statuses:?}"
    );
    assert!(statuses.iter().all(|s| *s == 202 || *s == 503));
    // The pixel still answers the GIF while overloaded, and its drop is counted.
    let r = c.get("/p.gif?s=a&u=https%3A%2F%2Fx.example%2F", &[]).await;
    assert_eq!((r.status, r.body.len()), (200, 43));
    assert_eq!(c.ops_get("/readyz").await.status, 503);
    let metrics = c.ops_get("/metrics").await.text();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("collector_hits_dropped_total{cause=\"intentional\"}")),
        "{metrics}"
    );
    c.stop().await;
}

#[tokio::test]
async fn connection_cap_holds_extra_clients_in_the_backlog() {
    let ch = shared_server().fresh_db("cap").await;
    let c = start(
        &ch,
        &[
            ("COLLECTOR_MAX_CONNECTIONS", "1"),
            ("COLLECTOR_HEADER_TIMEOUT_MS", "10000"),
        ],
    )
    .await;
    // A takes the only slot and sends nothing.
    let a = tokio::net::TcpStream::connect(c.addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    // B connects (kernel backlog) and sends a whole request: it is not served while A holds
    // the slot...
    let mut b = tokio::net::TcpStream::connect(c.addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    b.write_all(b"GET /t.js HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut buf = [0u8; 64];
    let early = tokio::time::timeout(Duration::from_millis(300), b.read(&mut buf)).await;
    assert!(early.is_err(), "served past the connection cap");
    // ...and is served as soon as A goes away.
    drop(a);
    let mut out = Vec::new();
    let done = tokio::time::timeout(Duration::from_secs(5), b.read_to_end(&mut out)).await;
    assert!(done.is_ok(), "B never served after A left");
    assert_eq!(support::parse(&out).status, 200);
    c.stop().await;
}
