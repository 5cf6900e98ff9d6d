//! The collector binary: load config, install logging, bind, run until SIGTERM/SIGINT.
//!
//! Shutdown, the whole story: on SIGTERM or SIGINT `/readyz` turns 503, the public listener
//! stops accepting, open requests finish, the queue is closed and drained, and every accepted
//! hit is inserted into ClickHouse or spooled to disk; then the process exits 0. All of it is
//! bounded by `COLLECTOR_DRAIN_GRACE_S`; past half of it the rest goes straight to the spool,
//! and running out is logged. A second signal is not needed and not waited for.

use std::process::ExitCode;

use collector::{Config, Listeners};
use common::config::Layered;
use tokio::net::TcpListener;

/// mimalloc: about 9% less CPU per hit than the system allocator on the parse + enrich path
/// (benches/examples/cpu_per_hit), where a hit makes a few dozen small allocations.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit code for a bad setting (`EX_USAGE` from sysexits.h).
const EXIT_CONFIG: u8 = 64;

fn config_path() -> Result<Option<String>, String> {
    let mut args = std::env::args().skip(1);
    let mut path = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--config" => path = Some(args.next().ok_or("--config needs a FILE")?),
            s if s.starts_with("--config=") => path = Some(s["--config=".len()..].to_string()),
            "-h" | "--help" => {
                return Err(
                    "usage: collector [--config FILE]  (settings: see README, Collector)".into(),
                )
            }
            other => {
                return Err(format!(
                    "unknown argument {other:?}; usage: collector [--config FILE]"
                ))
            }
        }
    }
    Ok(path)
}

fn load() -> Result<Config, String> {
    let path = config_path()?;
    let src = Layered::load(path.as_deref()).map_err(|e| e.to_string())?;
    Config::from_source(&src).map_err(|e| e.to_string())
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = term => tracing::info!("SIGTERM received"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("COLLECTOR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = std::env::var("COLLECTOR_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(code) = collector::snippet::command(&args) {
        return ExitCode::from(code);
    }
    init_logging();
    let config = match load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("collector: refusing to start:\n{e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let bind = |addr| async move {
        TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))
    };
    let listeners = match tokio::try_join!(bind(config.listen), bind(config.ops_listen)) {
        Ok((public, ops)) => Listeners { public, ops },
        Err(e) => {
            eprintln!("collector: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(public = %config.listen, ops = %config.ops_listen, "listening");
    match collector::run(config, listeners, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ collector::StartError::Geo(_)) => {
            eprintln!("collector: refusing to start: {e}");
            ExitCode::from(EXIT_CONFIG)
        }
        Err(e) => {
            eprintln!("collector: {e}");
            ExitCode::FAILURE
        }
    }
}
