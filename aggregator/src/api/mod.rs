//! The aggregator's HTTP API: shared state, the route table and the dispatch every request
//! goes through (bearer auth, body cap, metrics, JSON errors).
//!
//! Adding endpoints: put the handlers in a module and list them in [`routes`]. The metric
//! endpoints of `crate::metrics` (engineer D) plug in at the marked line.

pub mod error;
pub mod gdpr;
pub mod intake;
pub mod links;
pub mod route;
pub mod validate;

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use error::{ApiError, ApiResult};
pub use route::{Handler, HandlerFuture, Req, Route};

use crate::config::Config;
use crate::telemetry;

/// What every handler shares.
pub struct AppState {
    /// The loaded config (keys, public URL, limits).
    pub config: Config,
    /// ClickHouse, bound to the aggregator's database.
    pub ch: clickhouse::Client,
    /// Renders `/metrics`.
    pub prometheus: metrics_exporter_prometheus::PrometheusHandle,
    /// Hands out row versions for ReplacingMergeTree upserts.
    pub versions: crate::store::VersionClock,
    /// Serialises GDPR erasures within this process.
    pub erase_lock: tokio::sync::Mutex<()>,
    /// The endpoint table, built once.
    routes: Vec<Route>,
    /// SHA-256 of `ADMIN_TOKEN`, so the comparison takes the same time whatever the length.
    admin_digest: [u8; 32],
}

impl AppState {
    /// State for a server with this config.
    pub fn new(config: Config) -> Self {
        let ch = config.clickhouse.client();
        let admin_digest = Sha256::digest(config.admin_token.as_bytes()).into();
        Self {
            config,
            ch,
            prometheus: telemetry::install(),
            versions: crate::store::VersionClock::default(),
            erase_lock: tokio::sync::Mutex::new(()),
            routes: routes(),
            admin_digest,
        }
    }

    /// True when the `Authorization` header carries the admin token (compared in constant
    /// time over digests).
    fn authorized(&self, headers: &http::HeaderMap) -> bool {
        let Some(given) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token)
        else {
            return false;
        };
        let digest: [u8; 32] = Sha256::digest(given.trim().as_bytes()).into();
        digest.ct_eq(&self.admin_digest).into()
    }
}

/// Every endpoint of the API.
pub fn routes() -> Vec<Route> {
    use Method as M;
    let mut r = vec![
        Route::new(M::POST, "/api/accounts", |s, q| {
            Box::pin(intake::accounts(s, q))
        }),
        Route::new(M::POST, "/api/persons", |s, q| {
            Box::pin(intake::persons(s, q))
        }),
        Route::new(M::POST, "/api/mailings", |s, q| {
            Box::pin(intake::mailings(s, q))
        }),
        Route::new(M::POST, "/api/mailings/{id}/sends", |s, q| {
            Box::pin(intake::sends(s, q))
        }),
        Route::new(M::POST, "/api/consents", |s, q| {
            Box::pin(intake::consents(s, q))
        }),
        Route::new(M::POST, "/api/links/sign", |s, q| {
            Box::pin(links::sign(s, q))
        }),
        Route::new(M::POST, "/api/persons/{id}/token", |s, q| {
            Box::pin(links::person_token(s, q))
        }),
        Route::new(M::GET, "/api/persons/{id}/export", |s, q| {
            Box::pin(gdpr::export(s, q))
        }),
        Route::new(M::DELETE, "/api/persons/{id}", |s, q| {
            Box::pin(gdpr::erase(s, q))
        }),
    ];
    r.extend(crate::metrics::api::routes());
    // The metric endpoints above come from `crate::metrics::api`:
    // where `routes()` returns `Vec<Route>` for /api/mailings/{id}/response, /api/pages,
    // /api/funnels/{name}, /api/persons/{id}/activities, /api/activities, /api/refresh and
    // PUT /api/goals/{name}. Handlers get `Arc<AppState>` (ClickHouse client, config) and a
    // `Req` (path params, query map, body); errors are `ApiError::field("from", "…")`.
    r.shrink_to_fit();
    r
}

/// A JSON answer.
pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Full<Bytes>> {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut resp = Response::new(Full::new(Bytes::from(bytes)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

/// A 200 JSON answer.
pub fn ok_json(body: &serde_json::Value) -> ApiResult {
    Ok(json_response(StatusCode::OK, body))
}

/// Answers one request: `/metrics` and `/healthz` openly, `/api/…` behind the bearer token.
pub async fn dispatch<B>(state: Arc<AppState>, req: Request<B>) -> Response<Full<Bytes>>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let started = Instant::now();
    let path = req.uri().path().to_string();
    if req.method() == Method::GET && path == "/metrics" {
        let mut resp = Response::new(Full::new(Bytes::from(state.prometheus.render())));
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; version=0.0.4"),
        );
        return resp;
    }
    if req.method() == Method::GET && path == "/healthz" {
        return json_response(StatusCode::OK, &serde_json::json!({"status": "ok"}));
    }
    // Every other path is behind the token, unknown ones too, so the API does not reveal
    // which routes exist to a caller without it.
    let (template, result) = if !state.authorized(req.headers()) {
        metrics::counter!(telemetry::AUTH_FAILURES).increment(1);
        ("unauthorized", Err(ApiError::Unauthorized))
    } else {
        match route::find(&state.routes, req.method(), &path) {
            route::Matched::Found(r, params) => {
                let (template, handler) = (r.template, r.handler);
                (template, answer(&state, req, params, handler).await)
            }
            route::Matched::WrongMethod => ("unmatched", Err(ApiError::MethodNotAllowed)),
            route::Matched::Nothing => ("unmatched", Err(ApiError::NotFound)),
        }
    };
    let resp = result.unwrap_or_else(|e| {
        if let ApiError::Storage(detail) | ApiError::Timeout(detail) = &e {
            tracing::warn!(route = template, detail = %detail, "request failed");
        }
        e.into_response()
    });
    metrics::counter!(telemetry::HTTP_REQUESTS, "route" => template,
        "status" => resp.status().as_u16().to_string())
    .increment(1);
    metrics::histogram!(telemetry::HTTP_DURATION, "route" => template)
        .record(started.elapsed().as_secs_f64());
    resp
}

async fn answer<B>(
    state: &Arc<AppState>,
    req: Request<B>,
    params: std::collections::HashMap<&'static str, String>,
    handler: Handler,
) -> ApiResult
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let cap = state.config.max_body_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > cap as u64) {
        return Err(ApiError::TooLarge(cap));
    }
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, cap).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(ApiError::TooLarge(cap))
        }
        Err(e) => return Err(ApiError::body(format!("could not read body: {e}"))),
    };
    let req = Req {
        params,
        query: route::parse_query(parts.uri.query()),
        body,
        headers: parts.headers,
    };
    handler(Arc::clone(state), req).await
}
