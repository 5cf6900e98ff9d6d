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

use clickhouse::query::Query;
use clickhouse::Client;

use super::day_parts::{commit_parts_mark, own_parts, scan_plan};
use super::day_plan::{midnights_around, own_changed, plan_days, NO_BRIDGE};
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

/// Part of every day's fingerprint: bumped when job `Days` starts writing something new for
/// every day (`out2`: `r_pageviews_v2` and `r_mail_hits`; `out3`: sessions across midnight and
/// the bridge marks of the watermark), so the first refresh after an upgrade recomputes every
/// day once instead of leaving old days as the old code wrote them.
const DAYS_OUTPUT: &str = "out3";

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

/// The first and last of some days ('YYYY-MM-DD', unparsable ones left out) as day numbers,
/// and the `received_at` range [from, to) in Unix seconds that holds them (days before 1970
/// clamp to 0, days past 2106 to the end of DateTime).
struct DaySpan {
    first: i64,
    last: i64,
    from: u32,
    to: u32,
}

fn day_span(days: &[String]) -> Option<DaySpan> {
    let numbers = days.iter().filter_map(|d| parse_date(d));
    let (first, last) = numbers.fold(None, |acc: Option<(i64, i64)>, n| match acc {
        None => Some((n, n)),
        Some((lo, hi)) => Some((lo.min(n), hi.max(n))),
    })?;
    let secs = |day: i64| (day.max(0) as u64 * 86_400).min(u64::from(u32::MAX)) as u32;
    Some(DaySpan {
        first,
        last,
        from: secs(first),
        to: secs(last + 1),
    })
}

/// Bridge fingerprints of `midnights`; a midnight without bridge visitors is [`NO_BRIDGE`].
async fn bridge_fingerprints(
    ch: &Client,
    midnights: &[String],
) -> Result<BTreeMap<String, String>, clickhouse::error::Error> {
    let Some(DaySpan { from, to, .. }) = day_span(midnights) else {
        return Ok(BTreeMap::new());
    };
    let mut out: BTreeMap<String, String> = midnights
        .iter()
        .map(|m| (m.clone(), NO_BRIDGE.to_string()))
        .collect();
    let rows = ch
        .query(queries::FINGERPRINT_BRIDGES)
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
    let suffix = format!("{}|{DAYS_OUTPUT}", goals.fingerprint());
    let committed: BTreeMap<String, String> = committed(ch, Job::Days)
        .await?
        .into_iter()
        .map(|(day, fp, _)| (day, fp))
        .collect();
    let (scan, parts_mark) = scan_plan(ch, force).await?;
    let (own, scanned) = own_parts(ch, scan, &committed, &suffix).await?;
    let fingerprints_ms = started.elapsed().as_millis() as u64;
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
    // The received_at range lets ClickHouse skip partitions; `days` picks the exact days.
    let Some(DaySpan {
        first,
        last,
        from,
        to,
    }) = day_span(&days)
    else {
        commit_parts_mark(ch, version, parts_mark, false).await?;
        return Ok(report);
    };
    let watermark_ms = started.elapsed().as_millis() as u64;
    let parts = session_parts(&days, &current);
    for part in 0..parts {
        // Binds in the order of the file. Branch 1 (each visitor-day alone): goals, its days,
        // its part, then the bridge visitors it leaves out. Branch 2 (those visitors over the
        // neighbour days too): goals, its bridge set (PREWHERE), its days, its part, the days
        // it writes.
        let head = |q: Query| q.bind(version).bind(goals.events()).bind(goals.paths());
        let range = |q: Query| q.bind(from).bind(to).bind(&days);
        let q = range(head(ch.query(queries::JOB_PAGEVIEWS)))
            .bind(parts)
            .bind(part);
        let q = range(range(head(range(q))))
            .bind(parts)
            .bind(part)
            .bind(&days);
        q.execute().await?;
    }
    let sessions_ms = started.elapsed().as_millis() as u64 - watermark_ms;
    let (first_day, last_day) = (date_of_day(first), date_of_day(last));
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
    ch.query(queries::JOB_MAIL_HITS)
        .bind(version)
        .bind(from)
        .bind(to)
        .bind(&days)
        .execute()
        .await?;
    commit(ch, Job::Days, version, &days, &current).await?;
    // Only now: a failure before this leaves the new parts' days due for the next run.
    commit_parts_mark(ch, version, parts_mark, true).await?;
    // Where a run's time goes (RUST_LOG=aggregator::metrics=debug; refresh_bench shows it).
    tracing::debug!(
        days = days.len(),
        fingerprinted = scanned.map_or("all".to_string(), |n| n.to_string()),
        fingerprints_ms,
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

    #[test]
    fn a_day_span_covers_its_days_whole() {
        let days = ["2026-01-03", "bad", "2026-01-01"].map(String::from);
        let span = day_span(&days).expect("two good days");
        assert_eq!((span.first, span.last), (20454, 20456));
        assert_eq!((span.from, span.to), (1_767_225_600, 1_767_484_800));
        assert!(day_span(&["bad".to_string()]).is_none());
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
