//! `GET /api/pages` over every way it can be answered (one day's or one month's finished row
//! of `r_page_days` / `r_page_spans`, merged day rows, `r_page_daily` while job "page_spans"
//! lags behind job "days") and through its answer cache: every answer equals the reference
//! sessionizer's figures for the range, with visitors who come back on other days and across
//! months; and days committed before their rows moved to `r_page_days` are written again.

mod metrics_support;

use std::collections::{BTreeMap, BTreeSet};

use aggregator::metrics::jobs::{self, Job};
use common::hit::Hit;
use metrics_support::{insert_hits, sessionize, start, PageFact, Rng, Server};
use serde_json::{json, Value};
use uuid::Uuid;

/// 2026-01-30 00:00 UTC.
const JAN_30: u64 = 1_769_731_200;

/// Pageviews and pings of 30 visitors on two sites over days `days` (offsets from
/// 2026-01-30), a few visits a day each, paths /a /b /c.
fn traffic(rng: &mut Rng, days: &[u64], first_id: u128) -> Vec<Hit> {
    let mut hits = Vec::new();
    let mut id = first_id;
    for &d in days {
        for v in 0..30u64 {
            if rng.below(3) == 0 {
                continue;
            }
            let mut ts = (JAN_30 + d * 86_400 + rng.below(80_000)) * 1000;
            for _ in 0..1 + rng.below(5) {
                id += 1;
                let ping = rng.below(4) == 0;
                hits.push(Hit {
                    event_id: Uuid::from_u128(id.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c)),
                    received_at: (ts / 1000) as u32,
                    ts_ms: ts,
                    site: format!("s{}", v % 2),
                    r#type: if ping { "ping" } else { "pageview" }.into(),
                    path: ["/a", "/b", "/c"][rng.below(3) as usize].into(),
                    visitor_id: format!("v{v}"),
                    ..Hit::default()
                });
                // Mostly within a session, sometimes past the 30-minute cut.
                ts += if rng.below(6) == 0 {
                    2_400_000
                } else {
                    1000 + rng.below(300_000)
                };
            }
        }
    }
    hits
}

/// The integer figures and the median of `/api/pages` for `[from, to)` (day numbers) and
/// `site` ('' = all), from the reference sessionizer.
fn expected(facts: &[PageFact], from: u64, to: u64, site: &str) -> Value {
    let mut by: BTreeMap<(&str, &str), Vec<&PageFact>> = BTreeMap::new();
    for f in facts
        .iter()
        .filter(|f| f.day >= from && f.day < to && (site.is_empty() || f.site == site))
    {
        by.entry((&f.site, &f.path)).or_default().push(f);
    }
    let mut rows: Vec<(usize, Value)> = by
        .into_iter()
        .map(|((site, path), fs)| {
            let n = |p: &dyn Fn(&PageFact) -> bool| fs.iter().filter(|f| p(f)).count();
            let mut times: Vec<u64> = fs.iter().filter_map(|f| f.time_ms).collect();
            times.sort_unstable();
            let visitors: BTreeSet<&str> = fs.iter().map(|f| f.visitor.as_str()).collect();
            let visit = |f: &PageFact| (f.visitor.clone(), f.day, f.session);
            let visits: BTreeSet<_> = fs.iter().map(|f| visit(f)).collect();
            let converting: BTreeSet<_> = fs
                .iter()
                .filter(|f| f.converts_after)
                .map(|f| visit(f))
                .collect();
            let median = times.get(times.len() / 2).map(|t| *t as f64 / 1000.0);
            let row = json!({
                "site": site, "path": path, "pageviews": fs.len(), "visitors": visitors.len(),
                "entrances": n(&|f| f.entrance), "exits": n(&|f| f.exit),
                "bounces": n(&|f| f.bounce), "timed_pageviews": times.len(),
                "median_time_on_page_s": median, "visits": visits.len(),
                "converting_visits": converting.len(),
            });
            (fs.len(), row)
        })
        .collect();
    // Stable sort: equal pageviews keep (site, path) order, as the API does.
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    Value::Array(rows.into_iter().map(|r| r.1).collect())
}

/// The fields `expected` has, from an API answer.
fn project(answer: &Value) -> Value {
    let keys = [
        "site",
        "path",
        "pageviews",
        "visitors",
        "entrances",
        "exits",
        "bounces",
        "timed_pageviews",
        "median_time_on_page_s",
        "visits",
        "converting_visits",
    ];
    let rows = answer["pages"].as_array().cloned().unwrap_or_default();
    Value::Array(
        rows.iter()
            .map(|r| {
                keys.iter()
                    .map(|k| (k.to_string(), r[*k].clone()))
                    .collect()
            })
            .collect(),
    )
}

/// Ranges as (query, first day, end day, site), days counted from 1970-01-01.
fn ranges() -> Vec<(&'static str, u64, u64, &'static str)> {
    let d = JAN_30 / 86_400;
    vec![
        ("from=2026-02-01&to=2026-03-01", d + 2, d + 30, ""),
        ("site=s1&from=2026-02-01&to=2026-03-01", d + 2, d + 30, "s1"),
        ("from=2026-02-01&to=2026-02-02", d + 2, d + 3, ""),
        (
            "site=s0&from=2026-02-28&to=2026-03-01",
            d + 29,
            d + 30,
            "s0",
        ),
        ("from=2026-01-30&to=2026-02-03", d, d + 4, ""),
        ("from=2026-01-31&to=2026-03-02", d + 1, d + 31, ""),
        ("", 0, u64::MAX, ""),
    ]
}

async fn check_all(s: &Server, facts: &[PageFact], when: &str) {
    for (q, from, to, site) in ranges() {
        let answer = s.get_ok(&format!("/api/pages?{q}")).await;
        assert_eq!(
            project(&answer),
            expected(facts, from, to, site),
            "{when}: /api/pages?{q}"
        );
        // Asked again: the cached answer is the same.
        assert_eq!(
            s.get_ok(&format!("/api/pages?{q}")).await,
            answer,
            "{when}: {q}"
        );
    }
}

#[tokio::test]
async fn every_span_plan_gives_the_reference_figures() {
    let s = start("page_spans").await;
    let mut rng = Rng(0x5eed_cafe);
    // Jan 30, 31, Feb 1, 2, 27, 28, Mar 1: two month boundaries.
    let mut hits = traffic(&mut rng, &[0, 1, 2, 3, 28, 29, 30], 0);
    insert_hits(&s.db, &hits).await;
    let (st, body) = s.call("POST", "/api/refresh", "").await;
    assert_eq!(st, 200, "{body}");
    check_all(&s, &sessionize(&hits, &[], &[]), "after a refresh").await;

    // New hits on Feb 28, and only job "days" runs: the spans of Feb 28 and February are
    // stale, so those ranges come from r_page_daily, still exact, and no cached answer of
    // the old generation is served.
    let more = traffic(&mut rng, &[29], 1_000_000);
    insert_hits(&s.db, &more).await;
    hits.extend(more);
    let ch = s.db.client();
    let version = s.state.versions.next(1);
    jobs::run(&ch, Job::Days, version, false)
        .await
        .unwrap_or_else(|e| panic!("job days: {e}"));
    let facts = sessionize(&hits, &[], &[]);
    check_all(&s, &facts, "spans behind days").await;

    // The spans job catches up: one day and one month recomputed.
    let version = s.state.versions.next(1);
    let report = jobs::run(&ch, Job::PageSpans, version, false)
        .await
        .unwrap_or_else(|e| panic!("job page_spans: {e}"));
    assert_eq!(report.buckets, ["2026-02-28", "2026-02"]);
    check_all(&s, &facts, "spans caught up").await;
    let again = jobs::run(&ch, Job::PageSpans, version + 1, false)
        .await
        .unwrap_or_else(|e| panic!("job page_spans: {e}"));
    assert!(again.buckets.is_empty(), "nothing new: {:?}", again.buckets);

    // One new pageview (a new visitor on s1 /c, Feb 27): the month is merged again only for
    // the pages whose day row changed, the other rows are carried to the new generation. A
    // marker row of the month's committed generation for a page without day rows shows the
    // carry (a merge could not make it); the carried month equals a forced full merge.
    s.exec(
        "INSERT INTO r_page_spans (span_start, span_end, version, site, path, pageviews) \
         SELECT toDate('2026-02-01'), toDate('2026-03-01'), max(version), 's9', '/marker', 7 \
         FROM r_generations WHERE job = 'page_spans' AND bucket = '2026-02'",
    )
    .await;
    let one = Hit {
        event_id: Uuid::from_u128(0xfeed),
        received_at: (JAN_30 + 28 * 86_400 + 3600) as u32,
        ts_ms: (JAN_30 + 28 * 86_400 + 3600) * 1000,
        site: "s1".into(),
        r#type: "pageview".into(),
        path: "/c".into(),
        visitor_id: "v99".into(),
        ..Hit::default()
    };
    insert_hits(&s.db, std::slice::from_ref(&one)).await;
    hits.push(one);
    let version = s.state.versions.next(1);
    jobs::run(&ch, Job::Days, version, false)
        .await
        .unwrap_or_else(|e| panic!("job days: {e}"));
    let version = s.state.versions.next(1);
    let report = jobs::run(&ch, Job::PageSpans, version, false)
        .await
        .unwrap_or_else(|e| panic!("job page_spans: {e}"));
    assert_eq!(report.buckets, ["2026-02-27", "2026-02"]);
    let month_rows = |v: u64| {
        format!(
            "SELECT site, path, pageviews, visitors, entrances, exits, bounces, timed, \
             time_sum_ms, median_ms, visits, converting_visits, visits_from_mailing, \
             visits_from_campaign FROM r_page_spans WHERE span_start = '2026-02-01' \
             AND span_end = '2026-03-01' AND version = {v} ORDER BY site, path"
        )
    };
    let carried = testkit::query_text(&s.db, &month_rows(version)).await;
    assert!(
        carried.contains("s9\t/marker\t7"),
        "marker carried:\n{carried}"
    );
    assert!(carried.contains("s1\t/c\t"), "{carried}");
    let facts = sessionize(&hits, &[], &[]);
    let forced = s.state.versions.next(1);
    jobs::run(&ch, Job::PageSpans, forced, true)
        .await
        .unwrap_or_else(|e| panic!("job page_spans: {e}"));
    let merged = testkit::query_text(&s.db, &month_rows(forced)).await;
    let real = |t: &str| {
        t.lines()
            .filter(|l| !l.starts_with("s9\t"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(real(&carried), real(&merged), "carried month = full merge");
    assert!(!merged.contains("/marker"), "{merged}");
    check_all(&s, &facts, "after a forced run").await;
}

#[tokio::test]
async fn days_committed_before_r_page_days_are_written_again() {
    let s = start("page_days").await;
    let mut rng = Rng(0xda75);
    let hits = traffic(&mut rng, &[0, 1, 2, 3], 0);
    insert_hits(&s.db, &hits).await;
    let (st, body) = s.call("POST", "/api/refresh", "").await;
    assert_eq!(st, 200, "{body}");
    let facts = sessionize(&hits, &[], &[]);
    // A database upgraded from before migration 0012: its day buckets were committed with
    // untagged fingerprints (the rows were in r_page_spans), and r_page_days holds nothing
    // of that generation. The answers must not come from r_page_days meanwhile.
    let old = s.state.versions.next(1);
    s.exec(&format!(
        "INSERT INTO r_generations (job, bucket, version, fingerprint, committed_at) \
         SELECT 'page_spans', g.bucket, {old}, toString(max(g.version)), now() \
         FROM r_generations AS g WHERE g.job = 'days' GROUP BY g.bucket"
    ))
    .await;
    check_all(&s, &facts, "day buckets of the old table").await;
    let ch = s.db.client();
    let version = s.state.versions.next(1);
    let report = jobs::run(&ch, Job::PageSpans, version, false)
        .await
        .unwrap_or_else(|e| panic!("job page_spans: {e}"));
    assert_eq!(
        report.buckets,
        [
            "2026-01-30",
            "2026-01-31",
            "2026-02-01",
            "2026-02-02",
            "2026-01",
            "2026-02"
        ]
    );
    check_all(&s, &facts, "days written again").await;
}
