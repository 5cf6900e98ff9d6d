//! Intake against a real ClickHouse: rows land, a bad row refuses the whole request (400 with
//! error, field and index, nothing stored), repeats store one copy, the latest version of a
//! person wins, send logs default to the mailing's time, and bodies over the cap are 413.

mod support;

use support::{call, raw, start};
use testkit::query_text;

#[tokio::test]
async fn persons_upsert_latest_wins_and_repeats_fold() {
    let s = start("intake_persons").await;
    let body = r#"[{"person_id":"p1","account_id":"a1","email":"p1@example.com","attributes":{"tier":"gold"}},
                   {"person_id":"p2","account_id":"a1"},
                   {"person_id":"p1","account_id":"a2"}]"#;
    let a = call(s.addr, "POST", "/api/persons", body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["accepted"], 3);
    let again = call(s.addr, "POST", "/api/persons", body).await;
    assert_eq!(again.status, 200);
    let out = query_text(
        &s.db,
        "SELECT person_id, account_id, email FROM persons FINAL ORDER BY person_id",
    )
    .await;
    // The later row of the request wins for p1; the repeat changes nothing readers see.
    assert_eq!(out, "p1\ta2\t\np2\ta1\t\n");
    let a = call(
        s.addr,
        "POST",
        "/api/persons",
        r#"{"person_id":"p1","account_id":"a3"}"#,
    )
    .await;
    assert_eq!(a.status, 200);
    let out = query_text(
        &s.db,
        "SELECT account_id FROM persons FINAL WHERE person_id = 'p1'",
    )
    .await;
    assert_eq!(out, "a3\n");
}

#[tokio::test]
async fn a_bad_row_refuses_the_whole_request() {
    let s = start("intake_all_or_nothing").await;
    let cases: &[(&str, &str, &str, Option<u64>)] = &[
        (
            "/api/persons",
            r#"[{"person_id":"ok"},{"person_id":""}]"#,
            "person_id",
            Some(1),
        ),
        (
            "/api/persons",
            r#"[{"person_id":"ok"},{"person_id":"x","acount_id":"typo"}]"#,
            "acount_id",
            Some(1),
        ),
        (
            "/api/persons",
            r#"[{"person_id":"ok"},{"person_id":"x","attributes":[1]}]"#,
            "attributes",
            Some(1),
        ),
        (
            "/api/persons",
            r#"[{"person_id":"ok"},{"person_id":5}]"#,
            "person_id",
            Some(1),
        ),
        (
            "/api/accounts",
            r#"[{"account_id":"a"},{"account_id":"b","name":"x\u0000y"}]"#,
            "name",
            Some(1),
        ),
        (
            "/api/mailings",
            r#"[{"mailing_id":"m1","sent_at":"2026-01-01T00:00:00Z"},{"mailing_id":"m2","sent_at":"yesterday"}]"#,
            "sent_at",
            Some(1),
        ),
        (
            "/api/mailings",
            r#"[{"mailing_id":"m1"}]"#,
            "sent_at",
            Some(0),
        ),
        (
            "/api/consents",
            r#"[{"person_id":"p","purpose":"tracking","granted":true,"at":1700000000},{"person_id":"p","purpose":"Tracking!","granted":true,"at":1700000000}]"#,
            "purpose",
            Some(1),
        ),
        (
            "/api/consents",
            r#"[{"person_id":"p","purpose":"tracking","granted":"yes","at":1700000000}]"#,
            "granted",
            Some(0),
        ),
        (
            "/api/consents",
            r#"[{"person_id":"p","purpose":"tracking","granted":true}]"#,
            "at",
            Some(0),
        ),
    ];
    for (path, body, field, index) in cases {
        let a = call(s.addr, "POST", path, body).await;
        assert_eq!(a.status, 400, "{path} {body}: {}", a.body);
        let j = a.json();
        assert!(j["error"].is_string(), "{}", a.body);
        assert_eq!(j["field"], *field, "{path} {body}: {}", a.body);
        assert_eq!(j["index"].as_u64(), *index, "{path} {body}: {}", a.body);
    }
    for bad in ["", "nope", "42", "[1]"] {
        let a = call(s.addr, "POST", "/api/persons", bad).await;
        assert_eq!(a.status, 400, "{bad}: {}", a.body);
    }
    let counts = query_text(
        &s.db,
        "SELECT (SELECT count() FROM persons), (SELECT count() FROM accounts), \
         (SELECT count() FROM mailings), (SELECT count() FROM consents)",
    )
    .await;
    assert_eq!(counts, "0\t0\t0\t0\n", "a refused request stored rows");
}

#[tokio::test]
async fn sends_and_consents() {
    let s = start("intake_sends").await;
    let a = call(s.addr, "POST", "/api/mailings/m1/sends", r#"["p1"]"#).await;
    assert_eq!(a.status, 404, "sends need a registered mailing: {}", a.body);
    let a = call(
        s.addr,
        "POST",
        "/api/mailings",
        r#"{"mailing_id":"m1","name":"Spring","subject":"Hi","sent_at":"2026-03-01T08:00:00Z"}"#,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let body = r#"["p1", {"person_id":"p2","sent_at":"2026-03-01T08:05:00Z"}]"#;
    for _ in 0..2 {
        let a = call(s.addr, "POST", "/api/mailings/m1/sends", body).await;
        assert_eq!(a.status, 200, "{}", a.body);
    }
    let a = call(s.addr, "POST", "/api/mailings/m1/sends", r#"["p3", 7]"#).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.json()["index"], 1);
    let out = query_text(
        &s.db,
        "SELECT person_id, toUnixTimestamp(sent_at) FROM mailing_sends FINAL ORDER BY person_id",
    )
    .await;
    assert_eq!(out, "p1\t1772352000\np2\t1772352300\n");

    let consent = r#"[{"person_id":"p1","purpose":"tracking","granted":true,"source":"signup-form","text_version":"v3","at":"2026-03-01T07:00:00Z","recorded_by":"crm"},
                      {"person_id":"p1","purpose":"tracking","granted":false,"source":"preference-centre","at":"2026-03-02T07:00:00Z"}]"#;
    for _ in 0..2 {
        let a = call(s.addr, "POST", "/api/consents", consent).await;
        assert_eq!(a.status, 200, "{}", a.body);
    }
    let out = query_text(
        &s.db,
        "SELECT granted, source, text_version, recorded_by, length(consent_id) FROM consents FINAL ORDER BY at",
    )
    .await;
    assert_eq!(
        out,
        "1\tsignup-form\tv3\tcrm\t32\n0\tpreference-centre\t\tapi\t32\n"
    );
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let s = start("intake_413").await;
    let big = format!("[\"{}\"]", "x".repeat(70_000));
    let a = call(s.addr, "POST", "/api/persons", &big).await;
    assert_eq!(a.status, 413, "{}", a.body);
    // Without a Content-Length (chunked), the cap still holds while reading.
    let req = format!(
        "POST /api/persons HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{}\r\n0\r\n\r\n",
        support::TOKEN,
        big.len(),
        big
    );
    let a = raw(s.addr, req.as_bytes()).await;
    assert_eq!(a.status, 413, "{}", a.body);
}
