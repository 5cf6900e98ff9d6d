//! `PUT /api/funnels/{name}` (definition) and `GET /api/funnels/{name}?site=&account=&from=&to=`
//! (visitors and known persons per step, conversion, median time between steps, and the
//! known persons with their account who dropped after each step — only persons whose
//! tracking consent stands now).

use std::sync::Arc;

use serde_json::json;

use super::ident_param;
use crate::api::{ok_json, ApiError, ApiResult, AppState, Req};
use crate::metrics::funnel::{evaluate, summarize, FunnelDef, FunnelHit, FunnelOutcome, StepStat};
use crate::metrics::funnel_spans::{self, span_dates};
use crate::metrics::queries;
use crate::metrics::range::{ident_filter, parse_date, Range};
use crate::metrics::spans::{self, month_of, Committed};

/// Stores a definition.
pub async fn put(state: Arc<AppState>, req: Req) -> ApiResult {
    let name = ident_param(&req, "name")?;
    let def: FunnelDef = req.json()?;
    def.validate().map_err(|(f, m)| ApiError::field(f, m))?;
    let text = serde_json::to_string(&def).map_err(|e| ApiError::body(e.to_string()))?;
    state
        .ch
        .query(queries::FUNNEL_PUT)
        .bind(&name)
        .bind(&text)
        .bind(state.versions.next(1))
        .execute()
        .await?;
    ok_json(&json!({ "name": name, "steps": def.steps, "window_s": def.window_s }))
}

/// Loads a stored definition with its stored text.
async fn load_text(ch: &clickhouse::Client, name: &str) -> Result<(FunnelDef, String), ApiError> {
    let text: Option<String> = ch
        .query(queries::FUNNEL_GET)
        .bind(name)
        .fetch_optional()
        .await?;
    let text = text.ok_or_else(|| ApiError::Missing(format!("no funnel named {name:?}")))?;
    let def = serde_json::from_str(&text).map_err(|e| {
        ApiError::Storage(format!("funnel {name:?} has an unreadable definition: {e}"))
    })?;
    Ok((def, text))
}

/// The span of `r_funnel_spans` that answers `range` exactly, if any: `(bucket span, start,
/// end)` when every committed day with hits in the range lies in one day (or one calendar
/// month) that the range covers whole.
fn span_of(range: &Range, days: &Committed) -> Option<(String, String, String)> {
    let day_s = |d: &str| parse_date(d).map(|n| n.max(0) as u64 * 86_400);
    let in_range: Vec<&String> = days
        .keys()
        .filter(|d| day_s(d).is_some_and(|s| s < range.to_s && s + 86_400 > range.from_s))
        .collect();
    let (first, last) = (in_range.first()?, in_range.last()?);
    let covers = |span: &str| {
        let (start, end) = span_dates(span)?;
        let (s, e) = (day_s(&start)?, day_s(&end)?);
        (range.from_s <= s && e <= range.to_s).then_some((span.to_string(), start, end))
    };
    if first == last {
        if let Some(found) = covers(first) {
            return Some(found);
        }
    }
    let month = month_of(first);
    if month == month_of(last) {
        return covers(month);
    }
    None
}

/// The funnel's figures from its current span row, if the range is one span and the job has
/// computed it for the present hits and definition.
async fn from_span(
    ch: &clickhouse::Client,
    (name, text, def): (&str, &str, &FunnelDef),
    site: &str,
    account: &str,
    range: &Range,
) -> Result<Option<FunnelOutcome>, ApiError> {
    let mut gens = spans::api_generations(ch).await?;
    let days = gens.remove("days").unwrap_or_default();
    let done = gens.remove(funnel_spans::JOB).unwrap_or_default();
    let Some((span, start, end)) = span_of(range, &days) else {
        return Ok(None);
    };
    let b = funnel_spans::bucket(name, &span);
    let want = funnel_spans::wanted(name, text, &days);
    let Some((fp, version)) = done.get(&b) else {
        return Ok(None);
    };
    // Computed for the present days and definition (a CRM change is taken in at the next
    // refresh, after the `#`).
    if want.get(&b).map(String::as_str) != fp.split('#').next() {
        return Ok(None);
    }
    let steps: Option<String> = ch
        .query(queries::API_FUNNEL_SPAN)
        .bind(name)
        .bind(site)
        .bind(account)
        .bind(&start)
        .bind(&end)
        .bind(version)
        .fetch_optional()
        .await?;
    let Some(steps) = steps else {
        // Nobody of that site or account reached step 1 in the span.
        return Ok(Some(summarize(def, std::iter::empty())));
    };
    let steps: Vec<StepStat> = serde_json::from_str(&steps)
        .map_err(|e| ApiError::Storage(format!("r_funnel_spans: {e}")))?;
    let dropped: Vec<(String, String, u32)> = ch
        .query(queries::API_FUNNEL_SPAN_PERSONS)
        .bind(name)
        .bind(site)
        .bind(account)
        .bind(&start)
        .bind(&end)
        .bind(version)
        .fetch_all()
        .await?;
    let levels: Vec<(String, String, usize)> = dropped
        .into_iter()
        .map(|(p, a, l)| (p, a, l as usize))
        .collect();
    Ok(Some(FunnelOutcome {
        steps,
        person_levels: levels.into_iter().map(|(p, a, l)| (p, (a, l))).collect(),
    }))
}

/// The persons among `persons` whose tracking consent stands now.
pub async fn consenting(
    ch: &clickhouse::Client,
    persons: Vec<String>,
) -> Result<std::collections::BTreeSet<String>, ApiError> {
    if persons.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<String> = ch
        .query(queries::CONSENT_STANDING)
        .bind(persons)
        .fetch_all()
        .await?;
    Ok(rows.into_iter().collect())
}

/// The funnel's figures walked from the raw hits of the range.
async fn from_hits(
    ch: &clickhouse::Client,
    def: &FunnelDef,
    site: &str,
    account: &str,
    range: &Range,
) -> Result<FunnelOutcome, ApiError> {
    let (exact, prefixes, events) = def.filters();
    let (from, to) = range.datetime_s();
    type Row = (String, String, String, u64, String, String, String, String);
    let rows: Vec<Row> = ch
        .query(queries::FUNNEL_HITS)
        .bind(site)
        .bind(from)
        .bind(to)
        .bind(from)
        .bind(to)
        .bind(exact)
        .bind(prefixes)
        .bind(events)
        .fetch_all()
        .await?;
    let hits: Vec<FunnelHit> = rows
        .into_iter()
        .map(
            |(visitor, person, account, ts_ms, event_id, kind, path, name)| FunnelHit {
                visitor,
                person,
                account,
                ts_ms,
                event_id,
                kind,
                path,
                name,
            },
        )
        .collect();
    Ok(evaluate(def, &hits, account))
}

/// Answers the funnel.
pub async fn get(state: Arc<AppState>, req: Req) -> ApiResult {
    let name = ident_param(&req, "name")?;
    let site = ident_filter(&req, "site")?;
    if site.is_empty() {
        return Err(ApiError::field("site", "`site` is required"));
    }
    let account = ident_filter(&req, "account")?;
    let range = Range::from_req(&req)?;
    let (def, text) = load_text(&state.ch, &name).await?;
    let spanned = from_span(&state.ch, (&name, &text, &def), &site, &account, &range).await?;
    let out = match spanned {
        Some(out) => out,
        None => from_hits(&state.ch, &def, &site, &account, &range).await?,
    };
    let last = def.steps.len();
    let dropped_candidates: Vec<String> = out
        .person_levels
        .iter()
        .filter(|(_, (_, level))| *level < last)
        .map(|(p, _)| p.clone())
        .collect();
    let allowed = consenting(&state.ch, dropped_candidates).await?;
    let mut dropped: Vec<_> = out
        .person_levels
        .iter()
        .filter(|(p, (_, level))| *level < last && allowed.contains(*p))
        .map(|(p, (acct, level))| (*level, p.clone(), acct.clone()))
        .collect();
    dropped.sort();
    let dropped: Vec<_> = dropped
        .into_iter()
        .map(|(level, person, acct)| {
            json!({
                "after_step": def.steps[level - 1].name, "after_step_index": level,
                "person_id": person, "account_id": acct,
            })
        })
        .collect();
    ok_json(&json!({
        "name": name, "site": site, "window_s": def.window_s,
        "steps": out.steps, "dropped": dropped,
    }))
}
