//! `GET /api/pages?site=&from=&to=&limit=`: page effectiveness per page over whole UTC days.

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
    exit_rate: f64,
    bounce_rate: f64,
    avg_time_s: f64,
    median_time_s: f64,
    visits: u64,
    from_mailing: u64,
    from_campaign: u64,
    converting: u64,
    conversion_share: f64,
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
                "exit_rate": r.exit_rate, "bounce_rate": r.bounce_rate,
                "avg_time_on_page_s": r.avg_time_s, "median_time_on_page_s": r.median_time_s,
                "visits": r.visits, "visits_from_mailings": r.from_mailing,
                "visits_from_campaigns": r.from_campaign, "converting_visits": r.converting,
                "conversion_share": r.conversion_share,
            })
        })
        .collect();
    ok_json(&json!({ "from_day": from_day, "to_day": to_day, "pages": pages }))
}
