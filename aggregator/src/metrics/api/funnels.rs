//! `PUT /api/funnels/{name}` (definition) and `GET /api/funnels/{name}?site=&account=&from=&to=`
//! (visitors and known persons per step, conversion, median time between steps, and the
//! known persons with their account who dropped after each step — only persons whose
//! tracking consent stands now).

use std::sync::Arc;

use serde_json::json;

use super::ident_param;
use crate::api::{ok_json, ApiError, ApiResult, AppState, Req};
use crate::metrics::funnel::{evaluate, FunnelDef, FunnelHit};
use crate::metrics::queries;
use crate::metrics::range::{ident_filter, Range};

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

/// Loads a stored definition.
pub async fn load(ch: &clickhouse::Client, name: &str) -> Result<FunnelDef, ApiError> {
    let text: Option<String> = ch
        .query(queries::FUNNEL_GET)
        .bind(name)
        .fetch_optional()
        .await?;
    let text = text.ok_or_else(|| ApiError::Missing(format!("no funnel named {name:?}")))?;
    serde_json::from_str(&text).map_err(|e| {
        ApiError::Storage(format!("funnel {name:?} has an unreadable definition: {e}"))
    })
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

/// Answers the funnel.
pub async fn get(state: Arc<AppState>, req: Req) -> ApiResult {
    let name = ident_param(&req, "name")?;
    let site = ident_filter(&req, "site")?;
    if site.is_empty() {
        return Err(ApiError::field("site", "`site` is required"));
    }
    let account = ident_filter(&req, "account")?;
    let range = Range::from_req(&req)?;
    let def = load(&state.ch, &name).await?;
    let (exact, prefixes, events) = def.filters();
    let (from, to) = range.datetime_s();
    type Row = (String, String, String, u64, String, String, String, String);
    let rows: Vec<Row> = state
        .ch
        .query(queries::FUNNEL_HITS)
        .bind(&site)
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
    let out = evaluate(&def, &hits, &account);
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
