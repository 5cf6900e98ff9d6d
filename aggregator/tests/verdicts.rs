//! Machine verdicts on the real collector, with send times read from ClickHouse: Apple MPP
//! opens, HEAD and scanner-agent clicks, clicks seconds after the send, a burst over every
//! link, and people. Each event is stored with its verdict; none is dropped.

mod support;

use std::time::Duration;

use support::live::{self, wait_for, BROWSER};
use support::{call, config, start_with};

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[tokio::test]
async fn opens_and_clicks_carry_their_verdict() {
    let db = testkit::shared_server().fresh_db("verdicts").await;
    let bound = live::bind().await;
    let public = format!("http://{}", bound.addr);
    let agg = start_with(config(&db, &[("AGGREGATOR_PUBLIC_URL", &public)])).await;
    let now = now_s();
    let mailing = format!(r#"{{"mailing_id":"m1","sent_at":{}}}"#, now - 3600);
    // "fresh" got the mail just now: a click within seconds is a gateway scanning it.
    let sends = format!(r#"["early", "human", "burst", {{"person_id":"fresh","sent_at":{now}}}]"#);
    // Consent, so the person is kept on each event and the test can tell them apart.
    let consents = format!(
        "[{}]",
        ["early", "human", "burst", "fresh"]
            .map(|p| format!(
                r#"{{"person_id":"{p}","purpose":"tracking","granted":true,"at":{}}}"#,
                now - 7200
            ))
            .join(",")
    );
    for (path, body) in [
        ("/api/mailings", mailing),
        ("/api/mailings/m1/sends", sends),
        ("/api/consents", consents),
    ] {
        let a = call(agg.addr, "POST", path, &body).await;
        assert_eq!(a.status, 200, "{path}: {}", a.body);
    }
    let body = r#"{"mailing_id":"m1","links":[{"link_id":"a","url":"https://shop.example.com/a"},
        {"link_id":"b","url":"https://shop.example.com/b"},{"link_id":"c","url":"https://shop.example.com/c"}],
        "recipients":[{"person_id":"early"},{"person_id":"human"},{"person_id":"burst"},{"person_id":"fresh"}]}"#;
    let a = call(agg.addr, "POST", "/api/links/sign", body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let j = a.json();
    let path_of = |r: usize, key: &str, l: Option<usize>| -> String {
        let v = match l {
            Some(l) => &j["recipients"][r]["links"][l]["url"],
            None => &j["recipients"][r][key],
        };
        v.as_str()
            .unwrap_or_default()
            .trim_start_matches(&public)
            .to_string()
    };
    let c = live::start(bound, &db, &[]).await;
    let apple = [("User-Agent", "Mozilla/5.0")];
    c.get(&path_of(0, "open_url", None), &apple).await;
    c.get(&path_of(1, "open_url", None), &[]).await;
    let head = format!(
        "HEAD {} HTTP/1.1\r\nHost: t\r\nUser-Agent: {BROWSER}\r\nConnection: close\r\n\r\n",
        path_of(0, "", Some(0))
    );
    let r = support::raw(c.addr, head.as_bytes()).await;
    assert_eq!(r.status, 302, "{r:?}");
    let r = c
        .get(
            &path_of(0, "", Some(1)),
            &[("User-Agent", "Mozilla/5.0 (compatible; Barracuda Sentinel)")],
        )
        .await;
    assert_eq!(
        r.status, 302,
        "scanners are redirected too; only the verdict differs"
    );
    c.get(&path_of(1, "", Some(0)), &[]).await;
    for l in 0..3 {
        c.get(&path_of(2, "", Some(l)), &[]).await;
    }
    c.get(&path_of(3, "", Some(0)), &[]).await;

    let sql =
        "SELECT person_id, type, link_id, verdict FROM hits ORDER BY person_id, type DESC, link_id";
    let want = "burst\tclick\ta\thuman\n\
                burst\tclick\tb\tscanner\n\
                burst\tclick\tc\tscanner\n\
                early\topen\t\tapple_mpp\n\
                early\tclick\ta\tscanner\n\
                early\tclick\tb\tscanner\n\
                fresh\tclick\ta\tscanner\n\
                human\topen\t\thuman\n\
                human\tclick\ta\thuman";
    assert_eq!(
        wait_for(&db, sql, want, Duration::from_secs(10)).await,
        want
    );
    c.stop().await;
}
