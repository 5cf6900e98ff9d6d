//! GDPR against a real ClickHouse: export shows everything held about a person (profile,
//! consents, links, hits of linked visitors, mailing events, result tables), erasure leaves
//! zero rows of the person in any table (result tables included), keeps everyone else's,
//! writes a receipt, and a repeated erasure returns the same receipt.

mod support;

use std::time::Duration;

use bytes::Bytes;
use common::hit::{hits_insert_sql, Hit};
use support::{call, start};
use testkit::query_text;

async fn exec(db: &common::ch::ChSettings, sql: &str) {
    db.client()
        .query(sql)
        .execute()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn hit(n: u128, kind: &str, visitor: &str, person: &str) -> Hit {
    Hit {
        event_id: uuid::Uuid::from_u128(n),
        received_at: 1_772_400_000 + n as u32,
        ts_ms: 1_772_400_000_000 + n as u64 * 1000,
        site: "shop".into(),
        r#type: kind.into(),
        url: "https://shop.example.com/a".into(),
        path: "/a".into(),
        visitor_id: visitor.into(),
        person_id: person.into(),
        mailing_id: if kind == "click" {
            "m1".into()
        } else {
            String::new()
        },
        ..Hit::default()
    }
}

async fn seed(s: &support::TestServer) {
    for (path, body) in [
        ("/api/accounts", r#"[{"account_id":"acme","name":"ACME"}]"#),
        (
            "/api/persons",
            r#"[{"person_id":"alice","account_id":"acme","email":"alice@acme.example"},{"person_id":"bob","account_id":"acme"}]"#,
        ),
        (
            "/api/mailings",
            r#"{"mailing_id":"m1","sent_at":"2026-03-01T08:00:00Z"}"#,
        ),
        ("/api/mailings/m1/sends", r#"["alice","bob"]"#),
        (
            "/api/consents",
            r#"[{"person_id":"alice","purpose":"tracking","granted":true,"at":1772000000},{"person_id":"bob","purpose":"tracking","granted":true,"at":1772000000}]"#,
        ),
    ] {
        let a = call(s.addr, "POST", path, body).await;
        assert_eq!(a.status, 200, "{path}: {}", a.body);
    }
    // v-alice-2 is a shared device: bob identified on it later too (a conflict).
    exec(&s.db, "INSERT INTO identity_links VALUES ('v-alice-1','alice','shop','click',now(),0,1), ('v-alice-2','alice','shop','pt',now(),0,1), ('v-bob','bob','shop','click',now(),0,1), ('v-alice-2','bob','shop','pt',now(),0,2)").await;
    exec(
        &s.db,
        "INSERT INTO identity_conflicts VALUES ('v-alice-2','bob','alice','shop',now())",
    )
    .await;
    // A result table as the metric jobs might add it, with a person column.
    exec(&s.db, "CREATE TABLE person_scores (person_id String, score Float64) ENGINE = MergeTree ORDER BY person_id").await;
    exec(
        &s.db,
        "INSERT INTO person_scores VALUES ('alice', 3.5), ('bob', 1)",
    )
    .await;
    let hits = [
        hit(1, "click", "v-alice-1", "alice"),
        hit(2, "pageview", "v-alice-1", "alice"),
        // Before the link was made: anonymous, but the linked visitor's, so alice's.
        hit(3, "pageview", "v-alice-2", ""),
        hit(4, "pageview", "v-bob", "bob"),
        hit(5, "pageview", "v-stranger", ""),
        // Bob's own hit on the shared device stays his.
        hit(6, "pageview", "v-alice-2", "bob"),
    ];
    let mut insert = s.db.client().insert_formatted_with(hits_insert_sql());
    let body: Bytes = Hit::encode_batch(&hits);
    insert.send(body).await.unwrap_or_else(|e| panic!("{e}"));
    insert.end().await.unwrap_or_else(|e| panic!("{e}"));
}

/// Rows mentioning `who` in any column of any table except the receipts.
async fn rows_mentioning(db: &common::ch::ChSettings, who: &str, visitors: &[&str]) -> Vec<String> {
    let tables = query_text(db, "SELECT name FROM system.tables WHERE database = currentDatabase() AND name NOT IN ('erasures','schema_migrations')").await;
    let mut found = Vec::new();
    for t in tables.lines() {
        let cols = query_text(db, &format!("SELECT name FROM system.columns WHERE database = currentDatabase() AND table = '{t}' AND type = 'String'")).await;
        for c in cols.lines() {
            let mut values = vec![who];
            values.extend_from_slice(visitors);
            for v in values {
                let n = query_text(
                    db,
                    &format!("SELECT count() FROM `{t}` WHERE `{c}` = '{v}'"),
                )
                .await;
                if n.trim() != "0" {
                    found.push(format!("{t}.{c}={v}: {}", n.trim()));
                }
            }
        }
    }
    found
}

#[tokio::test]
async fn export_then_erase_leaves_nothing_of_the_person() {
    let s = start("gdpr").await;
    seed(&s).await;

    let a = call(s.addr, "GET", "/api/persons/alice/export", "").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let j = a.json();
    assert_eq!(j["profile"]["email"], "alice@acme.example");
    assert_eq!(j["account"]["name"], "ACME");
    assert_eq!(j["consents"].as_array().map(Vec::len), Some(1));
    assert_eq!(j["identity_links"].as_array().map(Vec::len), Some(2));
    assert_eq!(j["identity_conflicts"].as_array().map(Vec::len), Some(1));
    assert_eq!(j["mailing_sends"].as_array().map(Vec::len), Some(1));
    assert_eq!(j["mailing_events"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        j["hits"].as_array().map(Vec::len),
        Some(2),
        "own pageview + linked visitor's"
    );
    assert_eq!(j["other_tables"]["person_scores"][0]["score"], 3.5);
    assert!(j["erasure"].is_null());

    assert!(
        !rows_mentioning(&s.db, "alice", &["v-alice-1", "v-alice-2"])
            .await
            .is_empty()
    );
    let a = call(s.addr, "DELETE", "/api/persons/alice", "").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let receipt = a.json()["receipt"].clone();
    assert_eq!(receipt["person_id"], "alice");
    let removed = &receipt["rows_removed"];
    assert_eq!(removed["hits"], 3);
    assert_eq!(removed["persons"], 1);
    assert_eq!(removed["consents"], 1);
    assert_eq!(removed["identity_links"], 2);
    assert_eq!(removed["identity_conflicts"], 1);
    assert_eq!(removed["mailing_sends"], 1);
    assert_eq!(removed["person_scores"], 1);

    let left = rows_mentioning(&s.db, "alice", &["v-alice-1"]).await;
    assert!(left.is_empty(), "rows of alice remain: {left:?}");
    let shared = query_text(
        &s.db,
        "SELECT person_id FROM hits WHERE visitor_id = 'v-alice-2' \
         UNION ALL SELECT person_id FROM identity_links WHERE visitor_id = 'v-alice-2'",
    )
    .await;
    assert_eq!(
        shared, "bob\nbob\n",
        "only bob's rows of the shared device remain"
    );
    // Everyone else is untouched.
    let others = query_text(&s.db, "SELECT (SELECT count() FROM hits), (SELECT count() FROM persons FINAL), (SELECT count() FROM person_scores), (SELECT count() FROM identity_links)").await;
    assert_eq!(others, "3\t1\t1\t2\n");
    let stored = query_text(&s.db, "SELECT person_id, requested_by FROM erasures").await;
    assert_eq!(stored, "alice\tadmin\n");

    // Repeating is a no-op with the same receipt.
    let again = call(s.addr, "DELETE", "/api/persons/alice", "").await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["receipt"], receipt);
    assert_eq!(
        query_text(&s.db, "SELECT count() FROM erasures").await,
        "1\n"
    );
    let a = call(s.addr, "GET", "/api/persons/alice/export", "").await;
    assert!(a.json()["profile"].is_null());
    assert_eq!(a.json()["erasure"], receipt);
}

#[tokio::test]
async fn after_erasure_the_collector_stops_identifying_and_a_repeat_sweeps_late_hits() {
    let db = testkit::shared_server().fresh_db("gdpr_live").await;
    let bound = support::live::bind().await;
    let s = support::start_with(support::config(&db, &[])).await;
    for (path, body) in [
        (
            "/api/persons",
            r#"{"person_id":"alice","account_id":"acme"}"#,
        ),
        (
            "/api/consents",
            r#"{"person_id":"alice","purpose":"tracking","granted":true,"at":1772000000}"#,
        ),
    ] {
        let a = call(s.addr, "POST", path, body).await;
        assert_eq!(a.status, 200, "{path}: {}", a.body);
    }
    exec(
        &db,
        "INSERT INTO identity_links VALUES ('v-alice-9','alice','shop','pt',now(),0,1)",
    )
    .await;
    let c = support::live::start(bound, &db, &[]).await;
    let page =
        |p: &str| format!("/p.gif?s=shop&u=https%3A%2F%2Fshop.example.com%2F{p}&v=v-alice-9");
    c.get(&page("before"), &[]).await;
    let before = "SELECT person_id, account_id FROM hits WHERE path = '/before'";
    let got = support::live::wait_for(&db, before, "alice\tacme", Duration::from_secs(10)).await;
    assert_eq!(got, "alice\tacme");

    let a = call(s.addr, "DELETE", "/api/persons/alice", "").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let receipt = a.json()["receipt"].clone();
    // Within the collector's refresh, the visitor's hits are anonymous again.
    let started = std::time::Instant::now();
    loop {
        c.get(&page("after"), &[]).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let n = query_text(
            &db,
            "SELECT count() FROM hits WHERE path = '/after' AND person_id = ''",
        )
        .await;
        if n.trim() != "0" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still identified after erasure"
        );
    }
    c.stop().await;
    // Hits accepted before the collector saw the erasure may carry alice; a repeat removes
    // them and returns the first receipt.
    let again = call(s.addr, "DELETE", "/api/persons/alice", "").await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["receipt"], receipt);
    let left = rows_mentioning(&db, "alice", &[]).await;
    assert!(left.is_empty(), "rows of alice remain: {left:?}");
    assert_eq!(query_text(&db, "SELECT count() FROM erasures").await, "1\n");
}
