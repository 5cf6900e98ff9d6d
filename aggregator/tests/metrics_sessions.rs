//! Property test of sessionization against a real ClickHouse 18.16: whatever the replica that
//! took each hit, the order batches arrive in, and replayed duplicates, the stored sessions
//! (r_pageviews_v2 after job "days") equal those of the reference sessionizer over the distinct
//! hits ordered by (ts_ms, event_id), client retries (same client_id, new event_id) counted
//! once — and a forced rerun changes nothing.

mod metrics_support;

use aggregator::metrics::jobs;
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

fn hits_of(specs: &[Spec], case: u64) -> Vec<Hit> {
    specs
        .iter()
        .enumerate()
        .map(|(i, &(v, off, ms, t, p, bot))| {
            let ts_ms = (BASE_S + off) * 1000 + u64::from(ms);
            Hit {
                event_id: Uuid::from_u128((u128::from(case) << 64) | (i as u128 * 7919 + 13)),
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
                client_id: if i % 3 == 0 {
                    format!("c{i}")
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
        })
        .collect()
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0u8..3,
        // Bunched within 8 h so gaps around the 30 min limit and midnight both happen.
        prop_oneof![0u64..28_800, 14_000u64..16_000],
        0u16..1000,
        0..TYPES.len(),
        0..PATHS.len(),
        prop::bool::weighted(0.05),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn sessions_do_not_depend_on_replica_or_arrival(
        specs in prop::collection::vec(spec(), 1..60),
        seed in 1u64..u64::MAX,
    ) {
        let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
        rt.block_on(async {
            let db = testkit::shared_server().fresh_db("sess").await;
            db.client()
                .query("INSERT INTO goals VALUES ('signup', '{\"event\":\"signup\"}', now(), 1)")
                .execute()
                .await
                .unwrap_or_else(|e| panic!("goal: {e}"));
            let mut canonical = hits_of(&specs, seed);
            let mut rng = Rng(seed);
            // Client retries: a hit whose answer was lost comes again under a new event_id
            // with the same client_id, up to 2 s later; it must count once.
            let mut retries = Vec::new();
            for (i, h) in canonical.iter().enumerate() {
                if h.client_id.is_empty() || rng.below(2) == 0 {
                    continue;
                }
                let mut r = h.clone();
                r.event_id = Uuid::from_u128((u128::from(seed) << 64) | (1 << 40) | i as u128);
                r.ts_ms += rng.below(3) * 1000;
                r.received_at = (r.ts_ms / 1000) as u32;
                retries.push(r);
            }
            canonical.extend(retries);
            // Each hit goes to one of two replicas; some batches are replayed; batches and
            // the rows inside them arrive in any order.
            let mut arriving: Vec<Hit> = Vec::new();
            for h in &canonical {
                let mut h = h.clone();
                h.replica = if rng.below(2) == 0 { "r1" } else { "r2" }.into();
                if rng.below(4) == 0 {
                    arriving.push(h.clone());
                }
                arriving.push(h);
            }
            rng.shuffle(&mut arriving);
            for batch in arriving.chunks(1 + rng.below(7) as usize) {
                insert_hits(&db, batch).await;
            }
            let ch = db.client();
            jobs::run_days(&ch, 1, false).await.unwrap_or_else(|e| panic!("job: {e}"));
            let expected = sessionize(&canonical, &["signup"], &[]);
            let stored = stored_pageviews(&db).await;
            assert_eq!(stored, expected);
            // Once merges have folded the replays (a day's watermark counts rows, so folding
            // may cost one recompute), nothing changes: no day is recomputed.
            ch.query("OPTIMIZE TABLE hits FINAL").execute().await.unwrap_or_else(|e| panic!("{e}"));
            jobs::run_days(&ch, 2, false).await.unwrap_or_else(|e| panic!("{e}"));
            let again = jobs::run_days(&ch, 3, false).await.unwrap_or_else(|e| panic!("{e}"));
            assert!(again.buckets.is_empty(), "{again:?}");
            assert_eq!(stored_pageviews(&db).await, expected);
            // A forced rerun of the same days gives the same rows.
            jobs::run_days(&ch, 4, true).await.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(stored_pageviews(&db).await, expected);
        });
    }
}
