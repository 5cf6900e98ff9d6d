//! The HTTP edge: the shared request state, and the accept loop both listeners use (connection
//! cap, header read timeout with a real timer, graceful drain on shutdown).

pub mod client_ip;
pub mod reply;
pub mod routes;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::token::{Claims, Keyring, TokenKind};
use http::{header, HeaderName, Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use ipnet::IpNet;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use crate::pipeline::Queue;
use crate::salt::Salts;
use reply::Body;

/// Privacy signal headers, parsed once rather than from a string on every request.
const DNT: HeaderName = HeaderName::from_static("dnt");
const SEC_GPC: HeaderName = HeaderName::from_static("sec-gpc");

/// What every public request handler shares.
pub struct App {
    /// Parsed hits become rows here.
    pub enricher: enrich::Enricher,
    /// Consent, identity links, mailing verdicts.
    pub identity: Arc<crate::identity::Identity>,
    /// Where rows go.
    pub queue: Queue,
    /// Today's salt for anonymous visitor ids.
    pub salts: Arc<Salts>,
    /// Verifies `/r` and `/o` tokens; None refuses them all.
    pub keys: Option<Keyring>,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
}

impl App {
    /// What the request says about its client.
    pub fn request_info<'a, B>(
        &self,
        peer: SocketAddr,
        req: &'a Request<B>,
    ) -> enrich::RequestInfo<'a> {
        let h = req.headers();
        let flag = |name: &HeaderName| {
            h.get(name)
                .is_some_and(|v| v.as_bytes().trim_ascii() == b"1")
        };
        enrich::RequestInfo {
            ip: client_ip::client_ip(peer.ip(), h, &self.trusted_proxies),
            user_agent: h
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
            anonymous: flag(&DNT) || flag(&SEC_GPC),
            method_head: req.method() == http::Method::HEAD,
        }
    }

    /// A fresh id, the time and today's salt for one hit.
    pub fn stamp(&self) -> enrich::Stamp {
        let now_ms = crate::now_ms();
        enrich::Stamp {
            event_id: new_event_id(),
            now_ms,
            salt: self.salts.for_time(now_ms),
        }
    }

    /// Claims of a valid token of `kind`; a refusal is counted by its reason.
    pub fn verify(&self, token: &str, kind: TokenKind) -> Option<Claims> {
        let Some(keys) = &self.keys else {
            crate::telemetry::rejected("no_keys", 1);
            return None;
        };
        let now_s = u32::try_from(crate::now_ms() / 1000).unwrap_or(u32::MAX);
        match keys.verify_kind(token, kind, now_s) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::debug!(reason = e.reason(), "token refused");
                crate::telemetry::rejected(e.reason(), 1);
                None
            }
        }
    }
}

/// Limits of one listener.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Request headers must arrive within this.
    pub header_timeout: Duration,
    /// Open connections at most.
    pub max_connections: usize,
    /// How long open connections get to finish once shutdown starts.
    pub drain: Duration,
}

/// Largest request head (line + headers) we buffer; beyond it hyper answers 431.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most header lines in a request; beyond it hyper answers 431.
const MAX_HEADERS: usize = 64;

/// Accepts connections until `stop` turns true, then lets open ones finish for `drain`.
pub async fn serve<H, F>(
    listener: TcpListener,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
    count_connections: bool,
    handler: H,
) where
    H: Fn(SocketAddr, Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let open = Arc::new(AtomicUsize::new(0));
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS);
    loop {
        // Wait for room before accepting: past the cap, clients wait in the kernel backlog.
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = stop.changed() => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let h = handler.clone();
        let svc = service_fn(move |req| {
            let h = h.clone();
            async move { Ok::<_, Infallible>(h(peer, req).await) }
        });
        let conn = builder.serve_connection(TokioIo::new(stream), svc);
        let conn = graceful.watch(conn);
        let open = open.clone();
        tokio::spawn(async move {
            if count_connections {
                crate::telemetry::connections(open.fetch_add(1, Ordering::Relaxed) + 1);
            }
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            if count_connections {
                crate::telemetry::connections(open.fetch_sub(1, Ordering::Relaxed) - 1);
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            drain_s = limits.drain.as_secs(),
            "connections still open after the drain period; closing them"
        );
    }
}

/// A random (v4) event id from the thread-local CSPRNG: `Uuid::new_v4` asks the kernel for
/// every id (a syscall per hit on the hot path), this does not.
pub fn new_event_id() -> uuid::Uuid {
    uuid::Builder::from_random_bytes(rand::random()).into_uuid()
}

#[cfg(test)]
mod tests {
    #[test]
    fn event_ids_are_random_v4() {
        let a = super::new_event_id();
        let b = super::new_event_id();
        assert_ne!(a, b);
        assert_eq!(a.get_version_num(), 4);
        assert_eq!(a.get_variant(), uuid::Variant::RFC4122);
    }
}
