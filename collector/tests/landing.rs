//! Against a real ClickHouse: pixel, beacon, click and open hits land with their enriched
//! fields (geo from the committed test mmdb via a trusted proxy's X-Forwarded-For, browser,
//! OS, device and bot verdict from known user agents), and a corrupt spool segment left from
//! an earlier run is set aside while the good ones around it are replayed.

mod support;

use std::time::Duration;

use bytes::Bytes;
use collector::pipeline::{spool, Batch};
use common::hit::Hit;
use common::token::TokenKind;
use support::{start, start_with_spool, token, wait_for_count};
use testkit::{query_text, shared_server};

const CHROME_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";
const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

#[tokio::test]
async fn hits_land_with_enriched_fields() {
    let ch = shared_server().fresh_db("land").await;
    let c = start(&ch, &[]).await;

    let r = c
        .get(
            "/p.gif?s=shop&u=https%3A%2F%2Fwww.shop.example%2Fa%2Fb%3Futm_source%3Dnews%26utm_medium%3Demail&t=Home",
            &[("X-Forwarded-For", "81.2.69.160"), ("User-Agent", CHROME_WIN)],
        )
        .await;
    assert_eq!((r.status, r.body.len()), (200, 43));

    let body = br#"[{"s":"shop","e":"event","u":"https://www.shop.example/cart","n":"add","p":{"sku":"x1"},"r":"https://www.google.com/"},
                   {"s":"shop","u":"https://www.shop.example/","v":"visitor-123"}]"#;
    let r = c
        .post(
            "/e",
            &[
                ("Content-Type", "text/plain;charset=UTF-8"),
                ("X-Forwarded-For", "10.9.9.9, 89.160.20.112"),
                ("User-Agent", IPHONE),
            ],
            body,
        )
        .await;
    assert_eq!((r.status, r.text()), (202, "{\"accepted\":2}".to_string()));

    let r = c
        .get(
            "/p.gif?s=shop&u=https%3A%2F%2Fwww.shop.example%2F",
            &[("User-Agent", GOOGLEBOT), ("DNT", "1")],
        )
        .await;
    assert_eq!(r.status, 200);

    let click = token(TokenKind::Click, "https://www.shop.example/offer?x=1");
    let r = c
        .get(&format!("/r/{click}"), &[("User-Agent", CHROME_WIN)])
        .await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location"),
        Some("https://www.shop.example/offer?x=1")
    );
    let open = token(TokenKind::Open, "");
    let r = c.get(&format!("/o/{open}.gif"), &[]).await;
    assert_eq!((r.status, r.body.len()), (200, 43));

    let n = wait_for_count(&ch, "SELECT count() FROM hits", 6, Duration::from_secs(15)).await;
    assert_eq!(n, 6);
    let rows = query_text(
        &ch,
        "SELECT type, host, path, utm_source, referrer_kind, country, region, city, browser, os, device, is_bot, ip, \
         event_name, props, visitor_id = 'visitor-123', length(visitor_id) > 0, replica, mailing_id, link_id \
         FROM hits ORDER BY type, path, country",
    )
    .await;
    let lines: Vec<&str> = rows.lines().collect();
    assert_eq!(
        lines,
        [
            "click\twww.shop.example\t/offer\t\temail\t\t\t\tChrome\tWindows 10\tdesktop\t0\t127.0.0.0\t\t\t0\t1\ttest\tm1\tl1",
            "event\twww.shop.example\t/cart\t\tsearch\tSE\tE\tLinköping\tSafari\tiPhone\tmobile\t0\t89.160.20.0\tadd\t{\"sku\":\"x1\"}\t0\t1\ttest\t\t",
            // No User-Agent at all counts as a machine.
            "open\t\t\t\temail\t\t\t\t\t\tbot\t1\t127.0.0.0\t\t\t0\t1\ttest\tm1\tl1",
            "pageview\twww.shop.example\t/\t\tdirect\t\t\t\tGooglebot\t\tbot\t1\t127.0.0.0\t\t\t0\t1\ttest\t\t",
            "pageview\twww.shop.example\t/\t\tdirect\tSE\tE\tLinköping\tSafari\tiPhone\tmobile\t0\t89.160.20.0\t\t\t1\t1\ttest\t\t",
            "pageview\twww.shop.example\t/a/b\tnews\tcampaign\tGB\tENG\tLondon\tChrome\tWindows 10\tdesktop\t0\t81.2.69.0\t\t\t0\t1\ttest\t\t",
        ],
        "{rows}"
    );
    c.stop().await;
}

#[tokio::test]
async fn corrupt_spool_segment_does_not_stop_the_rest() {
    let ch = shared_server().fresh_db("corrupt").await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let batch = |site: &str, n: u128| {
        let hits: Vec<Hit> = (0..n)
            .map(|i| Hit {
                event_id: uuid::Uuid::from_u128(n * 1000 + i + 1),
                received_at: 1_764_000_000,
                site: site.into(),
                r#type: "pageview".into(),
                ..Hit::default()
            })
            .collect();
        Batch {
            rows: n as u32,
            bytes: Hit::encode_batch(&hits),
        }
    };
    let s = spool::Spool::open(dir.path(), 1 << 20).unwrap_or_else(|e| panic!("{e}"));
    for b in [batch("a", 3), batch("b", 4), batch("c", 5)] {
        s.append(&b).unwrap_or_else(|e| panic!("{e}"));
    }
    drop(s);
    // Flip one payload byte of the middle segment.
    let mid = dir.path().join(format!("seg-{:020}.bin", 1));
    let mut data = std::fs::read(&mid).unwrap_or_default();
    data[spool::HEADER_LEN + 3] ^= 0x40;
    std::fs::write(&mid, data).unwrap_or_else(|e| panic!("{e}"));
    // And a stray garbage file with a segment name.
    std::fs::write(
        dir.path().join(format!("seg-{:020}.bin", 7)),
        Bytes::from_static(b"not a segment"),
    )
    .unwrap_or_else(|e| panic!("{e}"));

    let c = start_with_spool(&ch, &[], dir).await;
    let n = wait_for_count(&ch, "SELECT count() FROM hits", 8, Duration::from_secs(15)).await;
    assert_eq!(n, 8);
    let sites = query_text(
        &ch,
        "SELECT site, count() FROM hits GROUP BY site ORDER BY site",
    )
    .await;
    assert_eq!(sites, "a\t3\nc\t5\n");
    let metrics = c.ops_get("/metrics").await.text();
    assert!(
        metrics.contains("collector_spool_corrupt_segments_total"),
        "{metrics}"
    );
    let dir = c.stop().await;
    let aside: Vec<String> = std::fs::read_dir(dir.path().join("corrupt"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(aside.len(), 2, "{aside:?}");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with("seg-"))
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "spool not emptied: {left:?}");
}

#[tokio::test]
async fn bad_data_is_quarantined_and_does_not_block_the_rest() {
    let ch = shared_server().fresh_db("quar").await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let good = |site: &str, base: u128| {
        let hits: Vec<Hit> = (0..3)
            .map(|i| Hit {
                event_id: uuid::Uuid::from_u128(base + i),
                received_at: 1_764_000_000,
                site: site.into(),
                r#type: "pageview".into(),
                ..Hit::default()
            })
            .collect();
        Batch {
            rows: 3,
            bytes: Hit::encode_batch(&hits),
        }
    };
    // Checksummed fine, but not RowBinary ClickHouse can read: a row cut off in the middle.
    let whole = good("x", 100).bytes;
    let cut = Batch {
        rows: 1,
        bytes: whole.slice(..whole.len() / 3 + 1),
    };
    let s = spool::Spool::open(dir.path(), 1 << 20).unwrap_or_else(|e| panic!("{e}"));
    for b in [good("a", 1), cut, good("c", 10)] {
        s.append(&b).unwrap_or_else(|e| panic!("{e}"));
    }
    drop(s);
    let c = start_with_spool(&ch, &[], dir).await;
    let n = wait_for_count(&ch, "SELECT count() FROM hits", 6, Duration::from_secs(15)).await;
    assert_eq!(n, 6);
    let mut quarantined = Vec::new();
    for _ in 0..50 {
        quarantined = std::fs::read_dir(c.spool.path().join("quarantine"))
            .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        if !quarantined.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    // The quarantined file is a verifiable segment holding the refused bytes.
    let data = std::fs::read(&quarantined[0]).unwrap_or_default();
    let back = spool::decode_segment(&data).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back.bytes.len(), whole.len() / 3 + 1);
    let metrics = c.ops_get("/metrics").await.text();
    assert!(
        metrics.contains("collector_insert_errors_total{class=\"bad_data\"}"),
        "{metrics}"
    );
    let dir = c.stop().await;
    let left = std::fs::read_dir(dir.path())
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with("seg-"))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(left, 0, "the bad batch must not stay in the spool");
}
