//! `bare`: the baseline for the collector/bare ratio in BENCHMARKS.md. A hyper server that
//! answers every request with the same 43-byte GIF and headers as the collector's pixel, and
//! does nothing else (no parsing, no enrichment, no queue). `BARE_LISTEN` (loopback only).

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use load_tests::gif::PIXEL_GIF;

fn main() -> anyhow::Result<()> {
    let listen = std::env::var("BARE_LISTEN").unwrap_or_else(|_| "127.0.0.1:8081".into());
    let addr = load_tests::target::loopback_addr(&listen)?;
    // Same runtime shape as the collector (multi-threaded, one worker per core).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        eprintln!("bare: listening on {}", listener.local_addr()?);
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(s) => s,
                Err(_) => continue, // e.g. out of file descriptors for a moment
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let svc = service_fn(|_req| async {
                    Ok::<_, Infallible>(
                        hyper::Response::builder()
                            .header("content-type", "image/gif")
                            .header("cache-control", "no-store")
                            .body(Full::new(Bytes::from_static(&PIXEL_GIF)))
                            .unwrap_or_default(),
                    )
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    })
}
