//! The reconciliation against a real ClickHouse (testkit's private server, a fresh database):
//! exact counts pass, replayed duplicates are folded and reported, a missing or an extra row
//! fails, and only this run's site is counted.

use std::time::Duration;

use load_tests::reconcile::{settle_and_check, Expectation};

async fn insert(ch: &common::ch::ChSettings, site: &str, ids: &[String]) {
    for id in ids {
        ch.client()
            .query("INSERT INTO hits (event_id, received_at, site) VALUES (?, toDateTime('2026-01-02 03:04:05'), ?)")
            .bind(id.as_str())
            .bind(site)
            .execute()
            .await
            .expect("insert");
    }
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|_| uuid::Uuid::new_v4().to_string()).collect()
}

#[tokio::test]
async fn counts_distinct_hits_and_folds_replays() {
    let ch = testkit::shared_server().fresh_db("loadrec").await;
    let run = ids(30);
    insert(&ch, "run-a", &run).await;
    insert(&ch, "run-a", &run[..7]).await; // a replayed batch: same event_id and received_at
    insert(&ch, "other-run", &ids(5)).await;

    let exact = Expectation {
        accepted: 30,
        unknown: 0,
        allow_loss: false,
    };
    let v = settle_and_check(&ch, "run-a", &exact, Duration::from_secs(10))
        .await
        .expect("check");
    assert!(v.ok, "{:?}", v.problems);
    assert_eq!(v.counts.distinct, 30);
    // A background merge may fold the replay before we look; either way none survives.
    assert!((30..=37).contains(&v.counts.raw_rows), "{:?}", v.counts);
    assert_eq!(v.duplicates_folded, v.counts.raw_rows - 30);
    assert_eq!(v.counts.rows_after_optimize, 30);

    let one_missing = Expectation {
        accepted: 31,
        ..exact
    };
    let v = settle_and_check(&ch, "run-a", &one_missing, Duration::from_secs(3))
        .await
        .expect("check");
    assert!(!v.ok);
    assert_eq!(v.lost, 1);

    let one_extra = Expectation {
        accepted: 29,
        ..exact
    };
    let v = settle_and_check(&ch, "run-a", &one_extra, Duration::from_secs(3))
        .await
        .expect("check");
    assert!(!v.ok);
    assert_eq!(v.extra, 1);
    let explained = Expectation {
        accepted: 29,
        unknown: 1,
        allow_loss: false,
    };
    let v = settle_and_check(&ch, "run-a", &explained, Duration::from_secs(3))
        .await
        .expect("check");
    assert!(v.ok, "{:?}", v.problems);
}

#[tokio::test]
async fn measured_loss_passes_only_when_allowed() {
    let ch = testkit::shared_server().fresh_db("loadloss").await;
    insert(&ch, "run-k", &ids(10)).await;
    let e = Expectation {
        accepted: 12,
        unknown: 0,
        allow_loss: true,
    };
    let v = settle_and_check(&ch, "run-k", &e, Duration::from_secs(8))
        .await
        .expect("check");
    assert!(v.ok);
    assert_eq!(v.lost, 2);
}
