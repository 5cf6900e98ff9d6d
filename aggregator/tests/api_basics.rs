//! Black-box over TCP: auth (401 without or with a wrong token), unknown routes, `/metrics`
//! without auth, and the schema check.

mod support;

use support::{call, call_as, raw, start};

#[tokio::test]
async fn api_needs_the_bearer_token() {
    let s = start("basics_auth").await;
    for token in [
        None,
        Some("wrong"),
        Some(""),
        Some("test-admin-token-012345678"),
    ] {
        let a = call_as(s.addr, "POST", "/api/persons", "[]", token).await;
        assert_eq!(a.status, 401, "token {token:?}: {a:?}");
        assert_eq!(a.header("www-authenticate"), Some("Bearer"));
        assert!(a.json()["error"].is_string(), "{a:?}");
    }
    // Unknown routes answer 401 without the token (nothing about the API leaks) and 404
    // with it.
    let a = call_as(s.addr, "GET", "/api/nothing-here", "", None).await;
    assert_eq!(a.status, 401, "{a:?}");
    let a = call(s.addr, "GET", "/api/nothing-here", "").await;
    assert_eq!(a.status, 404, "{a:?}");
    // The scheme name is case-insensitive (RFC 9110); the token is not.
    let req = format!(
        "GET /api/nothing-here HTTP/1.1\r\nHost: t\r\nAuthorization: bearer {}\r\nConnection: close\r\n\r\n",
        support::TOKEN
    );
    assert_eq!(raw(s.addr, req.as_bytes()).await.status, 404);
    let upper = support::TOKEN.to_ascii_uppercase();
    let a = call_as(s.addr, "GET", "/api/nothing-here", "", Some(&upper)).await;
    assert_eq!(a.status, 401);
}

#[tokio::test]
async fn metrics_are_open_and_named_from_the_catalogue() {
    let s = start("basics_metrics").await;
    let _ = call_as(s.addr, "POST", "/api/persons", "[]", None).await;
    let a = raw(
        s.addr,
        b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(a.status, 200);
    assert!(
        a.body.contains("aggregator_auth_failures_total"),
        "{}",
        a.body
    );
    for line in a.body.lines().filter(|l| l.starts_with("aggregator_")) {
        let name = line.split(['{', ' ']).next().unwrap_or_default();
        let base = name
            .trim_end_matches("_bucket")
            .trim_end_matches("_sum")
            .trim_end_matches("_count");
        assert!(
            aggregator::telemetry::METRIC_NAMES.contains(&base)
                || aggregator::telemetry::METRIC_NAMES.contains(&name),
            "{name} is not in the catalogue"
        );
    }
}

#[tokio::test]
async fn schema_check_refuses_an_unmigrated_database() {
    let server = testkit::shared_server();
    let empty = common::ch::ChSettings {
        url: server.url(),
        database: "default".into(),
        ..Default::default()
    };
    let cfg = support::config(&empty, &[]);
    assert!(aggregator::server::preflight(&cfg).await.is_err());
    let db = server.fresh_db("basics_schema").await;
    let cfg = support::config(&db, &[]);
    assert_eq!(
        aggregator::server::preflight(&cfg).await.ok(),
        Some(common::schema::required_version())
    );
}
