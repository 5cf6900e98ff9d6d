//! `GET /api/funnels/{name}` for a day or a calendar month reads the span row job "funnels"
//! wrote (checked with a marker row only the span path can return), and gives what the walk
//! over the raw hits gives for the same hits: per step visitors, persons, conversions, medians
//! and the dropped persons (consent withdrawn: never listed), for every visitor and per
//! account; after a redefinition the outdated span is not read.

mod metrics_support;

use common::hit::Hit;
use metrics_support::{insert_hits, start, Rng, Server};
use serde_json::Value;
use uuid::Uuid;

/// 2026-01-30 00:00 UTC.
const JAN_30: u64 = 1_769_731_200;
const FUNNEL: &str = r#"{"steps":[{"name":"home","path":"/"},{"name":"pricing","path":"/pricing*"},
    {"name":"signup","event":"signup"}],"window_s":1800}"#;

/// Visitors walking /, /pricing, /blog and signing up in random order on days `days`
/// (offsets from 2026-01-30), never in a day's first minute nor its last 15 minutes; every third visitor is a known
/// person of account a0, a1 or a2.
fn traffic(rng: &mut Rng, days: &[u64], first_id: u128) -> Vec<Hit> {
    let mut hits = Vec::new();
    let mut id = first_id;
    for &d in days {
        for v in 0..40u64 {
            if rng.below(3) == 0 {
                continue;
            }
            let mut ts = (JAN_30 + d * 86_400 + 60 + rng.below(80_000)) * 1000;
            for _ in 0..1 + rng.below(6) {
                id += 1;
                let (ty, path, name) = match rng.below(5) {
                    0 | 1 => ("pageview", "/", ""),
                    2 => ("pageview", "/pricing/team", ""),
                    3 => ("pageview", "/blog", ""),
                    _ => ("event", "/", "signup"),
                };
                let person = if v % 3 == 0 {
                    format!("p{v}")
                } else {
                    String::new()
                };
                hits.push(Hit {
                    event_id: Uuid::from_u128(id.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c)),
                    received_at: (ts / 1000) as u32,
                    ts_ms: ts,
                    site: format!("s{}", v % 2),
                    r#type: ty.into(),
                    path: path.into(),
                    event_name: name.into(),
                    visitor_id: format!("v{v}"),
                    account_id: if person.is_empty() {
                        String::new()
                    } else {
                        format!("a{}", v % 3)
                    },
                    person_id: person,
                    ..Hit::default()
                });
                ts += 1000 + rng.below(900_000);
            }
        }
    }
    hits
}

/// Whether `GET /api/funnels/fspan?site=s0&{range}` reads the committed span row of bucket
/// `fspan|{span}`: a marker row of account `zz` is added at that generation, and only the
/// span path can return its 12345 visitors.
async fn reads_span(s: &Server, span: &str, start: &str, end: &str, range: &str) -> bool {
    let steps = r#"[{"name":"home","visitors":12345,"persons":0,"conversion_from_previous":1.0,"conversion_overall":1.0,"median_s_from_previous":null}]"#;
    s.exec(&format!(
        "INSERT INTO r_funnel_spans SELECT 'fspan', 's0', 'zz', toDate('{start}'), toDate('{end}'), \
         max(version), '{steps}', '[]' FROM r_generations WHERE job = 'funnels' \
         AND bucket = 'fspan|{span}'"
    ))
    .await;
    let v = s
        .get_ok(&format!("/api/funnels/fspan?site=s0&account=zz&{range}"))
        .await;
    v["steps"][0]["visitors"].as_u64() == Some(12345)
}

/// The parts of an answer both paths must agree on (floats to 1e-9).
fn assert_same(span: &Value, raw: &Value, at: &str) {
    let steps = |v: &Value| v["steps"].as_array().cloned().unwrap_or_default();
    let (a, b) = (steps(span), steps(raw));
    assert_eq!(a.len(), b.len(), "{at}: steps\n{span}\n{raw}");
    for (x, y) in a.iter().zip(&b) {
        for k in ["name", "visitors", "persons"] {
            assert_eq!(x[k], y[k], "{at}: {k}\n{span}\n{raw}");
        }
        for k in [
            "conversion_from_previous",
            "conversion_overall",
            "median_s_from_previous",
        ] {
            match (x[k].as_f64(), y[k].as_f64()) {
                (Some(p), Some(q)) => assert!((p - q).abs() < 1e-9, "{at}: {k} {p} {q}"),
                _ => assert_eq!(x[k], y[k], "{at}: {k}"),
            }
        }
    }
    assert_eq!(span["dropped"], raw["dropped"], "{at}: dropped");
}

#[tokio::test]
async fn day_and_month_spans_answer_as_the_raw_walk() {
    let s = start("funnel_spans").await;
    for v in (0..40).step_by(3) {
        s.exec(&format!(
            "INSERT INTO persons VALUES ('p{v}', 'a{}', '', '{{}}', now(), 1)",
            v % 3
        ))
        .await;
        // p0 withdrew: never among the dropped.
        let granted = u8::from(v != 0);
        s.exec(&format!(
            "INSERT INTO consents VALUES ('c{v}', 'p{v}', 'tracking', {granted}, 't', 'v1', \
             toDateTime('2026-01-01 00:00:00'), 't', now())"
        ))
        .await;
    }
    let mut rng = Rng(0xf00d_5eed);
    let hits = traffic(&mut rng, &[0, 1, 2, 3, 29], 0);
    insert_hits(&s.db, &hits).await;
    // Replayed copies of some hits count once on both paths.
    insert_hits(&s.db, &hits[..hits.len() / 3]).await;
    let (st, _) = s.call("PUT", "/api/funnels/fspan", FUNNEL).await;
    assert_eq!(st, 200);
    let (st, body) = s.call("POST", "/api/refresh", "").await;
    assert_eq!(st, 200, "{body}");

    // (span range, the same hits by a range that is no span: one second more, on a side
    // where another day has hits)
    let cases = [
        (
            "from=2026-02-01&to=2026-02-02",
            "from=2026-01-31T23:59:59Z&to=2026-02-02",
        ),
        (
            "from=2026-02-01&to=2026-03-01",
            "from=2026-01-31T23:59:59Z&to=2026-03-01",
        ),
        (
            "from=2026-01-30&to=2026-01-31",
            "from=2026-01-30&to=2026-01-31T00:00:01Z",
        ),
    ];
    let spans = [
        ("2026-02-01", "2026-02-01", "2026-02-02"),
        ("2026-02", "2026-02-01", "2026-03-01"),
        ("2026-01-30", "2026-01-30", "2026-01-31"),
    ];
    for ((span_q, raw_q), (span, start, end)) in cases.iter().zip(spans) {
        assert!(
            reads_span(&s, span, start, end, span_q).await,
            "{span_q}: span not read"
        );
        assert!(
            !reads_span(&s, span, start, end, raw_q).await,
            "{raw_q}: span read"
        );
        for filter in [
            "site=s0",
            "site=s1",
            "site=s0&account=a1",
            "site=s1&account=a9",
        ] {
            let span = s
                .get_ok(&format!("/api/funnels/fspan?{filter}&{span_q}"))
                .await;
            let raw = s
                .get_ok(&format!("/api/funnels/fspan?{filter}&{raw_q}"))
                .await;
            assert_same(&span, &raw, &format!("{filter}&{span_q}"));
        }
    }
    // New hits on Feb 28 only: the next run reads that day again, keeps the others it read
    // before, and the month still equals the raw walk.
    insert_hits(&s.db, &traffic(&mut rng, &[29], 1_000_000)).await;
    let (st, _) = s.call("POST", "/api/refresh", "").await;
    assert_eq!(st, 200);
    for filter in ["site=s0", "site=s1&account=a1"] {
        let span = s
            .get_ok(&format!(
                "/api/funnels/fspan?{filter}&from=2026-02-01&to=2026-03-01"
            ))
            .await;
        let raw = s
            .get_ok(&format!(
                "/api/funnels/fspan?{filter}&from=2026-01-31T23:59:59Z&to=2026-03-01"
            ))
            .await;
        assert_same(&span, &raw, &format!("{filter} after new hits"));
    }
    let month = s
        .get_ok("/api/funnels/fspan?site=s0&from=2026-02-01&to=2026-03-01")
        .await;
    assert!(
        month["steps"][0]["visitors"].as_u64().unwrap_or(0) > 5,
        "{month}"
    );
    assert!(
        month["steps"][2]["visitors"].as_u64().unwrap_or(0) > 0,
        "{month}"
    );
    assert!(
        !month["dropped"].as_array().is_some_and(|d| d.is_empty()),
        "{month}"
    );
    let listed = |p: &str| {
        month["dropped"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x["person_id"] == p))
    };
    assert!(!listed("p0"), "withdrawn consent listed: {month}");

    // A redefinition is answered from the raw hits until the job has run again.
    let shorter = FUNNEL.replace("1800", "60");
    let (st, _) = s.call("PUT", "/api/funnels/fspan", &shorter).await;
    assert_eq!(st, 200);
    let q = "/api/funnels/fspan?site=s0&from=2026-02-01&to=2026-03-01";
    let redefined = s.get_ok(q).await;
    let month_q = "from=2026-02-01&to=2026-03-01";
    assert!(
        !reads_span(&s, "2026-02", "2026-02-01", "2026-03-01", month_q).await,
        "outdated span read"
    );
    let raw = s
        .get_ok("/api/funnels/fspan?site=s0&from=2026-01-31T23:59:59Z&to=2026-03-01")
        .await;
    assert_same(&redefined, &raw, "redefined");
    let (st, _) = s.call("POST", "/api/refresh", "").await;
    assert_eq!(st, 200);
    assert!(reads_span(&s, "2026-02", "2026-02-01", "2026-03-01", month_q).await);
    assert_same(&s.get_ok(q).await, &raw, "redefined, after the job");

    // p3 moves from account a0 to a2: after the next refresh the spans follow.
    s.exec("INSERT INTO persons VALUES ('p3', 'a2', '', '{}', now(), 2)")
        .await;
    let (st, _) = s.call("POST", "/api/refresh", "").await;
    assert_eq!(st, 200);
    for account in ["a0", "a2"] {
        let filter = format!("site=s1&account={account}");
        let span = s
            .get_ok(&format!(
                "/api/funnels/fspan?{filter}&from=2026-02-01&to=2026-03-01"
            ))
            .await;
        let raw = s
            .get_ok(&format!(
                "/api/funnels/fspan?{filter}&from=2026-01-31T23:59:59Z&to=2026-03-01"
            ))
            .await;
        assert_same(&span, &raw, &format!("{filter} after p3 moved"));
    }

    // A dropped person is a row of its own, which an erasure removes.
    let person = month["dropped"][0]["person_id"]
        .as_str()
        .unwrap_or("p3")
        .to_string();
    let count = format!("SELECT count() FROM r_funnel_span_persons WHERE person_id = '{person}'");
    let n = |t: String| t.trim().parse::<u64>().unwrap_or(u64::MAX);
    assert!(
        n(testkit::query_text(&s.db, &count).await) > 0,
        "{person} has rows"
    );
    let (st, body) = s
        .call("DELETE", &format!("/api/persons/{person}"), "")
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(
        n(testkit::query_text(&s.db, &count).await),
        0,
        "{person} erased"
    );
}

/// The answers a test compares: every filter over a day span, the month span and a range that
/// is no span (raw walk), in that order.
async fn answers(s: &Server) -> Vec<Value> {
    let mut out = Vec::new();
    for filter in ["site=s0", "site=s1", "site=s0&account=a1"] {
        for range in [
            "from=2026-01-30&to=2026-01-31",
            "from=2026-02-01&to=2026-03-01",
            "from=2026-01-30&to=2026-02-01T00:00:01Z",
        ] {
            out.push(
                s.get_ok(&format!("/api/funnels/fspan?{filter}&{range}"))
                    .await,
            );
        }
    }
    out
}

/// Copies of every `every`-th hit as a tracker retry would send them: a new event_id, 1-600 s
/// later (so a copy can land after the next step), the same day; with the original's client_id
/// when `same_client`, else with a client_id of their own (then they are hits, not retries).
fn retries(rng: &mut Rng, hits: &[Hit], every: usize, same_client: bool) -> Vec<Hit> {
    let mut out = Vec::new();
    for (i, h) in hits.iter().enumerate().step_by(every) {
        let mut r = h.clone();
        r.event_id = Uuid::from_u128(0xabcd_0000_0000 + i as u128);
        let later = (1 + rng.below(600)) * 1000;
        if (r.ts_ms + later) / 86_400_000 == r.ts_ms / 86_400_000 {
            r.ts_ms += later;
            r.received_at = (r.ts_ms / 1000) as u32;
        }
        if !same_client {
            r.client_id = format!("other{i}");
        }
        out.push(r);
    }
    out
}

/// A client retry (same non-empty client_id of the site's visitor, same day, new event_id)
/// counts once on both paths (span rows and the raw walk): the answers equal those without the
/// retries. The same copies under client ids of their own do change the answers, so the
/// comparison can fail.
#[tokio::test]
async fn client_retries_count_once() {
    let mut rng = Rng(0x5eed_c1e7);
    let mut hits = traffic(&mut rng, &[0, 1, 2], 0);
    for (i, h) in hits.iter_mut().enumerate() {
        h.client_id = format!("c{i}");
    }
    let same = retries(&mut rng, &hits, 3, true);
    let other = retries(&mut Rng(0x5eed_c1e7), &hits, 3, false);
    let mut got = Vec::new();
    for extra in [Vec::new(), same, other] {
        let s = start("funnel_retries").await;
        for v in (0..40).step_by(3) {
            s.exec(&format!(
                "INSERT INTO persons VALUES ('p{v}', 'a{}', '', '{{}}', now(), 1)",
                v % 3
            ))
            .await;
        }
        insert_hits(&s.db, &hits).await;
        if !extra.is_empty() {
            insert_hits(&s.db, &extra).await;
        }
        let (st, _) = s.call("PUT", "/api/funnels/fspan", FUNNEL).await;
        assert_eq!(st, 200);
        let (st, body) = s.call("POST", "/api/refresh", "").await;
        assert_eq!(st, 200, "{body}");
        got.push(answers(&s).await);
    }
    for (i, (base, with_retries)) in got[0].iter().zip(&got[1]).enumerate() {
        assert_same(with_retries, base, &format!("answer {i} with retries"));
    }
    assert_ne!(
        got[0], got[2],
        "copies under their own client ids change nothing"
    );
}
