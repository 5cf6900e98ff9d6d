//! Job "days" fingerprints only the days of the parts of `hits` written since its last run
//! (`day_parts.rs`), against a real ClickHouse 18.16: a late replay into an old day, far from
//! any recent day, is still recomputed; a changed day still reruns the untouched day before
//! it through their midnight's bridge; an erasure (a mutation) is seen; merges alone recompute
//! nothing; and batches arriving late over many days, refreshed in between, give the rows of
//! the reference sessionizer and of a forced full recompute.

mod metrics_support;

use aggregator::metrics::jobs;
use common::ch::ChSettings;
use common::hit::Hit;
use metrics_support::{insert_hits, sessionize, stored_pageviews, Rng};
use uuid::Uuid;

/// 2026-03-01 00:00 UTC.
const DAY0_S: u64 = 1_772_323_200;
const PATHS: &[&str] = &["/", "/a", "/b", "/thank-you"];

fn day(n: u64) -> String {
    let d = DAY0_S / 86_400 + n;
    aggregator::metrics::range::date_of_day(d as i64)
}

/// A pageview (or a signup event) of `visitor` at `s` seconds after DAY0_S; `n` names it.
fn hit(n: u64, visitor: u64, s: u64, event: bool) -> Hit {
    let ts_ms = (DAY0_S + s) * 1000 + n % 1000;
    // Ids whose first 8 bytes vary, as a v4 UUID's do (the day fingerprint sums them).
    let id = u128::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
    Hit {
        event_id: Uuid::from_u128(id ^ (id >> 64)),
        received_at: (ts_ms / 1000) as u32,
        ts_ms,
        site: "s1".into(),
        r#type: if event { "event" } else { "pageview" }.into(),
        event_name: if event {
            "signup".into()
        } else {
            String::new()
        },
        path: PATHS[(n % 4) as usize].into(),
        visitor_id: format!("visitor-{visitor}"),
        ..Hit::default()
    }
}

async fn fresh_db() -> ChSettings {
    let db = testkit::shared_server().fresh_db("dparts").await;
    db.client()
        .query("INSERT INTO goals VALUES ('signup', '{\"event\":\"signup\"}', now(), 1)")
        .execute()
        .await
        .unwrap_or_else(|e| panic!("goal: {e}"));
    db
}

/// `per_day` hits on each of days 0..`days` (visitor `i` at 08:20 + 10 minutes x `i`), each
/// day inserted as a part of its own; all of them, in insert order.
async fn day_parts(db: &ChSettings, days: u64, per_day: u64) -> Vec<Hit> {
    let mut all = Vec::new();
    for d in 0..days {
        let batch: Vec<Hit> = (0..per_day)
            .map(|i| hit(d * 100 + i, i, d * 86_400 + 30_000 + i * 600, false))
            .collect();
        insert_hits(db, &batch).await;
        all.extend(batch);
    }
    all
}

/// The pageviews job `days` stored equal the reference sessionizer's over `all` (goal
/// `signup`).
async fn assert_reference(db: &ChSettings, all: &[Hit]) {
    assert_eq!(
        stored_pageviews(db).await,
        sessionize(all, &["signup"], &[])
    );
}

async fn sql(db: &ChSettings, text: &str) {
    db.client()
        .query(text)
        .execute()
        .await
        .unwrap_or_else(|e| panic!("{text}: {e}"));
}

async fn run(db: &ChSettings, version: u64, force: bool) -> Vec<String> {
    jobs::run_days(&db.client(), version, force)
        .await
        .unwrap_or_else(|e| panic!("job days: {e}"))
        .buckets
}

/// Page figures of the committed days (states finalized), as text.
async fn derived_rows(db: &ChSettings) -> String {
    let committed = "(toString(day), version) IN (SELECT bucket, max(version) \
                     FROM r_generations WHERE job = 'days' GROUP BY bucket)";
    testkit::query_text(
        db,
        &format!(
            "SELECT day, site, path, pageviews, uniqExactMerge(visitors), entrances, exits, \
             bounces, timed, time_sum_ms, quantileExactMerge(0.5)(time_median), visits, \
             converting_visits FROM r_page_daily WHERE {committed} GROUP BY day, site, path, \
             pageviews, entrances, exits, bounces, timed, time_sum_ms, visits, \
             converting_visits ORDER BY day, site, path"
        ),
    )
    .await
}

/// Ten days of hits, one part each (merges stopped, so a day's part stays its own), then a
/// minute of hits on the last day, then a late replay into day 2: each run recomputes just
/// the day that got hits, and the rows are the reference sessionizer's.
#[tokio::test]
async fn a_late_hit_into_an_old_day_is_recomputed() {
    let db = fresh_db().await;
    sql(&db, "SYSTEM STOP MERGES hits").await;
    let mut all = Vec::new();
    for d in 0..10 {
        let batch: Vec<Hit> = (0..6)
            .map(|i| hit(d * 100 + i, i % 3, d * 86_400 + 36_000 + i * 300, i == 5))
            .collect();
        insert_hits(&db, &batch).await;
        all.extend(batch);
    }
    assert_eq!(run(&db, 1, false).await.len(), 10);
    let minute: Vec<Hit> = (0..3)
        .map(|i| hit(5000 + i, 7, 9 * 86_400 + 50_000 + i * 20, false))
        .collect();
    insert_hits(&db, &minute).await;
    all.extend(minute);
    assert_eq!(run(&db, 2, false).await, [day(9)]);
    // A batch of day 2 replayed from a spool a week later: nothing near it changed.
    let late = vec![hit(6000, 8, 2 * 86_400 + 43_200, false)];
    insert_hits(&db, &late).await;
    all.extend(late);
    assert_eq!(run(&db, 3, false).await, [day(2)]);
    assert_reference(&db, &all).await;
    // The same batch again (a second replay): the day's rows count it, so it reruns, and
    // still counts each hit once.
    insert_hits(&db, &all[..6]).await;
    assert_eq!(run(&db, 4, false).await, [day(0)]);
    assert!(run(&db, 5, false).await.is_empty(), "a rerun does nothing");
    // Merges folding the replayed copies add no block: no day is fingerprinted or rerun
    // (every day's fingerprint would count fewer rows now).
    sql(&db, "SYSTEM START MERGES hits").await;
    sql(&db, "OPTIMIZE TABLE hits FINAL").await;
    assert!(run(&db, 6, false).await.is_empty());
    assert_reference(&db, &all).await;
    let incremental = derived_rows(&db).await;
    assert_eq!(run(&db, 7, true).await.len(), 10);
    assert_eq!(derived_rows(&db).await, incremental, "forced vs increments");
}

/// A visitor's hit at 23:50 on day 3 was committed long ago; a late hit of theirs at 00:10 on
/// day 4 arrives alone, in a part covering day 4 only. Day 3 is not fingerprinted, but the
/// bridge of their midnight changed, so day 3 reruns too: its 23:50 view is no exit any more.
#[tokio::test]
async fn the_day_before_a_changed_day_reruns_through_the_bridge() {
    let db = fresh_db().await;
    sql(&db, "SYSTEM STOP MERGES hits").await;
    let mut all = day_parts(&db, 6, 4).await;
    let evening = vec![hit(900, 9, 4 * 86_400 - 600, false)];
    insert_hits(&db, &evening).await;
    all.extend(evening);
    assert_eq!(run(&db, 1, false).await.len(), 6);
    let after_midnight = vec![hit(901, 9, 4 * 86_400 + 600, false)];
    insert_hits(&db, &after_midnight).await;
    all.extend(after_midnight);
    assert_eq!(run(&db, 2, false).await, [day(3), day(4)]);
    let stored = stored_pageviews(&db).await;
    assert_eq!(stored, sessionize(&all, &["signup"], &[]));
    let evening = stored
        .iter()
        .find(|f| f.ts_ms == (DAY0_S + 4 * 86_400 - 600) * 1000 + 900)
        .unwrap_or_else(|| panic!("23:50 row"));
    assert!(!evening.exit, "{evening:?}");
    // A mid-day hit on day 5 reruns day 5 only.
    let noon = vec![hit(902, 1, 5 * 86_400 + 43_200, false)];
    insert_hits(&db, &noon).await;
    all.extend(noon);
    assert_eq!(run(&db, 3, false).await, [day(5)]);
    assert_reference(&db, &all).await;
}

/// An erasure's mutation rewrites the old days' parts under its number, which is below that
/// of an insert after it; a run in between (mutation still pending: merges, which also run
/// mutations, are stopped) already saw that insert. The run after the mutation is done still
/// recomputes every day without the erased visitor's hits.
#[tokio::test]
async fn an_erasure_of_old_hits_is_recomputed() {
    let db = fresh_db().await;
    let mut all = day_parts(&db, 4, 4).await;
    assert_eq!(run(&db, 1, false).await.len(), 4);
    sql(&db, "SYSTEM STOP MERGES hits").await;
    sql(
        &db,
        "ALTER TABLE hits DELETE WHERE visitor_id = 'visitor-2'",
    )
    .await;
    let newer = vec![hit(900, 1, 3 * 86_400 + 50_000, false)];
    insert_hits(&db, &newer).await;
    all.extend(newer);
    assert_eq!(
        run(&db, 2, false).await,
        [day(3)],
        "the insert, not the erasure yet"
    );
    sql(&db, "SYSTEM START MERGES hits").await;
    // 18.16 has no synchronous mutations: wait until it is done.
    let ch = db.client();
    let mut running = 1;
    for _ in 0..200 {
        running = ch
            .query(
                "SELECT count() FROM system.mutations \
                 WHERE database = currentDatabase() AND is_done = 0",
            )
            .fetch_one::<u64>()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        if running == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(running, 0, "the erasure's mutation did not finish");
    all.retain(|h| h.visitor_id != "visitor-2");
    assert_eq!(run(&db, 3, false).await.len(), 4, "every day had visitor 2");
    assert_reference(&db, &all).await;
    assert!(run(&db, 4, false).await.is_empty());
}

/// Hits of twelve days arrive in batches of consecutive arrival; some batches are held back
/// and replayed later (a collector's spool), some twice; job "days" runs after every few.
/// The rows always end as the reference sessionizer's, and a forced full recompute agrees.
#[tokio::test]
async fn late_batches_over_many_days_give_the_full_recompute() {
    for seed in 1..=3u64 {
        let db = fresh_db().await;
        let mut rng = Rng(seed * 7919);
        let mut all: Vec<Hit> = (0..240)
            .map(|n| {
                // Four visitors; a third of the hits within an hour of a midnight, so
                // sessions across midnights (bridges) happen too.
                let d = rng.below(12) * 86_400;
                let s = match rng.below(3) {
                    0 => d + rng.below(86_400),
                    1 => d + rng.below(3_600),
                    _ => (d + 86_400).saturating_sub(1 + rng.below(3_600)),
                };
                hit(seed * 10_000 + n, rng.below(4), s, rng.below(9) == 0)
            })
            .collect();
        all.sort_by_key(|h| h.received_at);
        let mut batches: Vec<Vec<Hit>> = all.chunks(8).map(<[Hit]>::to_vec).collect();
        // A third of the batches are held back and replayed at random later points.
        let mut held = Vec::new();
        let mut order = Vec::new();
        for b in batches.drain(..) {
            if rng.below(3) == 0 {
                held.push(b);
            } else {
                order.push(b);
            }
            if !held.is_empty() && rng.below(4) == 0 {
                let i = rng.below(held.len() as u64) as usize;
                order.push(held.swap_remove(i));
            }
        }
        order.append(&mut held);
        let mut version = 0;
        for (i, batch) in order.iter().enumerate() {
            insert_hits(&db, batch).await;
            if rng.below(5) == 0 {
                insert_hits(&db, batch).await;
            }
            if i % 3 == 2 {
                version += 1;
                run(&db, version, false).await;
            }
        }
        run(&db, version + 1, false).await;
        let expected = sessionize(&all, &["signup"], &[]);
        assert_eq!(stored_pageviews(&db).await, expected, "seed {seed}");
        let incremental = derived_rows(&db).await;
        run(&db, version + 2, true).await;
        assert_eq!(stored_pageviews(&db).await, expected, "seed {seed}, forced");
        assert_eq!(derived_rows(&db).await, incremental, "seed {seed}, forced");
    }
}

/// Versions are wall-clock microseconds of the host that runs the job, so a run can commit a
/// lower version after a higher one (a second aggregator with a clock behind, or a clock
/// stepped back over a restart). A forced run at version 30 rewrites every day before a late
/// hit into day 2 arrives, and finds the parts as committed; a run at version 20 then sees that
/// hit, but its day and its parts mark lose to version 30's. The day committed at 30 lacks the
/// hit, so the parts mark that wins must not claim it: the run at 40 still recomputes day 2.
#[tokio::test]
async fn a_run_that_loses_on_version_does_not_hide_its_hits() {
    let db = fresh_db().await;
    sql(&db, "SYSTEM STOP MERGES hits").await;
    let mut all = day_parts(&db, 4, 4).await;
    assert_eq!(run(&db, 1, false).await.len(), 4);
    assert_eq!(run(&db, 30, true).await.len(), 4, "forced: every day");
    let late = vec![hit(900, 7, 2 * 86_400 + 43_200, false)];
    insert_hits(&db, &late).await;
    all.extend(late);
    assert_eq!(run(&db, 20, false).await, [day(2)]);
    assert_eq!(
        run(&db, 40, false).await,
        [day(2)],
        "day 2 as of 30 lacks the hit"
    );
    assert_reference(&db, &all).await;
}

/// Parts that come back or are restored get new block numbers on 18.16: ATTACH PARTITION
/// (of a detached month) and ATTACH PARTITION ... FROM (a month copied in from another table,
/// whose numbers were higher than this table's) both number the attached parts above every
/// part here, so their days are fingerprinted; a detach and attach of the same hits changes
/// no day, a restore of other hits reruns their days.
#[tokio::test]
async fn attached_parts_are_numbered_as_new() {
    let db = fresh_db().await;
    sql(&db, "SYSTEM STOP MERGES hits").await;
    let mut all = day_parts(&db, 4, 3).await;
    assert_eq!(run(&db, 1, false).await.len(), 4);
    sql(&db, "ALTER TABLE hits DETACH PARTITION 202603").await;
    sql(&db, "ALTER TABLE hits ATTACH PARTITION 202603").await;
    assert!(run(&db, 2, false).await.is_empty(), "the same hits");
    // The backup took more inserts than hits, so its parts' numbers are higher.
    sql(&db, "CREATE TABLE hits_backup AS hits").await;
    let restore = |n: u64, d: u64| vec![hit(n, 8, d * 86_400 + 50_000, false)];
    for n in 0..12 {
        insert_hits_into(&db, "hits_backup", &restore(7000 + n, 1 + n % 2)).await;
    }
    sql(
        &db,
        "ALTER TABLE hits ATTACH PARTITION 202603 FROM hits_backup",
    )
    .await;
    all.extend((0..12).flat_map(|n| restore(7000 + n, 1 + n % 2)));
    assert_eq!(run(&db, 3, false).await, [day(1), day(2)]);
    insert_hits(&db, &restore(7100, 3)).await;
    all.extend(restore(7100, 3));
    assert_eq!(run(&db, 4, false).await, [day(3)]);
    assert_reference(&db, &all).await;
}

/// Inserts `hits` as one part of `table` (a table created AS hits).
async fn insert_hits_into(db: &ChSettings, table: &str, hits: &[Hit]) {
    let sql = common::hit::hits_insert_sql().replacen("INTO hits ", &format!("INTO {table} "), 1);
    let mut insert = db.client().insert_formatted_with(sql);
    insert
        .send(Hit::encode_batch(hits))
        .await
        .unwrap_or_else(|e| panic!("send: {e}"));
    insert.end().await.unwrap_or_else(|e| panic!("end: {e}"));
}
