//! GDPR access and erasure: `GET /api/persons/{id}/export` (everything held about the person
//! as JSON) and `DELETE /api/persons/{id}` (erasure with a receipt; repeating it is a no-op
//! that returns the same receipt). In cluster mode both read through the Distributed tables;
//! erasure mutates every node (`store::cluster`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::validate;
use super::{ok_json, ApiError, ApiResult, AppState, Req};
use crate::store::cluster::{self, ClusterError};
use crate::store::erase::{self, EraseError};
use crate::store::person_data::{linked_visitors, person_tables, rows_of};
use crate::telemetry;

/// `GET /api/persons/{id}/export`.
pub async fn export(state: Arc<AppState>, req: Req) -> ApiResult {
    let person_id = validate::check_id(req.param("id")).map_err(|m| ApiError::field("id", m))?;
    let ch = &state.ch;
    let visitors = linked_visitors(ch, &person_id).await?;
    let mut by_table: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for t in person_tables(ch).await? {
        let rows = rows_of(ch, &t, &person_id, &visitors).await?;
        by_table.insert(t.name, rows);
    }
    let mut take = |name: &str| by_table.remove(name).unwrap_or_default();
    let profile = latest_version(take("persons"));
    let (mailing_events, hits): (Vec<Value>, Vec<Value>) = dedupe_hits(take("hits"))
        .into_iter()
        .partition(|h| matches!(h["type"].as_str(), Some("open" | "click")));
    let account_id = profile
        .as_ref()
        .and_then(|p| p["account_id"].as_str())
        .unwrap_or("")
        .to_string();
    let account: Option<Value> = if account_id.is_empty() {
        None
    } else {
        let bytes = ch
            .query("SELECT * FROM accounts FINAL WHERE account_id = ?")
            .bind(&account_id)
            .fetch_bytes("JSONEachRow")?
            .collect()
            .await?;
        serde_json::from_slice(bytes.split(|b| *b == b'\n').next().unwrap_or(b"")).ok()
    };
    let erasure = erase::existing_receipt(ch, &person_id).await?;
    let body = json!({
        "person_id": person_id,
        "profile": profile,
        "account": account,
        "consents": take("consents"),
        "identity_links": take("identity_links"),
        "identity_conflicts": take("identity_conflicts"),
        "linked_visitor_ids": visitors,
        "mailing_sends": take("mailing_sends"),
        "mailing_events": mailing_events,
        "hits": hits,
        "other_tables": by_table,
        "erasure": erasure,
    });
    ok_json(&body)
}

/// `DELETE /api/persons/{id}`: `{"receipt": {...}}`. Who asked comes from `X-Requested-By`.
pub async fn erase(state: Arc<AppState>, req: Req) -> ApiResult {
    let person_id = validate::check_id(req.param("id")).map_err(|m| ApiError::field("id", m))?;
    let requested_by = match req.headers.get("x-requested-by") {
        None => "admin".to_string(),
        Some(v) => v
            .to_str()
            .ok()
            .filter(|s| !s.is_empty() && s.len() <= validate::MAX_ID_LEN)
            .map(str::to_string)
            .ok_or_else(|| {
                ApiError::field("X-Requested-By", "expected 1-128 visible ASCII characters")
            })?,
    };
    // One erasure at a time per process: two concurrent ones for the same person would
    // both count rows and both write a receipt.
    let _guard = state.erase_lock.lock().await;
    let started = Instant::now();
    let before = erase::existing_receipt(&state.ch, &person_id).await?;
    let timeout = Duration::from_secs(state.config.erase_timeout_s);
    // In cluster mode every node's local tables, found afresh each time: nodes come and go.
    let nodes = cluster::nodes(&state.config.clickhouse, &state.config.clickhouse_nodes)
        .await
        .map_err(|e| match e {
            ClusterError::ClickHouse(e) => ApiError::from(e),
            ClusterError::Config(m) => {
                tracing::error!(error = %m, "GDPR erasure cannot reach every ClickHouse node");
                ApiError::Storage(m)
            }
        })?;
    let receipt = erase::erase(&state.ch, &nodes, &person_id, &requested_by, timeout)
        .await
        .map_err(|e| match e {
            EraseError::ClickHouse(e) => ApiError::from(e),
            other => ApiError::Timeout(other.to_string()),
        })?;
    if before.is_none() {
        metrics::counter!(telemetry::ERASURES).increment(1);
        metrics::histogram!(telemetry::ERASURE_DURATION).record(started.elapsed().as_secs_f64());
    }
    ok_json(&json!({ "receipt": receipt }))
}

/// The row with the highest `version` (ReplacingMergeTree semantics before a merge).
fn latest_version(rows: Vec<Value>) -> Option<Value> {
    rows.into_iter().max_by_key(|r| {
        r["version"]
            .as_str()
            .and_then(|v| v.parse::<u64>().ok())
            .or_else(|| r["version"].as_u64())
            .unwrap_or(0)
    })
}

/// One row per `event_id` (a replayed batch may not have merged yet), oldest first.
fn dedupe_hits(mut rows: Vec<Value>) -> Vec<Value> {
    let mut seen = std::collections::HashSet::new();
    rows.retain(|r| seen.insert(r["event_id"].to_string()));
    rows.sort_by_key(|r| {
        r["ts_ms"]
            .as_str()
            .and_then(|v| v.parse::<u64>().ok())
            .or_else(|| r["ts_ms"].as_u64())
            .unwrap_or(0)
    });
    rows
}
