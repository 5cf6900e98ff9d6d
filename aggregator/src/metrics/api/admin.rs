//! `POST /api/refresh` (run every metric job now, answer when done; `?force=1` recomputes
//! every bucket) and `PUT /api/goals/{name}` (a conversion goal).

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use super::ident_param;
use crate::api::{ok_json, ApiError, ApiResult, AppState, Req};
use crate::metrics::goals::GoalDef;
use crate::metrics::{queries, scheduler};

/// Runs the jobs.
pub async fn refresh(state: Arc<AppState>, req: Req) -> ApiResult {
    let force = match req.query("force") {
        None | Some("0") | Some("false") => false,
        Some("1") | Some("true") => true,
        Some(_) => {
            return Err(ApiError::field(
                "force",
                "`force` must be 0, 1, true or false",
            ))
        }
    };
    let started = Instant::now();
    let reports = scheduler::refresh(&state, force).await?;
    ok_json(&json!({ "jobs": reports, "duration_s": started.elapsed().as_secs_f64() }))
}

/// Stores a goal.
pub async fn put_goal(state: Arc<AppState>, req: Req) -> ApiResult {
    let name = ident_param(&req, "name")?;
    let def: GoalDef = req.json()?;
    def.validate().map_err(|(f, m)| ApiError::field(f, m))?;
    let text = serde_json::to_string(&def).map_err(|e| ApiError::body(e.to_string()))?;
    state
        .ch
        .query(queries::GOAL_PUT)
        .bind(&name)
        .bind(&text)
        .bind(state.versions.next(1))
        .execute()
        .await?;
    ok_json(&json!({ "name": name, "definition": def }))
}
