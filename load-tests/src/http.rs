//! The small HTTP/1.1 pieces the generator needs: one keep-alive connection per worker (like
//! wrk, so the connection count is exact), and a one-shot GET for `/metrics`.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Why a connection or a one-shot request failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// TCP connect failed or timed out.
    #[error("connect to {0}: {1}")]
    Connect(SocketAddr, String),
    /// The exchange failed after connecting.
    #[error("http: {0}")]
    Exchange(String),
    /// No answer in time.
    #[error("timed out")]
    Timeout,
}

/// Opens one HTTP/1.1 connection and drives it on a background task.
pub async fn connect(
    addr: SocketAddr,
    timeout: Duration,
) -> Result<SendRequest<Full<Bytes>>, HttpError> {
    let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| HttpError::Connect(addr, "timed out".into()))?
        .map_err(|e| HttpError::Connect(addr, e.to_string()))?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| HttpError::Connect(addr, e.to_string()))?;
    tokio::spawn(async move {
        // Ends when the server closes or the sender is dropped; errors show up on the sender.
        let _ = conn.await;
    });
    Ok(sender)
}

/// GETs a loopback URL (already checked by `target::loopback_url`) and returns the body text.
pub async fn get_text(url: &str, timeout: Duration) -> Result<String, HttpError> {
    let u = url::Url::parse(url).map_err(|e| HttpError::Exchange(e.to_string()))?;
    let host = u.host_str().unwrap_or("127.0.0.1").to_string();
    let port = u.port_or_known_default().unwrap_or(80);
    let addr = crate::target::loopback_addr(&format!("{host}:{port}"))
        .map_err(|e| HttpError::Exchange(e.to_string()))?;
    let fut = async {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| HttpError::Connect(addr, e.to_string()))?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
                .await
                .map_err(|e| HttpError::Exchange(e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let path = match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        };
        let req = http::Request::get(path)
            .header(http::header::HOST, format!("{host}:{port}"))
            .body(Empty::new())
            .map_err(|e| HttpError::Exchange(e.to_string()))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| HttpError::Exchange(e.to_string()))?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| HttpError::Exchange(e.to_string()))?;
        if !status.is_success() {
            return Err(HttpError::Exchange(format!("{url} answered {status}")));
        }
        Ok(String::from_utf8_lossy(&body.to_bytes()).into_owned())
    };
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| HttpError::Timeout)?
}
