//! `GET /api/persons/{id}/activities?from=&to=` (a known person's timeline and engagement
//! score) and `GET /api/activities?after=CURSOR&limit=` (the change feed for the CRM). Both
//! only show persons whose tracking consent stands now (the latest consent event wins).

use std::sync::Arc;

use serde_json::{json, Value};

use super::funnels::consenting;
use super::ident_param;
use crate::api::{ok_json, ApiError, ApiResult, AppState, Req};
use crate::metrics::cursor::Cursor;
use crate::metrics::funnel::{timeline_entry, timeline_hits, walk, FunnelDef};
use crate::metrics::queries;
use crate::metrics::range::{int_param, iso_ms, Range};
use crate::metrics::score::{is_machine, Tally};

/// One activity row (the columns shared by `api_person_activities.sql` and the feed).
#[derive(Debug, Clone, clickhouse::Row, serde::Deserialize)]
struct Activity {
    ts_ms: u64,
    kind: String,
    event_id: String,
    site: String,
    mailing_id: String,
    link_id: String,
    verdict: String,
    path: String,
    event_name: String,
    detail: String,
    pages: Vec<String>,
    page_ts: Vec<u64>,
    duration_ms: u64,
}

/// One row of `api_activity_feed.sql`: the cursor columns, the person, then an activity.
#[derive(Debug, clickhouse::Row, serde::Deserialize)]
struct FeedRow {
    first_seen: u64,
    ts_ms: u64,
    activity_id: u64,
    person_id: String,
    kind: String,
    event_id: String,
    site: String,
    mailing_id: String,
    link_id: String,
    verdict: String,
    path: String,
    event_name: String,
    detail: String,
    pages: Vec<String>,
    page_ts: Vec<u64>,
    duration_ms: u64,
}

impl From<FeedRow> for Activity {
    fn from(r: FeedRow) -> Self {
        Self {
            ts_ms: r.ts_ms,
            kind: r.kind,
            event_id: r.event_id,
            site: r.site,
            mailing_id: r.mailing_id,
            link_id: r.link_id,
            verdict: r.verdict,
            path: r.path,
            event_name: r.event_name,
            detail: r.detail,
            pages: r.pages,
            page_ts: r.page_ts,
            duration_ms: r.duration_ms,
        }
    }
}

impl Activity {
    /// The activity as the API shows it.
    fn to_json(&self) -> Value {
        let mut v = json!({ "at": iso_ms(self.ts_ms), "ts_ms": self.ts_ms, "kind": self.kind,
                            "event_id": self.event_id });
        match self.kind.as_str() {
            "open" | "click" => {
                v["mailing_id"] = self.mailing_id.clone().into();
                v["verdict"] = self.verdict.clone().into();
                v["human"] = (!is_machine(&self.verdict)).into();
                if self.kind == "click" {
                    v["link_id"] = self.link_id.clone().into();
                }
            }
            "visit" => {
                v["site"] = self.site.clone().into();
                v["duration_s"] = (self.duration_ms as f64 / 1000.0).into();
                v["pages"] = self
                    .pages
                    .iter()
                    .zip(&self.page_ts)
                    .map(|(p, t)| json!({ "path": p, "at": iso_ms(*t) }))
                    .collect();
            }
            "event" => {
                v["site"] = self.site.clone().into();
                v["event_name"] = self.event_name.clone().into();
                v["path"] = self.path.clone().into();
                v["props"] = serde_json::from_str::<Value>(&self.detail).unwrap_or(Value::Null);
            }
            // From the change feed (r_funnel_steps): the step is JSON in detail.
            "funnel_step" => {
                if let Ok(Value::Object(step)) = serde_json::from_str::<Value>(&self.detail) {
                    for (k, x) in step {
                        v[k] = x;
                    }
                }
            }
            "conversion" => {
                v["site"] = self.site.clone().into();
                v["goal"] = self.detail.clone().into();
                v["path"] = self.path.clone().into();
                v["event_name"] = self.event_name.clone().into();
            }
            _ => {}
        }
        v
    }
}

/// Answers a person's timeline.
pub async fn person(state: Arc<AppState>, req: Req) -> ApiResult {
    let person = ident_param(&req, "id")?;
    let range = Range::from_req(&req)?;
    let ch = &state.ch;
    let account: Option<String> = ch
        .query(queries::PERSON_ACCOUNT)
        .bind(&person)
        .fetch_optional()
        .await?;
    let Some(account) = account else {
        return Err(ApiError::Missing(format!("no person {person:?}")));
    };
    let standing = consenting(ch, vec![person.clone()])
        .await?
        .contains(&person);
    if !standing {
        return ok_json(&json!({
            "person_id": person, "account_id": account, "consent": false,
            "engagement_score": 0, "activities": [],
        }));
    }
    let (from_ms, to_ms) = range.millis();
    let acts: Vec<Activity> = ch
        .query(queries::API_PERSON_ACTIVITIES)
        .bind(&person)
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all()
        .await?;
    let mut tally = Tally::default();
    let mut items: Vec<(u64, Value)> = Vec::new();
    for a in &acts {
        match a.kind.as_str() {
            "open" | "click" if !is_machine(&a.verdict) => {
                tally.mailings_opened.insert(a.mailing_id.clone());
                tally.clicks += u64::from(a.kind == "click");
            }
            "visit" => {
                tally.visits += 1;
                tally.pages += a.pages.len() as u64;
            }
            "event" => tally.events += 1,
            "conversion" => tally.conversions += 1,
            _ => {}
        }
        items.push((a.ts_ms, a.to_json()));
    }
    let funnels: Vec<(String, String)> = ch.query(queries::FUNNELS_ALL).fetch_all().await?;
    let hits = timeline_hits(acts.iter().map(|a| timeline_entry!(a)));
    for (name, text) in funnels {
        let Ok(def) = serde_json::from_str::<FunnelDef>(&text) else {
            continue;
        };
        for (i, t) in walk(&def, &hits).into_iter().enumerate() {
            tally.funnel_steps += 1;
            items.push((
                t,
                json!({ "at": iso_ms(t), "ts_ms": t, "kind": "funnel_step", "funnel": name,
                        "step": def.steps[i].name, "step_index": i + 1 }),
            ));
        }
    }
    // Stable: activities keep their query order among equal times, funnel steps after them.
    items.sort_by_key(|(t, _)| *t);
    ok_json(&json!({
        "person_id": person, "account_id": account, "consent": true,
        "engagement_score": tally.score(),
        "activities": items.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
    }))
}

/// Answers the change feed.
pub async fn feed(state: Arc<AppState>, req: Req) -> ApiResult {
    let after = match req.query("after") {
        None => Cursor::default(),
        Some(t) => Cursor::decode(t).ok_or_else(|| {
            ApiError::field("after", "`after` is not a cursor this feed gave out")
        })?,
    };
    let limit = int_param(&req, "limit", 100, 1, 10_000)?;
    let rows: Vec<FeedRow> = state
        .ch
        .query(queries::API_ACTIVITY_FEED)
        .bind(after.first_seen)
        .bind(after.first_seen)
        .bind(after.ts_ms)
        .bind(after.ts_ms)
        .bind(after.activity_id)
        .bind(limit)
        .fetch_all()
        .await?;
    let mut next = after;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        next = Cursor {
            first_seen: r.first_seen,
            ts_ms: r.ts_ms,
            activity_id: r.activity_id,
        };
        let person = r.person_id.clone();
        let mut v = Activity::from(r).to_json();
        v["person_id"] = person.into();
        out.push(v);
    }
    ok_json(&json!({ "activities": out, "next": next.encode() }))
}
