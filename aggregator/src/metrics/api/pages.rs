//! `GET /api/pages?site=&from=&to=&limit=`: page effectiveness per page over whole UTC days.
//! Times on page are null for a page no view of which could be timed.

use std::sync::Arc;

use serde_json::json;

use crate::api::{ok_json, ApiResult, AppState, Req};
use crate::metrics::queries;
use crate::metrics::range::{ident_filter, int_param, Range};

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
    let rows: Vec<PageRow> = state
        .ch
        .query(queries::API_PAGES)
        .bind(&site)
        .bind(&site)
        .bind(&from_day)
        .bind(&to_day)
        .bind(limit)
        .fetch_all()
        .await?;
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
    ok_json(&json!({ "from_day": from_day, "to_day": to_day, "pages": pages }))
}
