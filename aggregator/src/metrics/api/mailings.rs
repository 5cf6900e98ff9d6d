//! `GET /api/mailings/{id}/response?goal=&window_days=7&account=`: what a mailing achieved,
//! raw and human-only (machine verdicts apple_mpp and scanner left out), per link and per
//! account, from the result tables of job "mailings" and the activities of job "days".
//! Without `goal`, conversions count the clicking recipients who reached any defined goal.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};

use super::ident_param;
use crate::api::{ok_json, ApiError, ApiResult, AppState, Req};
use crate::metrics::queries;
use crate::metrics::range::{ident_filter, int_param};

/// One row of `api_mailing_accounts.sql`.
#[derive(Debug, Default, Clone, clickhouse::Row, serde::Deserialize)]
struct AccountRow {
    account_id: String,
    sends: u64,
    opens: u64,
    human_opens: u64,
    clickers: u64,
    human_clickers: u64,
    clicks: u64,
    human_clicks: u64,
}

/// `api_mailing_timing.sql`.
#[derive(Debug, Default, clickhouse::Row, serde::Deserialize)]
struct Timing {
    n_open: u64,
    open_p50: i64,
    open_p90: i64,
    n_click: u64,
    click_p50: i64,
    click_p90: i64,
    n_human_open: u64,
    human_open_p50: i64,
    human_open_p90: i64,
    n_human_click: u64,
    human_click_p50: i64,
    human_click_p90: i64,
}

/// `api_mailing_links.sql`.
#[derive(Debug, clickhouse::Row, serde::Deserialize)]
struct LinkRow {
    link_id: String,
    clicks: u64,
    unique_clickers: u64,
    human_clicks: u64,
    human_unique_clickers: u64,
}

fn rate(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Median and p90 in seconds (from milliseconds), null when nobody did it.
fn quantiles(n: u64, p50_ms: i64, p90_ms: i64) -> Value {
    if n == 0 {
        json!({ "median": null, "p90": null })
    } else {
        json!({ "median": p50_ms as f64 / 1000.0, "p90": p90_ms as f64 / 1000.0 })
    }
}

/// The figures of one side (raw or human) as JSON.
fn figures(sends: u64, opens: u64, clickers: u64, clicks: u64, conversions: Option<u64>) -> Value {
    json!({
        "sends": sends, "unique_opens": opens, "open_rate": rate(opens, sends),
        "unique_clickers": clickers, "click_rate": rate(clickers, sends),
        "click_to_open_rate": rate(clickers, opens), "clicks": clicks,
        "conversions": conversions,
    })
}

/// Answers the mailing response.
pub async fn response(state: Arc<AppState>, req: Req) -> ApiResult {
    let mailing = ident_param(&req, "id")?;
    let account = ident_filter(&req, "account")?;
    let goal = ident_filter(&req, "goal")?;
    let window_days = int_param(&req, "window_days", 7, 1, 365)?;
    let ch = &state.ch;
    let accounts: Vec<AccountRow> = ch
        .query(queries::API_MAILING_ACCOUNTS)
        .bind(&mailing)
        .bind(&account)
        .bind(&account)
        .fetch_all()
        .await?;
    let links: Vec<LinkRow> = ch
        .query(queries::API_MAILING_LINKS)
        .bind(&mailing)
        .fetch_all()
        .await?;
    if accounts.is_empty() && links.is_empty() {
        return Err(ApiError::Missing(format!(
            "no response figures for mailing {mailing:?} (unknown, no send log yet, or not refreshed yet)"
        )));
    }
    let t: Timing = ch
        .query(queries::API_MAILING_TIMING)
        .bind(&mailing)
        .bind(&account)
        .bind(&account)
        .fetch_optional()
        .await?
        .unwrap_or_default();
    // Without a goal, conversions count the clickers who reached any defined goal.
    if !goal.is_empty() {
        let known: Option<String> = ch
            .query(queries::GOAL_GET)
            .bind(&goal)
            .fetch_optional()
            .await?;
        if known.is_none() {
            return Err(ApiError::field("goal", format!("no goal named {goal:?}")));
        }
    }
    let rows: Vec<(String, u64, u64)> = ch
        .query(queries::API_MAILING_CONVERSIONS)
        .bind(&mailing)
        .bind(&goal)
        .bind(&goal)
        .bind(window_days * 86_400_000)
        .bind(&mailing)
        .bind(&account)
        .bind(&account)
        .fetch_all()
        .await?;
    let conv: BTreeMap<String, (u64, u64)> =
        rows.into_iter().map(|(a, c, h)| (a, (c, h))).collect();
    let with_goal = !goal.is_empty();
    let conv_of = |a: &str, human: bool| {
        Some(
            conv.get(a)
                .map(|(c, h)| if human { *h } else { *c })
                .unwrap_or(0),
        )
    };
    let mut total = AccountRow::default();
    let mut by_account = Vec::new();
    for a in &accounts {
        total.sends += a.sends;
        total.opens += a.opens;
        total.human_opens += a.human_opens;
        total.clickers += a.clickers;
        total.human_clickers += a.human_clickers;
        total.clicks += a.clicks;
        total.human_clicks += a.human_clicks;
        by_account.push(json!({
            "account_id": a.account_id, "sends": a.sends, "unique_opens": a.opens,
            "unique_clickers": a.clickers, "conversions": conv_of(&a.account_id, false),
            "human": {
                "unique_opens": a.human_opens, "unique_clickers": a.human_clickers,
                "conversions": conv_of(&a.account_id, true),
            },
        }));
    }
    let sum_conv = |human: bool| {
        Some(
            conv.values()
                .map(|(c, h)| if human { *h } else { *c })
                .sum::<u64>(),
        )
    };
    let mut body = figures(
        total.sends,
        total.opens,
        total.clickers,
        total.clicks,
        sum_conv(false),
    );
    let mut human = figures(
        total.sends,
        total.human_opens,
        total.human_clickers,
        total.human_clicks,
        sum_conv(true),
    );
    human["time_to_open_s"] = quantiles(t.n_human_open, t.human_open_p50, t.human_open_p90);
    human["time_to_click_s"] = quantiles(t.n_human_click, t.human_click_p50, t.human_click_p90);
    body["mailing_id"] = mailing.into();
    body["account"] = if account.is_empty() {
        Value::Null
    } else {
        account.into()
    };
    body["goal"] = if with_goal { goal.into() } else { Value::Null };
    body["window_days"] = window_days.into();
    body["time_to_open_s"] = quantiles(t.n_open, t.open_p50, t.open_p90);
    body["time_to_click_s"] = quantiles(t.n_click, t.click_p50, t.click_p90);
    body["human"] = human;
    body["links"] = links
        .into_iter()
        .map(|l| {
            json!({
                "link_id": l.link_id, "clicks": l.clicks, "unique_clickers": l.unique_clickers,
                "human": { "clicks": l.human_clicks, "unique_clickers": l.human_unique_clickers },
            })
        })
        .collect();
    body["by_account"] = by_account.into();
    ok_json(&body)
}
