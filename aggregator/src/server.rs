//! The aggregator's HTTP server: accepts connections on a bound listener, answers through
//! [`crate::api::dispatch`], and on `shutdown` stops accepting and lets in-flight requests
//! finish within the grace period.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::api::{self, AppState};
use crate::config::Config;

/// Most connections served at once; beyond it new ones wait in the kernel backlog.
const MAX_CONNECTIONS: usize = 512;
/// A client must send its request head within this.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Checks the database before serving: refuses a schema older than this build needs.
pub async fn preflight(config: &Config) -> Result<u32, common::schema::SchemaError> {
    common::schema::check(&config.clickhouse).await
}

/// Serves the API on `listener` until `shutdown` completes, then drains.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let grace = Duration::from_secs(config.grace_s);
    let state = Arc::new(AppState::new(config));
    // The metric jobs refresh in the background for as long as the server runs.
    let _jobs = crate::metrics::scheduler::spawn(Arc::clone(&state));
    serve(state, listener, shutdown, grace).await
}

/// Serves with an already built state (tests that want to reach into it use this).
pub async fn serve(
    state: Arc<AppState>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        while conns.try_join_next().is_some() {}
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if conns.len() >= MAX_CONNECTIONS {
            tracing::warn!(%peer, "connection cap reached; closing");
            continue;
        }
        let state = Arc::clone(&state);
        let mut stop = stop_rx.clone();
        conns.spawn(async move {
            let svc = service_fn(move |req| {
                let state = Arc::clone(&state);
                async move { Ok::<_, std::convert::Infallible>(api::dispatch(state, req).await) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), svc);
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                }
                _ = async { let _ = stop.wait_for(|s| *s).await; } => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained =
        tokio::time::timeout(grace, async { while conns.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(
            open = conns.len(),
            grace_s = grace.as_secs(),
            "grace period over; closing open connections"
        );
        conns.abort_all();
    }
    Ok(())
}
