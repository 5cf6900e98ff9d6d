//! Job "funnels": the finished figures of every defined funnel per site and span of whole
//! UTC days (every day with hits, every calendar month) in `r_funnel_spans`
//! (`sql/migrations/0008_funnel_spans.sql`; the persons who dropped out one row each in
//! `r_funnel_span_persons`, 0010, where an erasure finds them), so `GET /api/funnels/{name}`
//! for a day or a month reads one row instead of walking the raw hits of the range.
//!
//! The same job writes, per funnel, the steps each known person's timeline reached into
//! `r_funnel_steps` (bucket `{funnel}|steps`, recomputed when any day or the definition
//! changed), which the activity change feed serves as `funnel_step` activities.
//!
//! Watermark: a span's fingerprint is a hash of the funnel's definition and the generations
//! of job "days" of its days (a new hit changes its day's generation), then `#` and the
//! fingerprint of the CRM persons (accounts), so a span is recomputed when one of its days
//! changed, the funnel was redefined or a person changed account. The API reads a span whose
//! fingerprint before `#` is the wanted one (a CRM change shows at the next refresh, like
//! every result table), and walks the raw hits otherwise.

use std::collections::{BTreeMap, BTreeSet};

use clickhouse::Client;

use super::activity_cache::{self, PersonActivity};
use super::funnel::{summarize, FunnelDef, FunnelHit, VisitorWalk};
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

/// A person's visits and events as funnel hits, sorted (one person = one walker), as the
/// person timeline walks them.
fn person_hits(acts: &[&PersonActivity]) -> Vec<FunnelHit> {
    let mut hits = Vec::new();
    for a in acts {
        if a.kind == "visit" {
            for (i, (p, t)) in a.pages.iter().zip(&a.page_ts).enumerate() {
                hits.push(FunnelHit {
                    ts_ms: *t,
                    event_id: format!("{}#{i}", a.event_id),
                    kind: "pageview".into(),
                    path: p.clone(),
                    ..FunnelHit::default()
                });
            }
        } else {
            hits.push(FunnelHit {
                ts_ms: a.ts_ms,
                event_id: a.event_id.clone(),
                kind: "event".into(),
                name: a.event_name.clone(),
                ..FunnelHit::default()
            });
        }
    }
    hits.sort_by(|a, b| (a.ts_ms, &a.event_id).cmp(&(b.ts_ms, &b.event_id)));
    hits
}

/// The steps funnel `name` reached on each person's timeline: parallel arrays of person,
/// time and the step as JSON.
fn person_steps(
    name: &str,
    def: &FunnelDef,
    acts: &[&PersonActivity],
) -> (Vec<String>, Vec<u64>, Vec<String>) {
    let (mut persons, mut times, mut details) = (Vec::new(), Vec::new(), Vec::new());
    for person in acts.chunk_by(|a, b| a.person_id == b.person_id) {
        let reached = super::funnel::walk(def, &person_hits(person));
        for (i, t) in reached.into_iter().enumerate() {
            let step = def.steps.get(i).map_or("", |s| s.name.as_str());
            persons.push(person[0].person_id.clone());
            times.push(t);
            details.push(
                serde_json::json!({ "funnel": name, "step": step, "step_index": i + 1 })
                    .to_string(),
            );
        }
    }
    (persons, times, details)
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

/// Runs the job as generation `version`.
pub async fn run(
    ch: &Client,
    version: u64,
    force: bool,
) -> Result<JobReport, clickhouse::error::Error> {
    let funnels: Vec<(String, String)> = ch.query(queries::FUNNELS_ALL).fetch_all().await?;
    let persons_fp: String = ch.query(queries::FINGERPRINT_PERSONS).fetch_one().await?;
    // Which database the cached hits belong to (the process may serve several).
    let database: String = ch.query(queries::JOB_FUNNEL_CACHE_KEY).fetch_one().await?;
    let days = committed(ch, "days").await?;
    let done = committed(ch, JOB).await?;
    let mut report = JobReport {
        job: JOB,
        version: 0,
        buckets: Vec::new(),
    };
    let mut fps = Vec::new();
    // Where a run's time goes (RUST_LOG=aggregator::metrics=debug; refresh_bench shows it).
    let started = std::time::Instant::now();
    let (mut read_ms, mut sort_ms, mut walk_ms, mut write_ms) = (0u128, 0u128, 0u128, 0u128);
    let (mut whole_months, mut held_rows) = (0usize, 0usize);
    for (name, text) in &funnels {
        // A stored definition is validated on PUT; one that no longer reads is skipped here
        // and answered (with its error) by the API.
        let Ok(def) = serde_json::from_str::<FunnelDef>(text) else {
            continue;
        };
        let (exact, prefixes, events) = def.filters();
        // The spans to recompute, then the hits of all of them in one query.
        let mut due = Vec::new();
        for (b, fp) in wanted(name, text, &days) {
            let fp = format!("{fp}#{persons_fp}");
            if !force && done.get(&b).is_some_and(|(f, _)| *f == fp) {
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
            continue;
        };
        let secs = |d: &str| {
            parse_date(d).map_or(0, |n| {
                (n.max(0) as u64 * 86_400).min(u32::MAX as u64) as u32
            })
        };
        // Read only the days of [first, last) whose generation changed since the cached copy.
        let in_range: Vec<(&str, u64)> = days
            .range::<str, _>((
                std::ops::Bound::Included(first),
                std::ops::Bound::Excluded(last),
            ))
            .map(|(d, (_, g))| (d.as_str(), *g))
            .collect();
        let inputs = format!("{}#{persons_fp}", def_hash(text));
        let mut cached = funnel_cache::take(&database, name, &inputs);
        if force {
            // A forced run reads every day again; the next runs reuse what it read.
            cached.days.clear();
            cached.months.clear();
        }
        let t = std::time::Instant::now();
        let missing = cached.missing(&in_range);
        // What changed on each day read again: which visitors' hits differ from the copy held.
        let mut changes: BTreeMap<String, DayChange> = BTreeMap::new();
        if let (Some(lo), Some(hi)) = (missing.first(), missing.last()) {
            let hi_end = parse_date(hi).map(|n| super::range::date_of_day(n + 1));
            let (from, to) = (secs(lo), secs(hi_end.as_deref().unwrap_or(last)));
            let fetched: Vec<SpanHit> = ch
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
            read_ms += t.elapsed().as_millis();
            let mut by_day: BTreeMap<&str, Vec<DayHit>> =
                missing.iter().map(|d| (*d, Vec::new())).collect();
            for h in fetched {
                if let Some(v) = by_day.get_mut(h.day.as_str()) {
                    v.push(DayHit::from(h));
                }
            }
            let t = std::time::Instant::now();
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
            sort_ms += t.elapsed().as_millis();
        }
        for (b, fp, start, end) in due {
            let t = std::time::Instant::now();
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
                    .and_then(|held| funnel_walks::update(&def, held, &span_days, &changes));
                let month = match held {
                    Some(m) => m,
                    None => {
                        whole_months += 1;
                        funnel_walks::walk_all(&def, &span_days)
                    }
                };
                let rows = span_rows(&def, &funnel_walks::sites(&span_days), &month.walks);
                cached.months.insert(span, month);
                rows
            } else {
                let day = funnel_walks::walk_all(&def, &span_days);
                span_rows(&def, &funnel_walks::sites(&span_days), &day.walks)
            };
            walk_ms += t.elapsed().as_millis();
            let t = std::time::Instant::now();
            write_span(ch, (name, &start, &end, version), rows).await?;
            write_ms += t.elapsed().as_millis();
            report.buckets.push(b);
            fps.push(fp);
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
        held_rows += cached.rows();
        funnel_cache::put(&database, name, cached);
    }
    // Each funnel's steps on every person's timeline, when any day or the definition changed.
    let all_days: Vec<String> = days.iter().map(|(d, (_, g))| format!("{d}:{g}")).collect();
    let days_hash = def_hash(&all_days.join(","));
    let spans_ms = started.elapsed().as_millis();
    let mut steps_due = Vec::new();
    for (name, text) in &funnels {
        let Ok(def) = serde_json::from_str::<FunnelDef>(text) else {
            continue;
        };
        let b = bucket(name, "steps");
        let fp = format!("{}:{days_hash}#{persons_fp}", def_hash(text));
        let previous = done.get(&b).map_or(0, |(_, g)| *g);
        if !force && done.get(&b).is_some_and(|(f, _)| *f == fp) {
            continue;
        }
        steps_due.push((name, def, b, fp, previous));
    }
    let mut acts_ms = 0u128;
    if !steps_due.is_empty() {
        // Every person's activities, read only for the days whose generation changed since
        // the copy the process holds (a forced run reads every day again).
        let mut held = activity_cache::take(&database);
        if force {
            held.clear();
        }
        let wanted: Vec<(&str, u64)> = days.iter().map(|(d, (_, g))| (d.as_str(), *g)).collect();
        let missing = activity_cache::missing(&mut held, &wanted);
        if let (Some(first), Some(last)) = (missing.first(), missing.last()) {
            let versions: Vec<u64> = missing
                .iter()
                .map(|d| days.get(*d).map_or(0, |(_, g)| *g))
                .collect();
            let fetched: Vec<PersonActivity> = ch
                .query(queries::FUNNEL_PERSON_ACTIVITIES)
                .bind(*first)
                .bind(*last)
                .bind(versions)
                .bind(&missing)
                .fetch_all()
                .await?;
            let mut by_day: BTreeMap<&str, Vec<PersonActivity>> =
                missing.iter().map(|d| (*d, Vec::new())).collect();
            for a in fetched {
                if let Some(v) = by_day.get_mut(a.day.as_str()) {
                    v.push(a);
                }
            }
            for (d, v) in by_day {
                let gen = days.get(d).map_or(0, |(_, g)| *g);
                held.insert(d.to_string(), (gen, std::sync::Arc::new(v)));
            }
        }
        let acts = activity_cache::timelines(&held);
        acts_ms = started.elapsed().as_millis() - spans_ms;
        for (name, def, b, fp, previous) in steps_due {
            let (persons, times, details) = person_steps(name, &def, &acts);
            ch.query(queries::JOB_FUNNEL_STEPS)
                .bind(name)
                .bind(version)
                .bind(persons)
                .bind(times)
                .bind(details)
                .bind(name)
                .bind(previous)
                .execute()
                .await?;
            report.buckets.push(b);
            fps.push(fp);
        }
        drop(acts);
        activity_cache::put(&database, held);
    }
    tracing::debug!(
        buckets = report.buckets.len(),
        read_ms,
        diff_ms = sort_ms,
        walk_ms,
        whole_months,
        held_rows,
        write_ms,
        steps_ms = started.elapsed().as_millis() - spans_ms,
        steps_read_ms = acts_ms,
        "job funnels steps"
    );
    if report.buckets.is_empty() {
        return Ok(report);
    }
    ch.query(queries::COMMIT_GENERATIONS)
        .bind(JOB)
        .bind(version)
        .bind(&report.buckets)
        .bind(fps)
        .execute()
        .await?;
    report.version = version;
    Ok(report)
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
