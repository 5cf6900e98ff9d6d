//! The public routes: pixel, beacon (+ CORS preflight), tracker script, mailing click and
//! open. Each parses, enriches and offers hits to the queue; none waits on ClickHouse.

use std::net::SocketAddr;

use bytes::Bytes;
use common::token::TokenKind;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use super::reply::{self, Body};
use super::App;
use crate::pipeline::{OfferError, Row};
use crate::telemetry::{self, Route};

/// Answers one public request.
pub async fn handle(app: &App, peer: SocketAddr, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path();
    let (route, resp) = if path == "/p.gif" {
        (Route::Pixel, pixel(app, peer, &req).await)
    } else if path == "/e" {
        (Route::Beacon, beacon(app, peer, req).await)
    } else if path == "/t.js" {
        let r = match *req.method() {
            Method::GET | Method::HEAD => reply::script(req.headers().get(header::IF_NONE_MATCH)),
            _ => reply::method_not_allowed("GET, HEAD"),
        };
        (Route::Script, r)
    } else if let Some(token) = path.strip_prefix("/r/") {
        let token = token.to_string();
        (Route::Click, click(app, peer, &req, &token).await)
    } else if let Some(token) = path
        .strip_prefix("/o/")
        .and_then(|t| t.strip_suffix(".gif"))
    {
        let token = token.to_string();
        (Route::Open, open(app, peer, &req, &token).await)
    } else {
        (
            Route::Other,
            reply::status(StatusCode::NOT_FOUND, "not found\n"),
        )
    };
    telemetry::http(route, resp.status().as_u16());
    resp
}

/// `GET /p.gif`: always the GIF; an invalid hit is counted, not stored.
async fn pixel(app: &App, peer: SocketAddr, req: &Request<Incoming>) -> Response<Body> {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return reply::method_not_allowed("GET, HEAD");
    }
    telemetry::received(Route::Pixel, 1);
    let query = req.uri().query().unwrap_or("");
    let hit = enrich::parse_query(query).and_then(|raw| {
        let info = app.request_info(peer, req);
        let stamp = app.stamp();
        let visitor = linkable_visitor(&raw);
        let hit = app.enricher.enrich_row(raw, &info, &stamp)?;
        app.identity.observe(&hit.row(), &visitor, stamp.now_ms);
        Ok(hit)
    });
    match hit {
        Ok(hit) => offer(app, Route::Pixel, std::slice::from_ref(&hit))
            .await
            .ok(),
        Err(r) => {
            tracing::debug!(field = r.field, reason = r.reason, "pixel hit rejected");
            telemetry::rejected(r.reason, 1);
            None
        }
    };
    reply::gif()
}

/// Content types a beacon may carry (sendBeacon with a string sends text/plain).
fn beacon_content_type_ok(req: &Request<Incoming>) -> bool {
    let Some(v) = req.headers().get(header::CONTENT_TYPE) else {
        // A Blob without a type arrives without the header; the body is still checked.
        return true;
    };
    let Ok(v) = v.to_str() else { return false };
    let essence = v
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(essence.as_str(), "application/json" | "text/plain")
}

/// `POST /e`: a JSON object or array of hits; all are accepted or none.
async fn beacon(app: &App, peer: SocketAddr, req: Request<Incoming>) -> Response<Body> {
    match *req.method() {
        Method::POST => {}
        Method::OPTIONS => {
            let r = reply::status(StatusCode::NO_CONTENT, "");
            return reply::cors(r);
        }
        _ => return reply::cors(reply::method_not_allowed("POST, OPTIONS")),
    }
    reply::cors(beacon_post(app, peer, req).await)
}

async fn beacon_post(app: &App, peer: SocketAddr, req: Request<Incoming>) -> Response<Body> {
    let max = enrich::MAX_BEACON_BYTES;
    if !beacon_content_type_ok(&req) {
        telemetry::rejected("bad_content_type", 1);
        return reply::error(
            StatusCode::BAD_REQUEST,
            "Content-Type must be application/json or text/plain",
            Some("content-type"),
        );
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        telemetry::rejected("too_large", 1);
        return too_large();
    }
    let (parts, body) = req.into_parts();
    let body: Bytes = match Limited::new(body, max).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                telemetry::rejected("too_large", 1);
                return too_large();
            }
            // The client went away or sent a broken chunked body.
            telemetry::rejected("bad_body", 1);
            return reply::error(StatusCode::BAD_REQUEST, "could not read the body", None);
        }
    };
    let raws = match enrich::parse_beacon(&body) {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(reason = e.reason, index = e.index, "beacon rejected");
            telemetry::rejected(e.reason, 1);
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
            return reply::json(status, e.to_json());
        }
    };
    telemetry::received(Route::Beacon, raws.len() as u64);
    let req = Request::from_parts(parts, ());
    let info = app.request_info(peer, &req);
    let stamp_base = app.stamp();
    let mut hits = Vec::with_capacity(raws.len());
    for (i, raw) in raws.into_iter().enumerate() {
        let stamp = enrich::Stamp {
            event_id: super::new_event_id(),
            ..stamp_base
        };
        let visitor = linkable_visitor(&raw);
        match app.enricher.enrich_row(raw, &info, &stamp) {
            Ok(h) => {
                app.identity.observe(&h.row(), &visitor, stamp.now_ms);
                hits.push(h);
            }
            Err(r) => {
                telemetry::rejected(r.reason, 1);
                let e = enrich::BeaconError {
                    status: 400,
                    index: Some(i),
                    field: Some(r.field),
                    reason: r.reason,
                    message: r.message,
                };
                return reply::json(StatusCode::BAD_REQUEST, e.to_json());
            }
        }
    }
    let n = hits.len();
    match offer(app, Route::Beacon, &hits).await {
        Ok(()) => reply::json(StatusCode::ACCEPTED, format!("{{\"accepted\":{n}}}")),
        Err(_) => reply::overloaded(),
    }
}

fn too_large() -> Response<Body> {
    reply::error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body larger than 64 KiB",
        Some("body"),
    )
}

/// The visitor id a hit may link to a person: the client's own `v`, and only on hits that
/// carry a person token (the only way a link is ever made). Empty otherwise, which spares the
/// copy on the vast majority of hits.
fn linkable_visitor(raw: &enrich::RawHit) -> String {
    if raw.person_token.is_empty() {
        String::new()
    } else {
        raw.visitor.clone()
    }
}

/// Queues hits and counts the outcome.
async fn offer<R: Row>(app: &App, route: Route, hits: &[R]) -> Result<(), OfferError> {
    let n = hits.len() as u64;
    let r = app.queue.offer(hits).await;
    match r {
        Ok(()) => telemetry::accepted(route, n),
        Err(_) => telemetry::dropped(n),
    }
    r
}

/// `GET /r/{token}`: a verified click redirects and is recorded; anything else is a 400.
async fn click(
    app: &App,
    peer: SocketAddr,
    req: &Request<Incoming>,
    token: &str,
) -> Response<Body> {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return reply::method_not_allowed("GET, HEAD");
    }
    telemetry::received(Route::Click, 1);
    let Some(claims) = app.verify(token, TokenKind::Click) else {
        return reply::bad_link();
    };
    let info = app.request_info(peer, req);
    let mut hit = app.enricher.mailing_event(&claims, &info, &app.stamp());
    app.identity.judge(&mut hit, &claims, &info);
    // The signed target, plus a short-lived person token for the landing page's tracker
    // when the person's consent stands (see `identity::landing_url`).
    let target = app.identity.landing_url(&claims, &hit);
    // The redirect happens even if the click cannot be stored (the reader must get through);
    // a refused hit is counted as dropped by `offer`.
    let _ = offer(app, Route::Click, std::slice::from_ref(&hit)).await;
    reply::redirect(&target)
}

/// `GET /o/{token}.gif`: always the GIF; a verified open is recorded.
async fn open(app: &App, peer: SocketAddr, req: &Request<Incoming>, token: &str) -> Response<Body> {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return reply::method_not_allowed("GET, HEAD");
    }
    telemetry::received(Route::Open, 1);
    if let Some(claims) = app.verify(token, TokenKind::Open) {
        let info = app.request_info(peer, req);
        let mut hit = app.enricher.mailing_event(&claims, &info, &app.stamp());
        app.identity.judge(&mut hit, &claims, &info);
        // The pixel answers the GIF whatever happens; a refused hit is counted by `offer`.
        let _ = offer(app, Route::Open, std::slice::from_ref(&hit)).await;
    }
    reply::gif()
}
