//! Property tests of sessionization against a real ClickHouse 18.16: whatever the replica that
//! took each hit, the order batches arrive in, replayed duplicates, and the refreshes that run
//! between arrivals (each recomputing only the days it must), the stored sessions
//! (r_pageviews_v2 after job "days") equal those of the reference sessionizer over the distinct
//! hits — sessions running across midnight, client retries (same client_id, new event_id)
//! counted once, also across midnight — and a forced full recompute writes the same rows,
//! page figures and person activities.

mod metrics_support;

use aggregator::metrics::jobs;
use common::ch::ChSettings;
use common::hit::Hit;
use metrics_support::{insert_hits, sessionize, stored_pageviews, Rng};
use proptest::prelude::*;
use uuid::Uuid;

/// 2026-03-02 20:00 UTC: four hours before midnight, so offsets cross into the next day.
const BASE_S: u64 = 1_772_481_600;
const TYPES: &[&str] = &[
    "pageview", "pageview", "pageview", "ping", "event", "outbound",
];
const PATHS: &[&str] = &["/", "/a", "/b", "/thank-you"];

/// One generated hit: (visitor, seconds after BASE_S, ms part, type, path, bot).
type Spec = (u8, u64, u16, usize, usize, bool);

/// A distinct event id per (case, n) whose first 8 bytes vary as a v4 UUID's do: the day
/// watermark sums them, and with equal high halves a merge folding k replayed rows while k new
/// rows arrive would leave a day's fingerprint unchanged.
fn event_id(case: u64, n: u128) -> Uuid {
    let y = ((u128::from(case) << 64) | n).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
    Uuid::from_u128(y ^ (y >> 64))
}

fn hit(case: u64, i: usize, v: u8, ts_ms: u64, t: usize, p: usize, bot: bool) -> Hit {
    Hit {
        event_id: event_id(case, i as u128 * 7919 + 13),
        received_at: (ts_ms / 1000) as u32,
        ts_ms,
        site: "s1".into(),
        r#type: TYPES[t].into(),
        path: PATHS[p].into(),
        event_name: if TYPES[t] == "event" {
            "signup".into()
        } else {
            String::new()
        },
        visitor_id: format!("visitor-{v}"),
        // Every third hit carries the tracker's own id (client_id), as a retry would.
        client_id: if i.is_multiple_of(3) {
            format!("c{i}")
        } else {
            String::new()
        },
        // Visitor 1 is a known person from its fourth hit on.
        person_id: if v == 1 && i > 3 {
            "p1".into()
        } else {
            String::new()
        },
        is_bot: u8::from(bot),
        utm_campaign: if p == 1 {
            "spring".into()
        } else {
            String::new()
        },
        ..Hit::default()
    }
}

fn hits_of(specs: &[Spec], case: u64) -> Vec<Hit> {
    specs
        .iter()
        .enumerate()
        .map(|(i, &(v, off, ms, t, p, bot))| {
            hit(case, i, v, (BASE_S + off) * 1000 + u64::from(ms), t, p, bot)
        })
        .collect()
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0u8..3,
        // Bunched within 8 h so gaps around the 30 min limit and midnight both happen, and
        // often within 30 minutes of midnight (14 400 s after BASE_S).
        prop_oneof![0u64..28_800, 12_600u64..16_200, 14_000u64..16_000],
        0u16..1000,
        0..TYPES.len(),
        0..PATHS.len(),
        prop::bool::weighted(0.05),
    )
}

/// Client retries of some hits with a client_id: a new event_id, up to 2 s later or up to
/// 40 minutes later (so some fall on the next day, in or out of its first 30 minutes).
fn with_retries(mut hits: Vec<Hit>, case: u64, rng: &mut Rng) -> Vec<Hit> {
    let mut retries = Vec::new();
    for (i, h) in hits.iter().enumerate() {
        if h.client_id.is_empty() || rng.below(2) == 0 {
            continue;
        }
        let mut r = h.clone();
        r.event_id = event_id(case, (1 << 40) | i as u128);
        r.ts_ms += if rng.below(2) == 0 {
            rng.below(3) * 1000
        } else {
            rng.below(2_400) * 1000
        };
        r.received_at = (r.ts_ms / 1000) as u32;
        retries.push(r);
    }
    hits.extend(retries);
    hits
}

/// Each hit goes to one of two replicas; some are replayed; all arrive shuffled, in batches.
fn arrivals(canonical: &[Hit], rng: &mut Rng) -> Vec<Vec<Hit>> {
    let mut arriving: Vec<Hit> = Vec::new();
    for h in canonical {
        let mut h = h.clone();
        h.replica = if rng.below(2) == 0 { "r1" } else { "r2" }.into();
        if rng.below(4) == 0 {
            arriving.push(h.clone());
        }
        arriving.push(h);
    }
    rng.shuffle(&mut arriving);
    let mut batches = Vec::new();
    let mut rest = arriving.as_slice();
    while !rest.is_empty() {
        let n = (1 + rng.below(9) as usize).min(rest.len());
        batches.push(rest[..n].to_vec());
        rest = &rest[n..];
    }
    batches
}

/// Committed rows of job "days" other than r_pageviews_v2, as text: page figures (states
/// finalized) and person activities without first_seen (the change feed keeps the run that
/// first saw a row, by design).
async fn derived_rows(db: &ChSettings) -> String {
    let committed = "(toString(day), version) IN (SELECT bucket, max(version) \
                     FROM r_generations WHERE job = 'days' GROUP BY bucket)";
    let pages = testkit::query_text(
        db,
        &format!(
            "SELECT day, site, path, pageviews, uniqExactMerge(visitors), entrances, exits, \
             bounces, timed, time_sum_ms, quantileExactMerge(0.5)(time_median), visits, \
             converting_visits, visits_from_mailing, visits_from_campaign FROM r_page_daily \
             WHERE {committed} GROUP BY day, site, path, pageviews, entrances, exits, bounces, \
             timed, time_sum_ms, visits, converting_visits, visits_from_mailing, \
             visits_from_campaign ORDER BY day, site, path"
        ),
    )
    .await;
    let activities = testkit::query_text(
        db,
        &format!(
            "SELECT day, activity_id, person_id, ts_ms, event_id, kind, site, path, detail, \
             pages, page_ts, duration_ms FROM r_activities WHERE {committed} \
             ORDER BY day, activity_id"
        ),
    )
    .await;
    format!("{pages}\n--\n{activities}")
}

async fn fresh_db() -> ChSettings {
    let db = testkit::shared_server().fresh_db("sess").await;
    db.client()
        .query("INSERT INTO goals VALUES ('signup', '{\"event\":\"signup\"}', now(), 1)")
        .execute()
        .await
        .unwrap_or_else(|e| panic!("goal: {e}"));
    db
}

/// Inserts the batches with a refresh of job "days" after every few, then checks the rows
/// against the reference, a rerun, merges, and a forced full recompute.
async fn check_arrivals(db: &ChSettings, canonical: &[Hit], batches: &[Vec<Hit>], rng: &mut Rng) {
    let ch = db.client();
    let mut version = 0;
    for batch in batches {
        insert_hits(db, batch).await;
        if rng.below(3) == 0 {
            version += 1;
            jobs::run_days(&ch, version, false)
                .await
                .unwrap_or_else(|e| panic!("job: {e}"));
        }
    }
    version += 1;
    jobs::run_days(&ch, version, false)
        .await
        .unwrap_or_else(|e| panic!("job: {e}"));
    let expected = sessionize(canonical, &["signup"], &[]);
    assert_eq!(stored_pageviews(db).await, expected, "after increments");
    let incremental = derived_rows(db).await;
    // Once merges have folded the replays (a day's watermark counts rows, so folding may cost
    // one recompute), nothing changes: no day is recomputed.
    ch.query("OPTIMIZE TABLE hits FINAL")
        .execute()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    jobs::run_days(&ch, version + 1, false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let again = jobs::run_days(&ch, version + 2, false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(again.buckets.is_empty(), "{again:?}");
    assert_eq!(stored_pageviews(db).await, expected);
    // A forced full recompute gives the same rows as the increments did.
    jobs::run_days(&ch, version + 3, true)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stored_pageviews(db).await, expected, "forced");
    assert_eq!(derived_rows(db).await, incremental, "forced vs increments");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn sessions_do_not_depend_on_replica_arrival_or_refreshes(
        specs in prop::collection::vec(spec(), 1..60),
        seed in 1u64..u64::MAX,
    ) {
        let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
        rt.block_on(async {
            let db = fresh_db().await;
            let mut rng = Rng(seed);
            let canonical = with_retries(hits_of(&specs, seed), seed, &mut rng);
            let batches = arrivals(&canonical, &mut rng);
            check_arrivals(&db, &canonical, &batches, &mut rng).await;
        });
    }
}

/// A visitor active without a 30-minute pause from 00:10 on one day to past the next
/// midnight: that session runs across the midnight before the day (the day before was not
/// covered) but is cut at the midnight after it; another visitor's session crosses a midnight
/// with only a ping before it and a goal after it; a retry arrives just after midnight.
#[tokio::test]
async fn continuous_activity_is_cut_at_the_end_of_a_covered_day() {
    let db = fresh_db().await;
    // 2026-03-03 00:00 UTC.
    let midnight_ms = (BASE_S + 14_400) * 1000;
    let mut hits = Vec::new();
    let mut i = 0;
    let mut push = |hits: &mut Vec<Hit>, v: u8, ts_ms: u64, t: usize, p: usize| {
        i += 1;
        hits.push(hit(7, i, v, ts_ms, t, p, false));
    };
    // Visitor 0: 23:50 the day before, then every 20 minutes until 00:30 two days later.
    push(&mut hits, 0, midnight_ms - 600_000, 0, 1);
    let mut ts = midnight_ms + 600_000;
    while ts <= midnight_ms + 86_400_000 + 2_400_000 {
        push(
            &mut hits,
            0,
            ts,
            if (ts / 1_200_000).is_multiple_of(2) {
                0
            } else {
                3
            },
            2,
        );
        ts += 1_200_000;
    }
    // Visitor 2: a pageview at 23:40, a ping at 23:55, a goal event at 00:10 the next day.
    push(&mut hits, 2, midnight_ms + 86_400_000 - 1_200_000, 0, 0);
    push(&mut hits, 2, midnight_ms + 86_400_000 - 300_000, 3, 0);
    push(&mut hits, 2, midnight_ms + 86_400_000 + 600_000, 4, 0);
    // A retry of visitor 2's 23:40 pageview arrives at 00:05, under a new event_id.
    let Some(original) = hits
        .iter_mut()
        .find(|h| h.visitor_id == "visitor-2" && h.r#type == "pageview")
    else {
        panic!("no pageview of visitor 2");
    };
    original.client_id = "c-retry".into();
    let mut retry = original.clone();
    retry.event_id = event_id(7, 99);
    retry.ts_ms = midnight_ms + 86_400_000 + 300_000;
    retry.received_at = (retry.ts_ms / 1000) as u32;
    hits.push(retry);

    let facts = sessionize(&hits, &["signup"], &[]);
    // The reference itself says what the rules say.
    let v0: Vec<_> = facts.iter().filter(|f| f.visitor == "visitor-0").collect();
    let day1 = midnight_ms / 86_400_000;
    assert!(v0
        .iter()
        .all(|f| f.day != day1 || f.start_ms == midnight_ms - 600_000));
    assert!(v0
        .iter()
        .any(|f| f.day == day1 + 1 && f.entrance && f.session == 1));
    let v2: Vec<_> = facts.iter().filter(|f| f.visitor == "visitor-2").collect();
    assert_eq!(v2.len(), 1, "the retry counts once: {v2:?}");
    // Its only pageview: time on page runs to the goal after midnight, which it converts.
    assert!(v2[0].converts_after && v2[0].exit && v2[0].time_ms == Some(1_800_000));

    let mut rng = Rng(3);
    let batches = arrivals(&hits, &mut rng);
    check_arrivals(&db, &hits, &batches, &mut rng).await;
}

/// A late hit just after a midnight joins the session of the day before: that day is
/// recomputed too (its last pageview is no longer an exit), but a late hit in the middle of
/// a day recomputes only its own day.
#[tokio::test]
async fn a_late_hit_recomputes_a_neighbour_day_only_across_a_bridge() {
    let db = fresh_db().await;
    let ch = db.client();
    let midnight_ms = (BASE_S + 14_400) * 1000;
    let hits = vec![
        hit(9, 1, 0, midnight_ms - 600_000, 0, 1, false),
        hit(9, 2, 0, midnight_ms + 3_600_000, 0, 2, false),
        hit(9, 4, 1, midnight_ms - 7_200_000, 0, 2, false),
    ];
    insert_hits(&db, &hits).await;
    let first = jobs::run_days(&ch, 1, false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first.buckets, ["2026-03-02", "2026-03-03"]);
    // Mid-day: only its day.
    let noon = hit(9, 5, 1, midnight_ms + 43_200_000, 0, 0, false);
    insert_hits(&db, std::slice::from_ref(&noon)).await;
    let report = jobs::run_days(&ch, 2, false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.buckets, ["2026-03-03"]);
    // 00:05: visitor 0 now bridges the midnight, both days are recomputed.
    let late = hit(9, 7, 0, midnight_ms + 300_000, 0, 3, false);
    insert_hits(&db, std::slice::from_ref(&late)).await;
    let report = jobs::run_days(&ch, 3, false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.buckets, ["2026-03-02", "2026-03-03"]);
    let all: Vec<Hit> = hits.into_iter().chain([noon, late]).collect();
    let expected = sessionize(&all, &["signup"], &[]);
    let stored = stored_pageviews(&db).await;
    assert_eq!(stored, expected);
    let before = stored
        .iter()
        .find(|f| f.ts_ms == midnight_ms - 600_000)
        .unwrap_or_else(|| panic!("23:50 row"));
    assert!(
        !before.exit && before.time_ms == Some(900_000),
        "{before:?}"
    );
    let after = stored
        .iter()
        .find(|f| f.ts_ms == midnight_ms + 300_000)
        .unwrap_or_else(|| panic!("00:05 row"));
    assert!(!after.entrance && after.session == 0 && after.start_ms == midnight_ms - 600_000);
}
