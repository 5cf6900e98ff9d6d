//! Job "funnels": the finished figures of every defined funnel per site and span of whole
//! UTC days (every day with hits, every calendar month) in `r_funnel_spans`
//! (`sql/migrations/0008_funnel_spans.sql`; the persons who dropped out one row each in
//! `r_funnel_span_persons`, 0010, where an erasure finds them), so `GET /api/funnels/{name}`
//! for a day or a month reads one row instead of walking the raw hits of the range.
//!
//! The same job writes, per funnel, the steps each known person's timeline reached into
//! `r_funnel_steps` (`funnel_steps.rs`).
//!
//! Watermark: a span's fingerprint is a hash of the funnel's definition and the generations
//! of job "days" of its days (a new hit changes its day's generation), then `#` and the
//! fingerprint of the CRM persons (accounts), so a span is recomputed when one of its days
//! changed, the funnel was redefined or a person changed account. The API reads a span whose
//! fingerprint before `#` is the wanted one (a CRM change shows at the next refresh, like
//! every result table), and walks the raw hits otherwise.

use std::collections::{BTreeMap, BTreeSet};

use clickhouse::Client;

use super::funnel::{summarize, FunnelDef, VisitorWalk};
use super::funnel_cache::{self, DayHit, SpanHit};
use super::funnel_walks::{self, changed_visitors, DayChange, VisitorKey};
use super::jobs::JobReport;
use super::queries;
use super::range::parse_date;
use super::spans::{committed, month_of, next_month_start, Committed};

/// The name in `r_generations.job`.
pub const JOB: &str = "funnels";

/// FNV-1a of a definition's text: stable across builds, unlike std's hasher.
pub fn def_hash(text: &str) -> String {
    let h = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{h:016x}")
}

/// The bucket of a funnel's span: `buy|2026-01-20` or `buy|2026-01`.
pub fn bucket(funnel: &str, span: &str) -> String {
    format!("{funnel}|{span}")
}

/// What each span bucket of funnel `name` (definition `text`) must have as fingerprint.
pub fn wanted(name: &str, text: &str, days: &Committed) -> BTreeMap<String, String> {
    let h = def_hash(text);
    let mut out = BTreeMap::new();
    let mut months: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (day, (_, gen)) in days {
        out.insert(bucket(name, day), format!("{h}:{gen}"));
        months
            .entry(month_of(day))
            .or_default()
            .push(format!("{day}:{gen}"));
    }
    for (month, parts) in months {
        out.insert(bucket(name, month), format!("{h}:{}", parts.join(",")));
    }
    out
}

/// `[start, end)` dates of a span bucket's span (`2026-01-20` or `2026-01`).
pub fn span_dates(span: &str) -> Option<(String, String)> {
    if span.len() == 7 {
        Some((format!("{span}-01"), next_month_start(span)?))
    } else {
        let d = parse_date(span)?;
        Some((span.to_string(), super::range::date_of_day(d + 1)))
    }
}

/// The figures of one site and account scope over a span.
struct SpanRow {
    site: String,
    account: String,
    /// JSON of the per-step figures.
    steps: String,
    /// (person, account, steps reached) of the persons who dropped out.
    dropped: Vec<(String, String, u32)>,
}

/// The rows of a span from its walks (those reaching step 1, by site and visitor) and the
/// sites with hits in it: per site, every visitor and then each account's visitors.
fn span_rows(
    def: &FunnelDef,
    sites: &BTreeSet<String>,
    walks: &BTreeMap<VisitorKey, VisitorWalk>,
) -> Vec<SpanRow> {
    let mut by_site: BTreeMap<&str, Vec<&VisitorWalk>> = BTreeMap::new();
    for ((site, _), w) in walks {
        by_site.entry(site.as_str()).or_default().push(w);
    }
    let mut rows = Vec::new();
    for site in sites {
        let all = by_site.remove(site.as_str()).unwrap_or_default();
        let accounts: BTreeSet<&str> = all
            .iter()
            .filter(|w| !w.times.is_empty() && !w.account.is_empty())
            .map(|w| w.account.as_str())
            .collect();
        // Each account's walks in the order of `all`, gathered in one pass: filtering `all`
        // once per account cost accounts x visitors steps per span.
        let mut by_account: BTreeMap<&str, Vec<&VisitorWalk>> = BTreeMap::new();
        for w in all.iter().filter(|w| !w.account.is_empty()) {
            by_account.entry(w.account.as_str()).or_default().push(w);
        }
        let scopes = std::iter::once("").chain(accounts);
        for account in scopes {
            let out = if account.is_empty() {
                summarize(def, all.iter().copied())
            } else {
                summarize(def, by_account.get(account).into_iter().flatten().copied())
            };
            // Only those who dropped out are shown (migration 0010).
            let dropped: Vec<(String, String, u32)> = out
                .person_levels
                .into_iter()
                .filter(|(_, (_, l))| *l < def.steps.len())
                .map(|(p, (a, l))| (p, a, l as u32))
                .collect();
            rows.push(SpanRow {
                site: site.clone(),
                account: account.to_string(),
                steps: serde_json::to_string(&out.steps).unwrap_or_else(|_| "[]".into()),
                dropped,
            });
        }
    }
    rows
}

/// Writes a span's rows (figures to r_funnel_spans, dropped persons to
/// r_funnel_span_persons) as generation `version`.
async fn write_span(
    ch: &Client,
    (name, start, end, version): (&str, &str, &str, u64),
    rows: Vec<SpanRow>,
) -> Result<(), clickhouse::error::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let (mut sites, mut accounts, mut steps) = (Vec::new(), Vec::new(), Vec::new());
    let (mut p_sites, mut p_accounts, mut persons, mut p_person_accounts, mut levels) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for r in rows {
        for (p, a, l) in r.dropped {
            p_sites.push(r.site.clone());
            p_accounts.push(r.account.clone());
            persons.push(p);
            p_person_accounts.push(a);
            levels.push(l);
        }
        sites.push(r.site);
        accounts.push(r.account);
        steps.push(r.steps);
    }
    // The levels column of r_funnel_spans is no longer written (migration 0010).
    let no_levels = vec!["[]".to_string(); sites.len()];
    ch.query(queries::JOB_FUNNEL_SPANS)
        .bind(name)
        .bind(start)
        .bind(end)
        .bind(version)
        .bind(sites)
        .bind(accounts)
        .bind(steps)
        .bind(no_levels)
        .execute()
        .await?;
    if persons.is_empty() {
        return Ok(());
    }
    ch.query(queries::JOB_FUNNEL_SPAN_PERSONS)
        .bind(name)
        .bind(start)
        .bind(end)
        .bind(version)
        .bind(p_sites)
        .bind(p_accounts)
        .bind(persons)
        .bind(p_person_accounts)
        .bind(levels)
        .execute()
        .await
}

/// What one run works from: the committed generations of job "days" (`days`) and of this
/// job (`done`), the CRM persons' fingerprint, and which database the cached hits belong to
/// (the process may serve several).
pub(super) struct Run<'a> {
    pub ch: &'a Client,
    pub version: u64,
    pub force: bool,
    pub database: &'a str,
    pub persons_fp: &'a str,
    pub days: &'a Committed,
    pub done: &'a Committed,
}

/// The buckets a run wrote and the fingerprint each is committed with.
#[derive(Default)]
pub(super) struct Written {
    buckets: Vec<String>,
    fps: Vec<String>,
}

impl Written {
    pub fn push(&mut self, bucket: String, fp: String) {
        self.buckets.push(bucket);
        self.fps.push(fp);
    }
}

/// Where a run's time goes (RUST_LOG=aggregator::metrics=debug; refresh_bench shows it).
#[derive(Default)]
struct Timings {
    read_ms: u128,
    diff_ms: u128,
    walk_ms: u128,
    write_ms: u128,
    whole_months: usize,
    held_rows: usize,
}

/// Runs the job as generation `version`.
pub async fn run(
    ch: &Client,
    version: u64,
    force: bool,
) -> Result<JobReport, clickhouse::error::Error> {
    let funnels: Vec<(String, String)> = ch.query(queries::FUNNELS_ALL).fetch_all().await?;
    let persons_fp: String = ch.query(queries::FINGERPRINT_PERSONS).fetch_one().await?;
    let database: String = ch.query(queries::JOB_FUNNEL_CACHE_KEY).fetch_one().await?;
    let days = committed(ch, "days").await?;
    let done = committed(ch, JOB).await?;
    let run = Run {
        ch,
        version,
        force,
        database: &database,
        persons_fp: &persons_fp,
        days: &days,
        done: &done,
    };
    let mut out = Written::default();
    let mut t = Timings::default();
    let started = std::time::Instant::now();
    for (name, text) in &funnels {
        // A stored definition is validated on PUT; one that no longer reads is skipped here
        // and answered (with its error) by the API.
        if let Ok(def) = serde_json::from_str::<FunnelDef>(text) {
            spans_of(&run, (name, text, &def), &mut out, &mut t).await?;
        }
    }
    let spans_ms = started.elapsed().as_millis();
    let steps_read_ms = super::funnel_steps::run(&run, &funnels, &mut out).await?;
    tracing::debug!(
        buckets = out.buckets.len(),
        read_ms = t.read_ms,
        diff_ms = t.diff_ms,
        walk_ms = t.walk_ms,
        whole_months = t.whole_months,
        held_rows = t.held_rows,
        write_ms = t.write_ms,
        steps_ms = started.elapsed().as_millis() - spans_ms,
        steps_read_ms,
        "job funnels steps"
    );
    let mut report = JobReport {
        job: JOB,
        version: 0,
        buckets: out.buckets,
    };
    if report.buckets.is_empty() {
        return Ok(report);
    }
    ch.query(queries::COMMIT_GENERATIONS)
        .bind(JOB)
        .bind(version)
        .bind(&report.buckets)
        .bind(out.fps)
        .execute()
        .await?;
    report.version = version;
    Ok(report)
}

/// Recomputes the spans of one funnel whose fingerprint changed, from the hits the process
/// holds per day (reading again only the days whose generation changed) and the visitors'
/// month walks held between runs.
async fn spans_of(
    run: &Run<'_>,
    (name, text, def): (&str, &str, &FunnelDef),
    out: &mut Written,
    t: &mut Timings,
) -> Result<(), clickhouse::error::Error> {
    let (exact, prefixes, events) = def.filters();
    // The spans to recompute, then the hits of all of them in one query.
    let mut due = Vec::new();
    for (b, fp) in wanted(name, text, run.days) {
        let fp = format!("{fp}#{}", run.persons_fp);
        if !run.force && run.done.get(&b).is_some_and(|(f, _)| *f == fp) {
            continue;
        }
        let span = b.rsplit('|').next().unwrap_or_default();
        if let Some((start, end)) = span_dates(span) {
            due.push((b, fp, start, end));
        }
    }
    let first = due.iter().map(|d| d.2.as_str()).min();
    let last = due.iter().map(|d| d.3.as_str()).max();
    let (Some(first), Some(last)) = (first, last) else {
        return Ok(());
    };
    let secs = |d: &str| {
        parse_date(d).map_or(0, |n| {
            (n.max(0) as u64 * 86_400).min(u32::MAX as u64) as u32
        })
    };
    // Read only the days of [first, last) whose generation changed since the cached copy.
    let in_range: Vec<(&str, u64)> = run
        .days
        .range::<str, _>((
            std::ops::Bound::Included(first),
            std::ops::Bound::Excluded(last),
        ))
        .map(|(d, (_, g))| (d.as_str(), *g))
        .collect();
    let inputs = format!("{}#{}", def_hash(text), run.persons_fp);
    let mut cached = funnel_cache::take(run.database, name, &inputs);
    if run.force {
        // A forced run reads every day again; the next runs reuse what it read.
        cached.days.clear();
        cached.months.clear();
    }
    let started = std::time::Instant::now();
    let missing = cached.missing(&in_range);
    // What changed on each day read again: which visitors' hits differ from the copy held.
    let mut changes: BTreeMap<String, DayChange> = BTreeMap::new();
    if let (Some(lo), Some(hi)) = (missing.first(), missing.last()) {
        let hi_end = parse_date(hi).map(|n| super::range::date_of_day(n + 1));
        let (from, to) = (secs(lo), secs(hi_end.as_deref().unwrap_or(last)));
        let fetched: Vec<SpanHit> = run
            .ch
            .query(queries::FUNNEL_SPAN_HITS)
            .bind(from)
            .bind(to)
            .bind(from)
            .bind(to)
            .bind(&exact)
            .bind(&prefixes)
            .bind(&events)
            .fetch_all()
            .await?;
        t.read_ms += started.elapsed().as_millis();
        let mut by_day: BTreeMap<&str, Vec<DayHit>> =
            missing.iter().map(|d| (*d, Vec::new())).collect();
        for h in fetched {
            if let Some(v) = by_day.get_mut(h.day.as_str()) {
                v.push(DayHit::from(h));
            }
        }
        let started = std::time::Instant::now();
        for (d, v) in by_day {
            let gen = in_range
                .iter()
                .find(|(x, _)| *x == d)
                .map_or(0, |(_, g)| *g);
            let held = cached.days.get(d);
            let change = DayChange {
                old: held.map(|(g, _)| *g),
                visitors: changed_visitors(held.map_or(&[][..], |(_, h)| h.as_slice()), &v),
            };
            changes.insert(d.to_string(), change);
            cached
                .days
                .insert(d.to_string(), (gen, std::sync::Arc::new(v)));
        }
        t.diff_ms += started.elapsed().as_millis();
    }
    for (b, fp, start, end) in due {
        let started = std::time::Instant::now();
        let span_days: Vec<(&str, u64, &[DayHit])> = in_range
            .iter()
            .filter(|(d, _)| *d >= start.as_str() && *d < end.as_str())
            .filter_map(|(d, _)| cached.days.get(*d).map(|(g, v)| (*d, *g, v.as_slice())))
            .collect();
        let span = b.rsplit('|').next().unwrap_or_default().to_string();
        let rows = if span.len() == 7 {
            // A month: the walks held, brought up to date, or every visitor walked.
            let held = cached
                .months
                .remove(&span)
                .and_then(|held| funnel_walks::update(def, held, &span_days, &changes));
            let month = match held {
                Some(m) => m,
                None => {
                    t.whole_months += 1;
                    funnel_walks::walk_all(def, &span_days)
                }
            };
            let rows = span_rows(def, &funnel_walks::sites(&span_days), &month.walks);
            cached.months.insert(span, month);
            rows
        } else {
            let day = funnel_walks::walk_all(def, &span_days);
            span_rows(def, &funnel_walks::sites(&span_days), &day.walks)
        };
        t.walk_ms += started.elapsed().as_millis();
        let started = std::time::Instant::now();
        write_span(run.ch, (name, &start, &end, run.version), rows).await?;
        t.write_ms += started.elapsed().as_millis();
        out.push(b, fp);
    }
    // Months no longer due keep their walks only while their days are held unchanged.
    let held_days: BTreeMap<&str, u64> = cached
        .days
        .iter()
        .map(|(d, (g, _))| (d.as_str(), *g))
        .collect();
    cached.months.retain(|_, m| {
        m.days
            .iter()
            .all(|(d, g)| held_days.get(d.as_str()) == Some(g))
    });
    t.held_rows += cached.rows();
    funnel_cache::put(run.database, name, cached);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_follow_the_days_and_the_definition() {
        let days: Committed = [("2026-01-31", 5), ("2026-02-01", 7)]
            .iter()
            .map(|(d, g)| (d.to_string(), (String::new(), *g)))
            .collect();
        let w = wanted("buy", "{}", &days);
        let h = def_hash("{}");
        assert_eq!(w["buy|2026-01-31"], format!("{h}:5"));
        assert_eq!(w["buy|2026-02"], format!("{h}:2026-02-01:7"));
        assert_ne!(wanted("buy", "{ }", &days)["buy|2026-02"], w["buy|2026-02"]);
        assert_eq!(
            span_dates("2026-12"),
            Some(("2026-12-01".into(), "2027-01-01".into()))
        );
        assert_eq!(
            span_dates("2026-01-31"),
            Some(("2026-01-31".into(), "2026-02-01".into()))
        );
        assert_eq!(span_dates("x"), None);
    }
}
