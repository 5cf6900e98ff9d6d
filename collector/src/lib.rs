//! The collector library: HTTP edge, enrichment, batching, spool. `main.rs` only wires it:
//! load [`Config`], bind [`Listeners`], call [`run`] with a shutdown future.
#![forbid(unsafe_code)]

pub mod config;
pub mod http;
pub mod identity;
pub mod ops;
pub mod pipeline;
pub mod salt;
pub mod snippet;
pub mod telemetry;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;

pub use config::Config;
use pipeline::{Pipeline, PipelineConfig, Sink, Spool};

/// Unix time in milliseconds (the only clock the hot path uses, read by the handlers).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The two bound sockets (bound by the caller, so tests can use port 0).
pub struct Listeners {
    /// Public hits.
    pub public: TcpListener,
    /// `/metrics`, `/healthz`, `/readyz`.
    pub ops: TcpListener,
}

/// Why the collector could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// `GEOIP_CITY_DB` names a file that is not a readable MaxMind database.
    #[error("GEOIP_CITY_DB: {0}")]
    Geo(#[from] enrich::GeoError),
    /// The spool folder cannot be created or read.
    #[error("COLLECTOR_SPOOL_DIR {path}: {source}")]
    Spool {
        /// The folder.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The database is older than this binary.
    #[error("{0}")]
    Schema(common::schema::SchemaError),
}

fn build_geo(config: &Config) -> Result<Arc<dyn enrich::GeoLookup>, StartError> {
    match &config.geoip_city_db {
        Some(path) => {
            let geo = enrich::MaxMindGeo::open(path)?;
            tracing::info!(path = %path.display(), kind = geo.database_type(), "GeoIP database loaded");
            Ok(Arc::new(geo))
        }
        None => {
            tracing::info!("GEOIP_CITY_DB not set; hits carry no country, region or city");
            Ok(Arc::new(enrich::NoGeo))
        }
    }
}

/// Refuses a schema older than this binary; ClickHouse being down is not a reason to refuse
/// (hits then go to the spool).
async fn check_schema(config: &Config) -> Result<(), StartError> {
    let check = common::schema::check(&config.clickhouse);
    let limit = config.insert_timeout.min(Duration::from_secs(5));
    match tokio::time::timeout(limit, check).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e @ common::schema::SchemaError::TooOld { .. })) => Err(StartError::Schema(e)),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot check the schema; starting anyway, hits will wait in the spool");
            Ok(())
        }
        Err(_) => {
            tracing::warn!("ClickHouse did not answer the schema check; starting anyway");
            Ok(())
        }
    }
}

/// Runs the collector until `shutdown` resolves, then drains: readiness turns 503, the public
/// listener stops accepting, open requests finish, the queue is closed and every accepted hit
/// is inserted or spooled, all within `config.drain_grace`.
pub async fn run(
    config: Config,
    listeners: Listeners,
    shutdown: impl Future,
) -> Result<(), StartError> {
    let metrics = telemetry::install();
    let geo = build_geo(&config)?;
    check_schema(&config).await?;
    let spool_dir = config.spool_dir.clone();
    let max = config.spool_max_bytes;
    let spool = tokio::task::spawn_blocking(move || Spool::open(&spool_dir, max))
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))
        .and_then(|r| r)
        .map_err(|source| StartError::Spool {
            path: config.spool_dir.display().to_string(),
            source,
        })?;
    let spool = Arc::new(spool);
    let (segments, bytes) = spool.size();
    if segments > 0 {
        tracing::info!(
            segments,
            bytes,
            "spool holds batches from before; replaying them"
        );
    }

    let salts = Arc::new(salt::Salts::new(now_ms()));
    let (stop_tx, stop_rx) = watch::channel(false);
    let salt_task = tokio::spawn(salt::sync_loop(
        salts.clone(),
        config.clickhouse.clone(),
        stop_rx.clone(),
    ));

    let sink = Sink::new(&config.clickhouse, config.insert_timeout);
    let pipeline = Pipeline::start(
        &PipelineConfig {
            queue_capacity: config.queue_capacity,
            batch_rows: config.batch_rows,
            batch_interval: config.batch_interval,
        },
        sink,
        spool,
    );
    // The consent and identity directory: follows the ClickHouse ledger in the background.
    let (identity, identity_tasks) = identity::start(
        &config.clickhouse,
        config.link_keys.clone(),
        config.directory_refresh,
        stop_rx.clone(),
    )
    .await;
    let enricher = enrich::Enricher::new(enrich::EnricherConfig {
        geo,
        directory: identity.clone(),
        keys: config.link_keys.clone(),
        replica: config.replica.clone(),
        ua_cache_capacity: config.ua_cache_capacity,
    });
    let app = Arc::new(http::App {
        enricher,
        identity,
        queue: pipeline.queue.clone(),
        salts,
        keys: config.link_keys.clone(),
        trusted_proxies: config.trusted_proxies.clone(),
    });
    let ops = Arc::new(ops::Ops {
        metrics,
        health: pipeline.health.clone(),
    });

    let grace = config.drain_grace;
    let public_limits = http::Limits {
        header_timeout: config.header_timeout,
        max_connections: config.max_connections,
        drain: (grace / 4).min(Duration::from_secs(10)),
    };
    let (public_stop_tx, public_stop_rx) = watch::channel(false);
    let public = tokio::spawn(http::serve(
        listeners.public,
        public_limits,
        public_stop_rx,
        true,
        move |peer, req| {
            let app = app.clone();
            async move { http::routes::handle(&app, peer, req).await }
        },
    ));
    let ops_limits = http::Limits {
        max_connections: 64,
        drain: Duration::from_secs(1),
        ..public_limits
    };
    let ops_task = tokio::spawn(http::serve(
        listeners.ops,
        ops_limits,
        stop_rx,
        false,
        move |_peer, req| {
            let ops = ops.clone();
            async move { ops::handle(&ops, &req) }
        },
    ));
    tracing::info!(replica = %config.replica, "collector running");

    shutdown.await;
    let started = Instant::now();
    tracing::info!(
        grace_s = grace.as_secs(),
        "shutting down: readiness off, draining"
    );
    pipeline
        .health
        .draining
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = public_stop_tx.send(true);
    let _ = public.await;
    let left = grace.saturating_sub(started.elapsed());
    let complete = pipeline.shutdown(left).await;
    let _ = stop_tx.send(true);
    let _ = ops_task.await;
    let _ = salt_task.await;
    identity_tasks.join().await;
    if complete {
        tracing::info!(
            took_ms = started.elapsed().as_millis() as u64,
            "drained; every accepted hit is in ClickHouse or the spool"
        );
    }
    Ok(())
}
