//! The whole loop against a real ClickHouse, with the real collector in-process: CRM persons
//! and consent → mailing → send log → signed links → a click on the collector (302 to the
//! signed target plus a landing person token) → the landing page's hit links the visitor →
//! later page hits of that visitor carry the person and account, also after a collector
//! restart (links read back from ClickHouse) → a consent withdrawal makes them anonymous.

mod support;

use std::time::{Duration, Instant};

use support::live::{self as coll, wait_for};
use support::{call, config, start_with};

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    let query = url.split_once('?')?.1.split('#').next()?;
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

#[tokio::test]
async fn click_links_the_visitor_and_consent_withdrawal_ends_it() {
    let db = testkit::shared_server().fresh_db("round_trip").await;
    let bound = coll::bind().await;
    let public = format!("http://{}", bound.addr);
    let agg = start_with(config(&db, &[("AGGREGATOR_PUBLIC_URL", &public)])).await;
    let now = now_s();
    let consent = format!(
        r#"[{{"person_id":"alice","purpose":"tracking","granted":true,"source":"signup","text_version":"v1","at":{}}}]"#,
        now - 7200
    );
    let mailing = format!(
        r#"{{"mailing_id":"m1","name":"Spring","sent_at":{}}}"#,
        now - 3600
    );
    for (path, body) in [
        ("/api/accounts", r#"[{"account_id":"acme","name":"ACME"}]"#.to_string()),
        ("/api/persons", r#"[{"person_id":"alice","account_id":"acme"},{"person_id":"bob","account_id":"acme"}]"#.to_string()),
        ("/api/consents", consent),
        ("/api/mailings", mailing),
        ("/api/mailings/m1/sends", r#"["alice","bob"]"#.to_string()),
    ] {
        let a = call(agg.addr, "POST", path, &body).await;
        assert_eq!(a.status, 200, "{path}: {}", a.body);
    }
    let a = call(
        agg.addr,
        "POST",
        "/api/links/sign",
        r#"{"mailing_id":"m1","links":[{"link_id":"cta","url":"https://shop.example.com/spring?utm_source=mail#offer"}],
            "recipients":[{"person_id":"alice"},{"person_id":"bob"}]}"#,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let signed = a.json();
    let click_url = signed["recipients"][0]["links"][0]["url"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let path = click_url
        .strip_prefix(&public)
        .unwrap_or_else(|| panic!("{click_url} not on {public}"))
        .to_string();

    // The collector starts after the consent exists: its first directory load sees it.
    let c = coll::start(bound, &db, &[]).await;
    let r = c.get(&path, &[]).await;
    assert_eq!(r.status, 302, "{r:?}");
    let location = r.header("location").unwrap_or_default().to_string();
    assert!(
        location.starts_with("https://shop.example.com/spring?utm_source=mail&tq_pt=")
            && location.ends_with("#offer"),
        "{location}"
    );
    let pt = param(&location, "tq_pt").unwrap_or_default().to_string();

    // Bob never consented: his click redirects to the bare target and stays anonymous.
    let bob_path = signed["recipients"][1]["links"][0]["url"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches(&public)
        .to_string();
    let r = c.get(&bob_path, &[]).await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location"),
        Some("https://shop.example.com/spring?utm_source=mail#offer")
    );

    // The landing page's tracker sends the token with its own (consented) visitor id.
    let landing = "https%3A%2F%2Fshop.example.com%2Fspring%3Futm_source%3Dmail";
    let r = c
        .get(
            &format!("/p.gif?s=shop&u={landing}&v=visitor-abc123&pt={pt}"),
            &[],
        )
        .await;
    assert_eq!(r.status, 200);
    let links = wait_for(
        &db,
        "SELECT visitor_id, person_id, site, source, revoked FROM identity_links",
        "visitor-abc123\talice\tshop\tpt\t0",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(links, "visitor-abc123\talice\tshop\tpt\t0");

    // A later page of that visitor, without any token, carries alice and her account.
    let r = c
        .get(
            "/p.gif?s=shop&u=https%3A%2F%2Fshop.example.com%2Fpricing&v=visitor-abc123",
            &[],
        )
        .await;
    assert_eq!(r.status, 200);
    let sql = "SELECT type, path, person_id, account_id, consent, mailing_id, link_id, verdict \
               FROM hits ORDER BY ts_ms";
    let want = "click\t/spring\talice\tacme\t1\tm1\tcta\thuman\n\
                click\t/spring\t\t\t0\tm1\tcta\thuman\n\
                pageview\t/spring\talice\tacme\t1\t\t\t\n\
                pageview\t/pricing\talice\tacme\t1\t\t\t";
    assert_eq!(
        wait_for(&db, sql, want, Duration::from_secs(10)).await,
        want.trim()
    );
    c.stop().await;

    // A fresh collector knows the link from ClickHouse alone.
    let c = coll::start(coll::bind().await, &db, &[]).await;
    c.get(
        "/p.gif?s=shop&u=https%3A%2F%2Fshop.example.com%2Fcart&v=visitor-abc123",
        &[],
    )
    .await;
    let cart = "SELECT person_id, account_id FROM hits WHERE path = '/cart'";
    assert_eq!(
        wait_for(&db, cart, "alice\tacme", Duration::from_secs(10)).await,
        "alice\tacme"
    );

    // Withdrawal: within the refresh period, clicks stop carrying a token and the visitor's
    // hits are anonymous again. The contract allows 60 s; this collector reloads every 200 ms.
    let withdraw = format!(
        r#"{{"person_id":"alice","purpose":"tracking","granted":false,"source":"preference-centre","at":{}}}"#,
        now_s()
    );
    let a = call(agg.addr, "POST", "/api/consents", &withdraw).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let started = Instant::now();
    loop {
        let r = c.get(&path, &[]).await;
        let loc = r.header("location").unwrap_or_default().to_string();
        if !loc.contains("tq_pt=") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "withdrawal not seen in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "withdrawal took {took:?}");
    c.get(
        "/p.gif?s=shop&u=https%3A%2F%2Fshop.example.com%2Fafter&v=visitor-abc123",
        &[],
    )
    .await;
    // A still-valid old person token no longer identifies anyone either.
    c.get(
        &format!(
            "/p.gif?s=shop&u=https%3A%2F%2Fshop.example.com%2Fafter2&v=visitor-zzz999&pt={pt}"
        ),
        &[],
    )
    .await;
    let after = "SELECT path, person_id, account_id, consent FROM hits \
                 WHERE path IN ('/after', '/after2') ORDER BY path";
    let want = "/after\t\t\t0\n/after2\t\t\t0";
    assert_eq!(
        wait_for(&db, after, want, Duration::from_secs(10)).await,
        want
    );
    c.stop().await;
    // The withdrawal revoked the link in the ledger too, and no new link was made.
    let links = testkit::query_text(
        &db,
        "SELECT visitor_id, person_id, argMax(revoked, version), count() FROM identity_links \
         GROUP BY visitor_id, person_id",
    )
    .await;
    assert_eq!(links.trim(), "visitor-abc123\talice\t1\t2");
}
