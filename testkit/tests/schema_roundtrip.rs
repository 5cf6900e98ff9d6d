//! Against a real ClickHouse server: migrations apply (twice, concurrently) and an encoded hit
//! batch inserted through the crate's RowBinary path reads back field for field.

use bytes::Bytes;
use common::hit::{hits_insert_sql, Hit};
use testkit::{query_text, shared_server};

#[tokio::test]
async fn migrate_is_idempotent_and_concurrent() {
    let s = shared_server().fresh_db("mig").await;
    let (a, b) = tokio::join!(common::schema::migrate(&s), common::schema::migrate(&s));
    assert!(a.is_ok() && b.is_ok(), "{a:?} {b:?}");
    assert_eq!(a.unwrap_or_default(), Vec::<u32>::new());
    let v = common::schema::check(&s)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v, common::schema::required_version());
    let tables = query_text(
        &s,
        "SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name",
    )
    .await;
    for t in [
        "accounts",
        "consents",
        "hits",
        "identity_links",
        "mailing_sends",
        "mailings",
        "persons",
    ] {
        assert!(
            tables.lines().any(|l| l == t),
            "missing table {t} in {tables}"
        );
    }
}

#[tokio::test]
async fn check_refuses_an_empty_database() {
    let server = shared_server();
    let s = common::ch::ChSettings {
        url: server.url(),
        database: "default".into(),
        ..Default::default()
    };
    assert!(common::schema::check(&s).await.is_err());
}

#[tokio::test]
async fn encoded_hits_round_trip() {
    let s = shared_server().fresh_db("rt").await;
    let hit = Hit {
        event_id: uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
        received_at: 1_764_000_000,
        ts_ms: 1_764_000_000_123,
        site: "site-1".into(),
        r#type: "pageview".into(),
        url: "https://example.com/a?utm_source=x".into(),
        path: "/a".into(),
        title: "Ünïcode — title".into(),
        props: "x".repeat(300),
        is_bot: 1,
        consent: 1,
        screen_w: 1920,
        screen_h: 1080,
        replica: "r1".into(),
        ..Hit::default()
    };
    let body: Bytes = Hit::encode_batch(&[
        hit.clone(),
        Hit {
            event_id: uuid::Uuid::nil(),
            ..hit.clone()
        },
    ]);
    let mut insert = s.client().insert_formatted_with(hits_insert_sql());
    insert
        .send(body)
        .await
        .unwrap_or_else(|e| panic!("send: {e}"));
    insert.end().await.unwrap_or_else(|e| panic!("end: {e}"));
    let out = query_text(
        &s,
        "SELECT toString(event_id), received_at, ts_ms, site, type, path, title, length(props), is_bot, consent, screen_w, screen_h, replica FROM hits ORDER BY event_id DESC",
    )
    .await;
    let first = out.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        "01234567-89ab-cdef-0123-456789abcdef\t2025-11-24 16:00:00\t1764000000123\tsite-1\tpageview\t/a\tÜnïcode — title\t300\t1\t1\t1920\t1080\tr1"
    );
    assert_eq!(out.lines().count(), 2);
}
