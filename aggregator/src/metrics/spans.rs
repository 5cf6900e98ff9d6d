//! Job "page_spans": finished page effectiveness per UTC day (`r_page_days`) and per calendar
//! month (`r_page_spans`), so `GET /api/pages` for a day or a month reads numbers and any
//! other range merges day rows (`sql/migrations/0006_page_spans.sql`, `0012_page_days.sql`).
//!
//! Watermark: a day's rows are computed from the pageviews of the generation of job "days"
//! committed for that day, so the fingerprint of a day bucket (`2026-01-20`) is that
//! generation (tagged with the table its rows are in), and the fingerprint of a month bucket
//! (`2026-01`) lists the generations of all its days. A span whose fingerprint differs from
//! what job "days" committed since is stale; the API then merges day rows (or falls back to
//! `r_page_daily`), so answers stay exact whether or not this job has caught up.

use std::collections::BTreeMap;

use clickhouse::Client;

use super::jobs::JobReport;
use super::queries;
use super::range::{date_of_day, parse_date};

/// The name in `r_generations.job`.
pub const JOB: &str = "page_spans";

/// Committed generations of one job: bucket → (fingerprint, generation).
pub type Committed = BTreeMap<String, (String, u64)>;

/// `2026-01` of a day bucket `2026-01-20`.
pub fn month_of(day: &str) -> &str {
    day.get(..7).unwrap_or(day)
}

/// The first day of the month after `month` (`2026-01` → `2026-02-01`); None if malformed.
pub fn next_month_start(month: &str) -> Option<String> {
    let y: i64 = month.get(..4)?.parse().ok()?;
    let m: i64 = month.get(5..7)?.parse().ok()?;
    let (y, m) = if m >= 12 { (y + 1, 1) } else { (y, m + 1) };
    let day = format!("{y:04}-{m:02}-01");
    parse_date(&day).map(|_| day)
}

/// The tag of a day bucket's fingerprint: where its rows are. Day rows used to be in
/// `r_page_spans` (untagged fingerprints); a day committed before they moved to `r_page_days`
/// is stale, so the first run after the upgrade writes every day again, and the API does not
/// read `r_page_days` for it meanwhile. Months stay in `r_page_spans`, their fingerprints
/// unchanged: their figures still hold.
const DAY_ROWS: &str = "@r_page_days";

/// What each span bucket's fingerprint must be, given the committed generations of job
/// "days": a day bucket names its generation (and `DAY_ROWS`), a month bucket every
/// `day:generation` of it.
pub fn wanted(days: &Committed) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut months: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (day, (_, gen)) in days {
        out.insert(day.clone(), format!("{gen}{DAY_ROWS}"));
        months
            .entry(month_of(day))
            .or_default()
            .push(format!("{day}:{gen}"));
    }
    for (month, parts) in months {
        out.insert(month.to_string(), parts.join(","));
    }
    out
}

/// Whether the committed span `bucket` is current: its fingerprint is the wanted one.
pub fn is_current(bucket: &str, wanted: &BTreeMap<String, String>, spans: &Committed) -> bool {
    match (wanted.get(bucket), spans.get(bucket)) {
        (Some(w), Some((fp, _))) => w == fp,
        _ => false,
    }
}

/// Reads the committed generations of `job`.
pub async fn committed(ch: &Client, job: &str) -> Result<Committed, clickhouse::error::Error> {
    let rows: Vec<(String, String, u64)> = ch
        .query(queries::COMMITTED_FINGERPRINTS)
        .bind(job)
        .fetch_all()
        .await?;
    Ok(rows.into_iter().map(|(b, fp, g)| (b, (fp, g))).collect())
}

/// The committed generations of the jobs the page and funnel API read (`days`,
/// `page_spans`, `funnels`), by job.
pub async fn api_generations(
    ch: &Client,
) -> Result<BTreeMap<String, Committed>, clickhouse::error::Error> {
    let rows: Vec<(String, String, String, u64)> =
        ch.query(queries::API_GENERATIONS).fetch_all().await?;
    let mut out: BTreeMap<String, Committed> = BTreeMap::new();
    for (job, bucket, fp, gen) in rows {
        out.entry(job).or_default().insert(bucket, (fp, gen));
    }
    Ok(out)
}

/// Runs the job as generation `version`: recomputes the days whose generation of job "days"
/// changed (every day when `force`), then the months holding one, and commits them.
pub async fn run(
    ch: &Client,
    version: u64,
    force: bool,
) -> Result<JobReport, clickhouse::error::Error> {
    let days = committed(ch, "days").await?;
    let spans = committed(ch, JOB).await?;
    let want = wanted(&days);
    let stale = |b: &String| force || !is_current(b, &want, &spans);
    let changed_days: Vec<String> = days.keys().filter(|d| stale(d)).cloned().collect();
    let mut months: Vec<String> = want
        .keys()
        .filter(|b| b.len() == 7 && stale(b))
        .cloned()
        .collect();
    // A changed day always changes its month's fingerprint; this only guards a month bucket
    // lost from r_generations.
    for d in &changed_days {
        let m = month_of(d).to_string();
        if !months.contains(&m) {
            months.push(m);
        }
    }
    months.sort();
    let mut report = JobReport {
        job: JOB,
        version: 0,
        buckets: Vec::new(),
    };
    if changed_days.is_empty() && months.is_empty() {
        return Ok(report);
    }
    // Where a run's time goes (RUST_LOG=aggregator::metrics=debug; refresh_bench shows it).
    let started = std::time::Instant::now();
    let day_versions: Vec<u64> = changed_days
        .iter()
        .map(|d| days.get(d).map_or(0, |(_, g)| *g))
        .collect();
    if let (Some(first), Some(last)) = (changed_days.first(), changed_days.last()) {
        // The day rows, then their checksums (which the month step compares).
        for sql in [queries::JOB_PAGE_SPANS_DAYS, queries::JOB_PAGE_SPANS_SUMS] {
            ch.query(sql)
                .bind(version)
                .bind(first)
                .bind(last)
                .bind(&day_versions)
                .bind(&changed_days)
                .execute()
                .await?;
        }
    }
    let days_ms = started.elapsed().as_millis();
    // A month whose previous generation was merged from the day rows committed now (the
    // changed days at their previous generation) is merged again only for the pages whose
    // day row changed; the others are carried. Any other month is merged whole.
    let mut whole = Vec::new();
    let (mut carried, mut changed_pairs) = (0usize, 0usize);
    let (mut changed_ms, mut merge_ms, mut carry_ms) = (0, 0, 0);
    for m in &months {
        let Some(previous) = (!force)
            .then(|| carry_base(m, &days, &spans, &changed_days))
            .flatten()
        else {
            whole.push(m.clone());
            continue;
        };
        let (month_days, old): (Vec<&String>, Vec<u64>) = changed_days
            .iter()
            .filter(|d| month_of(d) == m)
            .map(|d| (d, spans.get(d).map_or(0, |(_, g)| *g)))
            .unzip();
        let (Some(first), Some(last)) = (month_days.first(), month_days.last()) else {
            whole.push(m.clone());
            continue;
        };
        let t = std::time::Instant::now();
        let pairs: Vec<u64> = ch
            .query(queries::JOB_PAGE_SPANS_CHANGED)
            .bind(version)
            .bind(*first)
            .bind(*last)
            .bind(version)
            .bind(old)
            .bind(&month_days)
            .bind(&month_days)
            .fetch_all()
            .await?;
        changed_ms += t.elapsed().as_millis();
        changed_pairs += pairs.len();
        let end = next_month_start(m).unwrap_or_else(|| date_of_day(49_672));
        let t = std::time::Instant::now();
        if !pairs.is_empty() {
            merge_months(
                ch,
                version,
                &days,
                &spans,
                &changed_days,
                std::slice::from_ref(m),
                &pairs,
            )
            .await?;
        }
        merge_ms += t.elapsed().as_millis();
        let t = std::time::Instant::now();
        ch.query(queries::JOB_PAGE_SPANS_MONTH_CARRY)
            .bind(version)
            .bind(format!("{m}-01"))
            .bind(end)
            .bind(previous)
            .bind(&pairs)
            .execute()
            .await?;
        carried += 1;
        carry_ms += t.elapsed().as_millis();
    }
    merge_months(ch, version, &days, &spans, &changed_days, &whole, &[]).await?;
    tracing::debug!(
        days = changed_days.len(),
        months = months.len(),
        months_carried = carried,
        changed_pairs,
        changed_ms,
        merge_ms,
        carry_ms,
        days_ms,
        months_ms = started.elapsed().as_millis() - days_ms,
        "job page_spans steps"
    );
    let mut buckets = changed_days;
    buckets.extend(months);
    let fps: Vec<String> = buckets
        .iter()
        .map(|b| want.get(b).cloned().unwrap_or_default())
        .collect();
    ch.query(queries::COMMIT_GENERATIONS)
        .bind(JOB)
        .bind(version)
        .bind(&buckets)
        .bind(fps)
        .execute()
        .await?;
    report.version = version;
    report.buckets = buckets;
    Ok(report)
}

/// The generation of month `month`'s committed rows if the job can carry them: the month was
/// merged from the day rows committed now (every committed day row of the month is not newer
/// than it, and every such day is still a day of job "days"), and a day of it changed.
fn carry_base(
    month: &str,
    days: &Committed,
    spans: &Committed,
    changed_days: &[String],
) -> Option<u64> {
    let (_, previous) = spans.get(month)?;
    let mut month_days = spans
        .keys()
        .filter(|b| b.len() == 10 && month_of(b) == month);
    let consistent = month_days
        .all(|d| days.contains_key(d) && spans.get(d).is_some_and(|(_, g)| g <= previous));
    let changed = changed_days.iter().any(|d| month_of(d) == month);
    (consistent && changed).then_some(*previous)
}

/// Merges the month rows of `months` from their day rows (each day at the generation its
/// row has now: `version` for the changed days, the committed one for the others), only for
/// the pages `pairs` (cityHash64(site, path); empty: every page).
async fn merge_months(
    ch: &Client,
    version: u64,
    days: &Committed,
    spans: &Committed,
    changed_days: &[String],
    months: &[String],
    pairs: &[u64],
) -> Result<(), clickhouse::error::Error> {
    let (Some(first), Some(last)) = (months.first(), months.last()) else {
        return Ok(());
    };
    let (mut in_months, mut versions) = (Vec::new(), Vec::new());
    for d in days
        .keys()
        .filter(|d| months.iter().any(|m| m == month_of(d)))
    {
        let v = if changed_days.contains(d) {
            version
        } else {
            spans.get(d).map_or(0, |(_, g)| *g)
        };
        in_months.push(d.clone());
        versions.push(v);
    }
    let month_starts: Vec<String> = months.iter().map(|m| format!("{m}-01")).collect();
    let end = next_month_start(last).unwrap_or_else(|| date_of_day(49_672));
    ch.query(queries::JOB_PAGE_SPANS_MONTHS)
        .bind(version)
        .bind(format!("{first}-01"))
        .bind(end)
        .bind(&month_starts)
        .bind(versions)
        .bind(in_months)
        .bind(pairs)
        .bind(pairs)
        .execute()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gens(items: &[(&str, u64)]) -> Committed {
        items
            .iter()
            .map(|(b, g)| (b.to_string(), (format!("fp{g}"), *g)))
            .collect()
    }

    #[test]
    fn fingerprints_follow_the_day_generations() {
        let days = gens(&[("2026-01-30", 5), ("2026-01-31", 7), ("2026-02-01", 7)]);
        let w = wanted(&days);
        assert_eq!(w["2026-01-30"], "5@r_page_days");
        assert_eq!(w["2026-01"], "2026-01-30:5,2026-01-31:7");
        assert_eq!(w["2026-02"], "2026-02-01:7");
        let mut spans: Committed = BTreeMap::new();
        spans.insert("2026-01".into(), ("2026-01-30:5,2026-01-31:7".into(), 9));
        spans.insert("2026-02".into(), ("2026-02-01:6".into(), 8));
        assert!(is_current("2026-01", &w, &spans));
        assert!(!is_current("2026-02", &w, &spans), "day regenerated since");
        assert!(!is_current("2026-01-30", &w, &spans), "never computed");
        // A day committed while its rows were in r_page_spans (untagged) is stale.
        spans.insert("2026-01-30".into(), ("5".into(), 9));
        assert!(
            !is_current("2026-01-30", &w, &spans),
            "rows in the old table"
        );
        spans.insert("2026-01-30".into(), ("5@r_page_days".into(), 9));
        assert!(is_current("2026-01-30", &w, &spans));
        assert!(!is_current("2026-03", &w, &spans), "no such bucket");
    }

    #[test]
    fn months_roll_over() {
        assert_eq!(month_of("2026-01-20"), "2026-01");
        assert_eq!(next_month_start("2026-01").as_deref(), Some("2026-02-01"));
        assert_eq!(next_month_start("2026-12").as_deref(), Some("2027-01-01"));
        assert_eq!(next_month_start("junk"), None);
    }
}
