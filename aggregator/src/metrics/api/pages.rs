//! `GET /api/pages?site=&from=&to=&limit=`: page effectiveness per page over whole UTC days.
//! Times on page are null for a page no view of which could be timed.
//!
//! Where the figures come from (all exact): a range whose data lies in one day, or covers one
//! whole calendar month, reads that span's finished rows (`r_page_days`, `r_page_spans`); any
//! other range (a week, the last 30 days across a month boundary) merges the day rows of
//! `r_page_days`, counting the distinct visitor hashes of their arrays; while job "page_spans"
//! has not caught up with job "days" for a day of the range, `r_page_daily` answers as before.
//! Answers are cached per request and committed generations (`super::cache`).

use std::sync::Arc;

use serde_json::json;

use super::cache;
use crate::api::{ok_json, ApiResult, AppState, Req};
use crate::metrics::queries;
use crate::metrics::range::{date_of_day, ident_filter, int_param, parse_date, Range};
use crate::metrics::spans::{self, is_current, month_of, next_month_start, wanted, Committed};

/// Which rows answer a request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Plan {
    /// No committed day in the range.
    Empty,
    /// One span's finished rows (a day's or a month's): `[start, end)` at `version`.
    Span {
        start: String,
        end: String,
        version: u64,
    },
    /// The day rows of `r_page_days`, day `days[i]` at `versions[i]`.
    Days {
        days: Vec<String>,
        versions: Vec<u64>,
    },
    /// `r_page_daily` (some day's span is not current).
    Daily { generations: Vec<u64> },
}

impl Plan {
    /// The part of the cache key that names the rows read.
    fn key(&self) -> String {
        let join = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
        match self {
            Plan::Empty => "empty".into(),
            Plan::Span {
                start,
                end,
                version,
            } => format!("span {start} {end} {version}"),
            Plan::Days { versions, .. } => format!("days {}", join(versions)),
            Plan::Daily { generations } => format!("daily {}", join(generations)),
        }
    }
}

/// Chooses the rows for `[from_day, to_day)` from the committed generations of job "days"
/// and job "page_spans".
fn plan(from_day: &str, to_day: &str, days: &Committed, spans: &Committed) -> Plan {
    let in_range: Vec<(&String, u64)> = days
        .range::<str, _>((
            std::ops::Bound::Included(from_day),
            std::ops::Bound::Excluded(to_day),
        ))
        .map(|(d, (_, g))| (d, *g))
        .collect();
    let (Some(first), Some(last)) = (in_range.first(), in_range.last()) else {
        return Plan::Empty;
    };
    let want = wanted(days);
    let span = |bucket: &str, start: String, end: String| {
        is_current(bucket, &want, spans).then(|| Plan::Span {
            start,
            end,
            version: spans.get(bucket).map_or(0, |(_, g)| *g),
        })
    };
    if in_range.len() == 1 {
        let next = parse_date(first.0).map(|d| date_of_day(d + 1));
        if let Some(p) = next.and_then(|end| span(first.0, first.0.clone(), end)) {
            return p;
        }
    }
    let month = month_of(first.0);
    if month == month_of(last.0) {
        let start = format!("{month}-01");
        if let Some(end) = next_month_start(month) {
            if from_day <= start.as_str() && end.as_str() <= to_day {
                if let Some(p) = span(month, start, end) {
                    return p;
                }
            }
        }
    }
    if in_range.iter().all(|(d, _)| is_current(d, &want, spans)) {
        return Plan::Days {
            days: in_range.iter().map(|(d, _)| d.to_string()).collect(),
            versions: in_range
                .iter()
                .map(|(d, _)| spans.get(*d).map_or(0, |(_, g)| *g))
                .collect(),
        };
    }
    Plan::Daily {
        generations: in_range.iter().map(|(_, g)| *g).collect(),
    }
}

/// One row of `api_pages.sql`.
#[derive(Debug, clickhouse::Row, serde::Deserialize)]
struct PageRow {
    site: String,
    path: String,
    pageviews: u64,
    visitors: u64,
    entrances: u64,
    exits: u64,
    bounces: u64,
    timed: u64,
    time_sum_ms: u64,
    median_ms: u64,
    visits: u64,
    from_mailing: u64,
    from_campaign: u64,
    converting: u64,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Answers the page table.
pub async fn get(state: Arc<AppState>, req: Req) -> ApiResult {
    let site = ident_filter(&req, "site")?;
    let range = Range::from_req(&req)?;
    let limit = int_param(&req, "limit", 1000, 1, 100_000)?;
    let (from_day, to_day) = range.days();
    let mut gens = spans::api_generations(&state.ch).await?;
    let days = gens.remove("days").unwrap_or_default();
    let spans = gens.remove(spans::JOB).unwrap_or_default();
    let plan = plan(&from_day, &to_day, &days, &spans);
    let limit_text = limit.to_string();
    let key = cache::key(
        &state.config.clickhouse,
        &["pages", &site, &from_day, &to_day, &limit_text, &plan.key()],
    );
    if let Some(body) = cache::get(&key) {
        return ok_json(&body);
    }
    let ch = &state.ch;
    let rows: Vec<PageRow> = match &plan {
        Plan::Empty => Vec::new(),
        Plan::Span {
            start,
            end,
            version,
        } => {
            // The file reads a month from r_page_spans and a day from r_page_days; the span
            // matches one of the two.
            ch.query(queries::API_PAGES_SPAN)
                .bind(start)
                .bind(end)
                .bind(version)
                .bind(&site)
                .bind(&site)
                .bind(start)
                .bind(end)
                .bind(version)
                .bind(&site)
                .bind(&site)
                .bind(limit)
                .fetch_all()
                .await?
        }
        Plan::Days { days, versions } => {
            ch.query(queries::API_PAGES_DAYS)
                .bind(&from_day)
                .bind(&to_day)
                .bind(versions)
                .bind(days)
                .bind(&site)
                .bind(&site)
                .bind(limit)
                .fetch_all()
                .await?
        }
        Plan::Daily { .. } => {
            ch.query(queries::API_PAGES)
                .bind(&site)
                .bind(&site)
                .bind(&from_day)
                .bind(&to_day)
                .bind(limit)
                .fetch_all()
                .await?
        }
    };
    let pages: Vec<_> = rows
        .into_iter()
        .map(|r| {
            json!({
                "site": r.site, "path": r.path, "pageviews": r.pageviews,
                "visitors": r.visitors, "entrances": r.entrances, "exits": r.exits,
                "exit_rate": ratio(r.exits, r.pageviews),
                "bounce_rate": ratio(r.bounces, r.entrances), "bounces": r.bounces,
                "avg_time_on_page_s": (r.timed > 0).then(|| ratio(r.time_sum_ms, r.timed) / 1000.0),
                "median_time_on_page_s": (r.timed > 0).then(|| r.median_ms as f64 / 1000.0),
                "timed_pageviews": r.timed,
                "visits": r.visits, "visits_from_mailings": r.from_mailing,
                "visits_from_campaigns": r.from_campaign, "converting_visits": r.converting,
                "conversion_share": ratio(r.converting, r.visits),
            })
        })
        .collect();
    let body = json!({ "from_day": from_day, "to_day": to_day, "pages": pages });
    let answer = ok_json(&body);
    cache::put(key, body);
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn committed(items: &[(&str, &str, u64)]) -> Committed {
        items
            .iter()
            .map(|(b, fp, g)| (b.to_string(), (fp.to_string(), *g)))
            .collect()
    }

    #[test]
    fn a_day_or_a_month_reads_one_span_and_stale_spans_fall_back() {
        let days = committed(&[("2026-01-30", "x", 5), ("2026-01-31", "y", 6)]);
        let mut spans = committed(&[
            ("2026-01-30", "5@r_page_days", 10),
            ("2026-01-31", "6@r_page_days", 11),
            ("2026-01", "2026-01-30:5,2026-01-31:6", 11),
        ]);
        let span = |start: &str, end: &str, version| Plan::Span {
            start: start.into(),
            end: end.into(),
            version,
        };
        assert_eq!(
            plan("2026-01-31", "2026-02-01", &days, &spans),
            span("2026-01-31", "2026-02-01", 11)
        );
        // The data of an open range lies in one month: its month row.
        for (from, to) in [("2026-01-01", "2026-02-01"), ("1970-01-01", "2105-12-31")] {
            assert_eq!(
                plan(from, to, &days, &spans),
                span("2026-01-01", "2026-02-01", 11)
            );
        }
        // Two days that are not the whole month: the day rows.
        assert_eq!(
            plan("2026-01-30", "2026-02-01", &days, &spans),
            Plan::Days {
                days: vec!["2026-01-30".into(), "2026-01-31".into()],
                versions: vec![10, 11],
            }
        );
        assert_eq!(plan("2026-02-01", "2026-03-01", &days, &spans), Plan::Empty);
        // Day 31 recomputed by job "days" since: its spans are stale, the month too.
        let newer = committed(&[("2026-01-30", "x", 5), ("2026-01-31", "z", 7)]);
        assert_eq!(
            plan("2026-01-30", "2026-02-01", &newer, &spans),
            Plan::Daily {
                generations: vec![5, 7]
            }
        );
        assert_eq!(
            plan("2026-01-30", "2026-01-31", &newer, &spans),
            span("2026-01-30", "2026-01-31", 10)
        );
        // Days committed while their rows were in r_page_spans (untagged fingerprints, before
        // migration 0012): r_page_daily answers until the job has written r_page_days.
        let before = committed(&[("2026-01-30", "5", 10), ("2026-01-31", "6", 11)]);
        assert_eq!(
            plan("2026-01-30", "2026-02-01", &days, &before),
            Plan::Daily {
                generations: vec![5, 6]
            }
        );
        spans.remove("2026-01");
        assert!(matches!(
            plan("2026-01-01", "2026-02-01", &days, &spans),
            Plan::Days { .. }
        ));
    }
}
