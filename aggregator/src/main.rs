//! The aggregator binary: `aggregator [--config FILE] [serve|migrate]`. Loads config (every bad
//! key reported, exit 64), then either applies the schema or serves the API until SIGTERM.

use std::process::ExitCode;

use aggregator::Config;
use common::config::Layered;

/// Exit code for a bad command line or config (EX_USAGE).
const EX_USAGE: u8 = 64;
/// Exit code when ClickHouse or the schema is not usable (EX_UNAVAILABLE).
const EX_UNAVAILABLE: u8 = 69;

const USAGE: &str = "usage: aggregator [--config FILE] [serve|migrate]";

fn main() -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();
    let mut args = std::env::args().skip(1);
    let mut config_file = None;
    let mut command = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--config" => config_file = args.next(),
            "serve" | "migrate" if command.is_none() => command = Some(a),
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(EX_USAGE);
            }
        }
    }
    let config =
        match Layered::load(config_file.as_deref()).and_then(|src| Config::from_source(&src)) {
            Ok(c) => c,
            Err(errors) => {
                eprintln!("aggregator: refusing to start:\n{errors}");
                return ExitCode::from(EX_USAGE);
            }
        };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("aggregator: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match command.as_deref().unwrap_or("serve") {
        "migrate" => rt.block_on(migrate(config)),
        _ => rt.block_on(serve(config)),
    }
}

async fn migrate(config: Config) -> ExitCode {
    match common::schema::migrate(&config.clickhouse).await {
        Ok(applied) => {
            tracing::info!(?applied, database = %config.clickhouse.database, "schema is current");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "migration failed");
            ExitCode::from(EX_UNAVAILABLE)
        }
    }
}

async fn serve(config: Config) -> ExitCode {
    if let Err(e) = aggregator::server::preflight(&config).await {
        tracing::error!(error = %e, "refusing to serve");
        return ExitCode::from(EX_UNAVAILABLE);
    }
    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(listen = %config.listen, error = %e, "cannot bind");
            return ExitCode::from(EX_UNAVAILABLE);
        }
    };
    tracing::info!(listen = %config.listen, "aggregator serving");
    match aggregator::run(config, listener, shutdown_signal()).await {
        Ok(()) => {
            tracing::info!("aggregator stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::FAILURE
        }
    }
}

/// Completes on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
