//! The metric jobs: each compares the fingerprints of its input buckets (UTC days of hits,
//! mailings) with those of the last committed generation (the watermark), recomputes only the
//! buckets that changed, and commits them as a new generation. A rerun over unchanged input
//! does nothing; a forced rerun of the same buckets writes the same rows again.
//!
//! Known gap: result tables are ReplacingMergeTree(version), so a merge that runs between a
//! generation's insert and its commit can fold the committed rows of a bucket into the not yet
//! committed ones; readers then miss that bucket until the commit lands (about a second), or
//! until the next run if this one fails before committing.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Instant;

use clickhouse::Client;

use super::goals::Goals;
use super::queries;
use super::range::{date_of_day, parse_date};

/// The metric jobs, in the order a refresh runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Per UTC day: sessionized pageviews, page effectiveness, person activities, and the
    /// copy of the mailing opens and clicks job `Mailings` reads.
    Days,
    /// Per day and calendar month: finished page effectiveness (`super::spans`).
    PageSpans,
    /// Per funnel, day and calendar month: finished funnel figures (`super::funnel_spans`).
    Funnels,
    /// Per mailing: response per recipient and per link.
    Mailings,
}

impl Job {
    /// Every job, in run order (job `Mailings` reads the mailing hits job `Days` copies, and
    /// mailing conversions read its activities).
    pub const ALL: [Job; 4] = [Job::Days, Job::PageSpans, Job::Funnels, Job::Mailings];

    /// The name used in `r_generations.job` and in metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Job::Days => "days",
            Job::PageSpans => super::spans::JOB,
            Job::Funnels => super::funnel_spans::JOB,
            Job::Mailings => "mailings",
        }
    }
}

impl fmt::Display for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one job run did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JobReport {
    /// Which job.
    pub job: &'static str,
    /// The generation written (0 when nothing changed).
    pub version: u64,
    /// Buckets recomputed.
    pub buckets: Vec<String>,
}

/// `sql/queries/job_mail_hits.sql` (kept here rather than in `queries.rs`, which the API
/// side edits at the same time).
const JOB_MAIL_HITS: &str = include_str!("../../../sql/queries/job_mail_hits.sql");

/// `sql/queries/fingerprint_bridges.sql` (here for the same reason).
const FINGERPRINT_BRIDGES: &str = include_str!("../../../sql/queries/fingerprint_bridges.sql");

/// Part of every day's fingerprint: bumped when job `Days` starts writing something new for
/// every day (`out2`: `r_pageviews_v2` and `r_mail_hits`; `out3`: sessions across midnight and
/// the bridge marks of the watermark), so the first refresh after an upgrade recomputes every
/// day once instead of leaving old days as the old code wrote them.
const DAYS_OUTPUT: &str = "out3";

/// A midnight without bridge visitors (`fingerprint_bridges.sql` gives it no row).
const NO_BRIDGE: &str = "-";

/// Hits job `Days` sessionizes in one query at most: a query holds every hit of its visitors'
/// days in memory (about 2.2 GB per 10 M hits on ClickHouse 18.16), and the test and default
/// profiles cap a query at 4 GB. More hits are split into parts by visitor, run one after the
/// other (each part reads all the days' rows again, so parts are not free).
const HITS_PER_SESSION_PART: u64 = 12_000_000;

/// How many parts the sessionizer splits `days` into, from the hit counts of their
/// fingerprints (`count:…`).
fn session_parts(days: &[String], current: &BTreeMap<String, String>) -> u64 {
    let hits: u64 = days
        .iter()
        .filter_map(|d| current.get(d))
        .filter_map(|fp| fp.split(':').next().and_then(|n| n.parse::<u64>().ok()))
        .sum();
    hits.div_ceil(HITS_PER_SESSION_PART).max(1)
}

/// Buckets whose fingerprint differs from the committed one (all of them when `force`).
fn changed(
    current: &BTreeMap<String, String>,
    committed: &[(String, String, u64)],
    force: bool,
) -> Vec<String> {
    let done: BTreeMap<&str, &str> = committed
        .iter()
        .map(|(b, fp, _)| (b.as_str(), fp.as_str()))
        .collect();
    current
        .iter()
        .filter(|(b, fp)| force || done.get(b.as_str()) != Some(&fp.as_str()))
        .map(|(b, _)| b.clone())
        .collect()
}

async fn committed(
    ch: &Client,
    job: Job,
) -> Result<Vec<(String, String, u64)>, clickhouse::error::Error> {
    ch.query(queries::COMMITTED_FINGERPRINTS)
        .bind(job.as_str())
        .fetch_all()
        .await
}

async fn commit(
    ch: &Client,
    job: Job,
    version: u64,
    buckets: &[String],
    current: &BTreeMap<String, String>,
) -> Result<(), clickhouse::error::Error> {
    let fps: Vec<String> = buckets
        .iter()
        .map(|b| current.get(b).cloned().unwrap_or_default())
        .collect();
    ch.query(queries::COMMIT_GENERATIONS)
        .bind(job.as_str())
        .bind(version)
        .bind(buckets)
        .bind(fps)
        .execute()
        .await
}

/// The watermark of a day as committed: its own part (hits, goals, output tag), then the
/// fingerprints of the bridge visitors of the midnight before it and of the one after it.
fn mark(own: &str, before: &str, after: &str) -> String {
    format!("{own}|{before}|{after}")
}

/// (own, before, after) of a committed watermark; an older format gives no match.
fn split_mark(fp: &str) -> Option<(&str, &str, &str)> {
    let mut it = fp.rsplitn(3, '|');
    let (after, before, own) = (it.next()?, it.next()?, it.next()?);
    Some((own, before, after))
}

/// The day after `day` ('YYYY-MM-DD'), or the day before with `step` -1.
fn shift(day: &str, step: i64) -> Option<String> {
    parse_date(day).map(|n| date_of_day(n + step))
}

/// The days job `Days` recomputes and the watermark each is committed with.
///
/// `own` holds every day's own part; a day is recomputed when its own part changed (or was
/// never committed, or `force`), and so is a neighbour whose midnight with such a day has
/// other bridge fingerprints (`bridges`, computed for the midnights next to those days, named
/// by the day after them) than the neighbour was committed with: only a bridge visitor's
/// session or client retry runs across a midnight, so a neighbour whose bridge hits did not
/// change keeps its rows. A midnight whose fingerprint was not computed (both its days
/// unchanged) keeps the committed one.
fn plan_days(
    own: &BTreeMap<String, String>,
    committed: &BTreeMap<String, String>,
    bridges: &BTreeMap<String, String>,
    force: bool,
) -> BTreeMap<String, String> {
    let old = |day: &str| committed.get(day).and_then(|fp| split_mark(fp));
    let mut days: Vec<&String> = own_changed(own, committed, force);
    for (midnight, fp) in bridges {
        let before = shift(midnight, -1).unwrap_or_default();
        if let Some((d, _)) = own.get_key_value(&before) {
            if old(d).map(|(_, _, a)| a) != Some(fp.as_str()) {
                days.push(d);
            }
        }
        if let Some((d, _)) = own.get_key_value(midnight) {
            if old(d).map(|(_, b, _)| b) != Some(fp.as_str()) {
                days.push(d);
            }
        }
    }
    days.sort();
    days.dedup();
    days.into_iter()
        .map(|d| {
            let after = shift(d, 1).unwrap_or_default();
            let side = |m: &str, committed_side: Option<&str>| {
                bridges
                    .get(m)
                    .map(String::as_str)
                    .or(committed_side)
                    .unwrap_or(NO_BRIDGE)
                    .to_string()
            };
            let before = side(d, old(d).map(|(_, b, _)| b));
            let after = side(&after, old(d).map(|(_, _, a)| a));
            (d.clone(), mark(&own[d], &before, &after))
        })
        .collect()
}

/// Days whose own part differs from the committed watermark (all of them when `force`).
fn own_changed<'a>(
    own: &'a BTreeMap<String, String>,
    committed: &BTreeMap<String, String>,
    force: bool,
) -> Vec<&'a String> {
    own.iter()
        .filter(|(d, fp)| {
            force
                || committed
                    .get(*d)
                    .and_then(|c| split_mark(c))
                    .map(|(o, _, _)| o)
                    != Some(fp.as_str())
        })
        .map(|(d, _)| d)
        .collect()
}

/// The midnights (named by the day after them) next to `days`.
fn midnights_around<'a>(days: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut out: Vec<String> = days
        .flat_map(|d| [Some(d.clone()), shift(d, 1)])
        .flatten()
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Bridge fingerprints of `midnights`; a midnight without bridge visitors is [`NO_BRIDGE`].
async fn bridge_fingerprints(
    ch: &Client,
    midnights: &[String],
) -> Result<BTreeMap<String, String>, clickhouse::error::Error> {
    let numbers: Vec<i64> = midnights.iter().filter_map(|d| parse_date(d)).collect();
    let (Some(first), Some(last)) = (numbers.iter().min(), numbers.iter().max()) else {
        return Ok(BTreeMap::new());
    };
    let from = (*first as u64 * 86_400).min(u64::from(u32::MAX)) as u32;
    let to = ((*last as u64 + 1) * 86_400).min(u64::from(u32::MAX)) as u32;
    let mut out: BTreeMap<String, String> = midnights
        .iter()
        .map(|m| (m.clone(), NO_BRIDGE.to_string()))
        .collect();
    let rows = ch
        .query(FINGERPRINT_BRIDGES)
        .bind(from)
        .bind(to)
        .bind(midnights)
        .bind(from)
        .bind(to)
        .bind(from)
        .bind(to)
        .bind(midnights)
        .fetch_all::<(String, String)>()
        .await?;
    out.extend(rows);
    Ok(out)
}

/// Runs job `Days` as generation `version`.
pub async fn run_days(
    ch: &Client,
    version: u64,
    force: bool,
) -> Result<JobReport, clickhouse::error::Error> {
    let started = Instant::now();
    let goals = Goals::load(ch).await?;
    let goal_fp = goals.fingerprint();
    let own: BTreeMap<String, String> = ch
        .query(queries::FINGERPRINT_DAYS)
        .fetch_all::<(String, String)>()
        .await?
        .into_iter()
        .map(|(day, fp)| (day, format!("{fp}|{goal_fp}|{DAYS_OUTPUT}")))
        .collect();
    let committed: BTreeMap<String, String> = committed(ch, Job::Days)
        .await?
        .into_iter()
        .map(|(day, fp, _)| (day, fp))
        .collect();
    // Bridge fingerprints only next to the days whose own hits changed: a midnight between
    // two unchanged days cannot have changed.
    let changed_own = own_changed(&own, &committed, force);
    let bridges = bridge_fingerprints(ch, &midnights_around(changed_own.into_iter())).await?;
    let current = plan_days(&own, &committed, &bridges, force);
    let days: Vec<String> = current.keys().cloned().collect();
    let mut report = JobReport {
        job: Job::Days.as_str(),
        version: 0,
        buckets: Vec::new(),
    };
    let numbers: Vec<i64> = days.iter().filter_map(|d| parse_date(d)).collect();
    let (Some(first), Some(last)) = (numbers.iter().min(), numbers.iter().max()) else {
        return Ok(report);
    };
    // The received_at range lets ClickHouse skip partitions; `days` picks the exact days.
    let from = (*first as u64 * 86_400).min(u64::from(u32::MAX)) as u32;
    let to = ((*last as u64 + 1) * 86_400).min(u64::from(u32::MAX)) as u32;
    let watermark_ms = started.elapsed().as_millis() as u64;
    let parts = session_parts(&days, &current);
    for part in 0..parts {
        // Branch 1 (each visitor-day alone, but the bridge visitors), then branch 2 (those
        // over the neighbour days too; its bridge set is read in PREWHERE, before its WHERE),
        // binds in the order of the file.
        ch.query(queries::JOB_PAGEVIEWS)
            .bind(version)
            .bind(goals.events())
            .bind(goals.paths())
            .bind(from)
            .bind(to)
            .bind(&days)
            .bind(parts)
            .bind(part)
            .bind(from)
            .bind(to)
            .bind(&days)
            .bind(version)
            .bind(goals.events())
            .bind(goals.paths())
            .bind(from)
            .bind(to)
            .bind(&days)
            .bind(from)
            .bind(to)
            .bind(&days)
            .bind(parts)
            .bind(part)
            .bind(&days)
            .execute()
            .await?;
    }
    let sessions_ms = started.elapsed().as_millis() as u64 - watermark_ms;
    let (first_day, last_day) = (date_of_day(*first), date_of_day(*last));
    // One query at a time: each already uses the server's threads, and two at once measured
    // more CPU in all on a two-core host, not less time.
    ch.query(queries::JOB_PAGE_DAILY)
        .bind(version)
        .bind(&first_day)
        .bind(&last_day)
        .bind(version)
        .execute()
        .await?;
    let mut q = ch.query(queries::JOB_ACTIVITIES).bind(version);
    // Hit activities (opens, clicks, events; then conversions): the days, and the client ids
    // that belong to the day before.
    for with_goals in [false, true] {
        if with_goals {
            q = q
                .bind(&goals.event_names)
                .bind(&goals.event_values)
                .bind(&goals.path_names)
                .bind(&goals.path_values);
        }
        q = q
            .bind(&days)
            .bind(from)
            .bind(to)
            .bind(from)
            .bind(to)
            .bind(&days);
    }
    q.bind(&first_day)
        .bind(&last_day)
        .bind(&days)
        .bind(version)
        .bind(&days)
        .bind(&first_day)
        .bind(&last_day)
        .bind(&days)
        .execute()
        .await?;
    ch.query(JOB_MAIL_HITS)
        .bind(version)
        .bind(from)
        .bind(to)
        .bind(&days)
        .execute()
        .await?;
    commit(ch, Job::Days, version, &days, &current).await?;
    // Where a run's time goes (RUST_LOG=aggregator::metrics=debug; refresh_bench shows it).
    tracing::debug!(
        days = days.len(),
        watermark_ms,
        sessions_ms,
        rest_ms = started.elapsed().as_millis() as u64 - watermark_ms - sessions_ms,
        "job days steps"
    );
    report.version = version;
    report.buckets = days;
    Ok(report)
}

/// Runs job `Mailings` as generation `version`.
pub async fn run_mailings(
    ch: &Client,
    version: u64,
    force: bool,
) -> Result<JobReport, clickhouse::error::Error> {
    let persons_fp: String = ch.query(queries::FINGERPRINT_PERSONS).fetch_one().await?;
    let mut current: BTreeMap<String, String> = BTreeMap::new();
    for (mailing, fp) in ch
        .query(queries::FINGERPRINT_MAILINGS)
        .fetch_all::<(String, String)>()
        .await?
    {
        let entry = current.entry(mailing).or_insert_with(|| persons_fp.clone());
        entry.push('|');
        entry.push_str(&fp);
    }
    let mailings = changed(&current, &committed(ch, Job::Mailings).await?, force);
    let mut report = JobReport {
        job: Job::Mailings.as_str(),
        version: 0,
        buckets: Vec::new(),
    };
    if mailings.is_empty() {
        return Ok(report);
    }
    ch.query(queries::JOB_MAILING_RECIPIENTS)
        .bind(version)
        .bind(&mailings)
        .bind(&mailings)
        .execute()
        .await?;
    ch.query(queries::JOB_MAILING_LINKS)
        .bind(version)
        .bind(&mailings)
        .execute()
        .await?;
    commit(ch, Job::Mailings, version, &mailings, &current).await?;
    report.version = version;
    report.buckets = mailings;
    Ok(report)
}

/// Runs one job.
pub async fn run(
    ch: &Client,
    job: Job,
    version: u64,
    force: bool,
) -> Result<JobReport, clickhouse::error::Error> {
    match job {
        Job::Days => run_days(ch, version, force).await,
        Job::PageSpans => super::spans::run(ch, version, force).await,
        Job::Funnels => super::funnel_spans::run(ch, version, force).await,
        Job::Mailings => run_mailings(ch, version, force).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changed_buckets_rerun() {
        let current: BTreeMap<String, String> = [("a", "1"), ("b", "2"), ("c", "3")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let committed = vec![("a".into(), "1".into(), 5), ("b".into(), "old".into(), 5)];
        assert_eq!(changed(&current, &committed, false), ["b", "c"]);
        assert_eq!(changed(&current, &committed, true), ["a", "b", "c"]);
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_neighbour_day_reruns_only_when_its_midnight_changed() {
        let own = map(&[
            ("2026-01-01", "a"),
            ("2026-01-02", "b2"),
            ("2026-01-03", "c"),
        ]);
        let committed = map(&[
            ("2026-01-01", "a|-|x"),
            ("2026-01-02", "b|x|y"),
            ("2026-01-03", "c|y|-"),
        ]);
        // Day 2 changed away from its midnights: only day 2, its marks kept.
        let bridges = map(&[("2026-01-02", "x"), ("2026-01-03", "y")]);
        let plan = plan_days(&own, &committed, &bridges, false);
        assert_eq!(plan, map(&[("2026-01-02", "b2|x|y")]));
        // Its hits near the midnight after it changed: day 3 reruns too, day 1 does not.
        let bridges = map(&[("2026-01-02", "x"), ("2026-01-03", "y2")]);
        let plan = plan_days(&own, &committed, &bridges, false);
        assert_eq!(
            plan,
            map(&[("2026-01-02", "b2|x|y2"), ("2026-01-03", "c|y2|-")])
        );
        // Nothing changed: nothing runs (no bridge fingerprints were computed).
        let own = map(&[
            ("2026-01-01", "a"),
            ("2026-01-02", "b"),
            ("2026-01-03", "c"),
        ]);
        assert!(plan_days(&own, &committed, &BTreeMap::new(), false).is_empty());
        // Forced: every day, with the computed marks.
        let bridges = map(&[
            ("2026-01-01", NO_BRIDGE),
            ("2026-01-02", "x"),
            ("2026-01-03", "y"),
            ("2026-01-04", NO_BRIDGE),
        ]);
        assert_eq!(
            plan_days(&own, &committed, &bridges, true),
            committed,
            "a forced run commits the same marks"
        );
    }

    #[test]
    fn marks_of_an_older_format_do_not_match() {
        assert_eq!(
            split_mark("1:2:3|g|out3|x|y"),
            Some(("1:2:3|g|out3", "x", "y"))
        );
        assert_eq!(split_mark("1:2:3"), None);
        let own = map(&[("2026-01-01", "1:2:3|g|out3")]);
        let committed = map(&[("2026-01-01", "1:2:3|g|out2")]);
        let bridges = map(&[("2026-01-01", NO_BRIDGE), ("2026-01-02", NO_BRIDGE)]);
        assert_eq!(
            plan_days(&own, &committed, &bridges, false),
            map(&[("2026-01-01", "1:2:3|g|out3|-|-")])
        );
    }

    #[test]
    fn midnights_are_named_by_the_day_after_them() {
        let days = ["2026-01-31".to_string(), "2026-02-01".to_string()];
        assert_eq!(
            midnights_around(days.iter()),
            ["2026-01-31", "2026-02-01", "2026-02-02"]
        );
    }

    #[test]
    fn big_recomputes_are_split_by_hit_count() {
        let fp = |n: u64| format!("{n}:123:456|goals|{DAYS_OUTPUT}");
        let current: BTreeMap<String, String> = [
            ("2026-01-01".to_string(), fp(9_000_000)),
            ("2026-01-02".to_string(), fp(9_000_000)),
            ("2026-01-03".to_string(), "garbled".to_string()),
        ]
        .into_iter()
        .collect();
        let day = |d: &str| vec![d.to_string()];
        assert_eq!(session_parts(&day("2026-01-01"), &current), 1);
        assert_eq!(session_parts(&day("2026-01-03"), &current), 1);
        assert_eq!(session_parts(&day("2026-01-09"), &current), 1);
        let both = vec!["2026-01-01".to_string(), "2026-01-02".to_string()];
        assert_eq!(session_parts(&both, &current), 2);
    }
}
