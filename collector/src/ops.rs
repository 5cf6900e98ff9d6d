//! The ops listener: `/metrics` (Prometheus text), `/healthz` (the process runs) and
//! `/readyz` (503 while draining, or when neither ClickHouse nor the spool can take hits).

use std::sync::Arc;

use http::{header, HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::http::reply::{self, Body};
use crate::pipeline::Health;

/// What the ops routes read.
pub struct Ops {
    /// Renders the metric catalogue.
    pub metrics: PrometheusHandle,
    /// Pipeline state for readiness.
    pub health: Arc<Health>,
}

/// Answers one ops request.
pub fn handle(ops: &Ops, req: &Request<Incoming>) -> Response<Body> {
    match req.uri().path() {
        "/metrics" => {
            let mut r = Response::new(Body::new(ops.metrics.render().into()));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            r
        }
        "/healthz" => reply::status(StatusCode::OK, "ok\n"),
        "/readyz" => {
            if ops
                .health
                .draining
                .load(std::sync::atomic::Ordering::Relaxed)
            {
                reply::status(StatusCode::SERVICE_UNAVAILABLE, "draining\n")
            } else if ops.health.ready() {
                reply::status(StatusCode::OK, "ready\n")
            } else {
                reply::status(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "neither ClickHouse nor the spool can take hits\n",
                )
            }
        }
        _ => reply::status(StatusCode::NOT_FOUND, "not found\n"),
    }
}
