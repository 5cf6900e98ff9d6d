//! Response builders: the transparent GIF, JSON answers with CORS, redirects, the tracker
//! script with its ETag. No response ever sets a cookie.

use std::sync::OnceLock;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;
use sha2::{Digest, Sha256};

/// The body type of every response.
pub type Body = Full<Bytes>;

/// A 1x1 transparent GIF, 43 bytes.
pub const GIF: &[u8; 43] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff\x21\xf9\x04\x01\x00\x00\x00\x00\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00\x3b";

/// The tracker script, compiled in.
const SCRIPT: &str = include_str!("../../assets/t.js");

fn response(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Body> {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// `200 image/gif`, never cached (each load is a hit).
pub fn gif() -> Response<Body> {
    let mut r = response(StatusCode::OK, "image/gif", Bytes::from_static(GIF));
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, max-age=0"),
    );
    r
}

/// Adds the CORS headers the beacon needs from any origin (no credentials, so `*`).
pub fn cors(mut r: Response<Body>) -> Response<Body> {
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Content-Type"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    r
}

/// A JSON answer.
pub fn json(status: StatusCode, body: String) -> Response<Body> {
    let mut r = response(status, "application/json", Bytes::from(body));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `{"error": message}` (plus `field` when known).
pub fn error(status: StatusCode, message: &str, field: Option<&str>) -> Response<Body> {
    let mut m = serde_json::Map::new();
    m.insert("error".into(), message.into());
    if let Some(f) = field {
        m.insert("field".into(), f.into());
    }
    json(status, serde_json::Value::Object(m).to_string())
}

/// `503` with `Retry-After`: queue and spool are full, or we are shutting down.
pub fn overloaded() -> Response<Body> {
    let mut r = error(
        StatusCode::SERVICE_UNAVAILABLE,
        "overloaded, retry later",
        None,
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    r
}

/// `302` to a target already verified safe (it came from a signed token).
pub fn redirect(target: &str) -> Response<Body> {
    match HeaderValue::from_str(target) {
        Ok(v) => {
            let mut r = response(StatusCode::FOUND, "text/plain", Bytes::new());
            r.headers_mut().insert(header::LOCATION, v);
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r.headers_mut().insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            );
            r
        }
        Err(_) => bad_link(),
    }
}

/// `400` for a click link that does not verify: no `Location`, ever.
pub fn bad_link() -> Response<Body> {
    let mut r = response(
        StatusCode::BAD_REQUEST,
        "text/plain; charset=utf-8",
        Bytes::from_static(b"invalid or expired link\n"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A bodiless status with a short text.
pub fn status(status: StatusCode, text: &'static str) -> Response<Body> {
    response(
        status,
        "text/plain; charset=utf-8",
        Bytes::from_static(text.as_bytes()),
    )
}

/// `405` naming what the path allows.
pub fn method_not_allowed(allow: &'static str) -> Response<Body> {
    let mut r = status(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}

/// The strong ETag of the compiled-in script, computed once.
pub fn script_etag() -> &'static str {
    static ETAG: OnceLock<String> = OnceLock::new();
    ETAG.get_or_init(|| {
        let digest = Sha256::digest(SCRIPT.as_bytes());
        let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        format!("\"{hex}\"")
    })
}

/// The tracker script, or `304` when the client's `If-None-Match` names our ETag.
pub fn script(if_none_match: Option<&HeaderValue>) -> Response<Body> {
    let etag = script_etag();
    let matches = if_none_match
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == etag || t == "*")
        });
    let mut r = if matches {
        response(
            StatusCode::NOT_MODIFIED,
            "application/javascript",
            Bytes::new(),
        )
    } else {
        response(
            StatusCode::OK,
            "application/javascript; charset=utf-8",
            Bytes::from_static(SCRIPT.as_bytes()),
        )
    };
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    // Short max-age so a new script reaches every site within minutes; revalidation is cheap.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300, must-revalidate"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gif_is_43_bytes_and_a_gif() {
        assert_eq!(GIF.len(), 43);
        assert!(GIF.starts_with(b"GIF89a"));
        assert_eq!(GIF[42], 0x3b);
    }

    #[test]
    fn etag_is_strong_and_stable() {
        let e = script_etag();
        assert!(e.starts_with('"') && e.ends_with('"') && e.len() == 26);
        let v = HeaderValue::from_str(e).unwrap_or(HeaderValue::from_static("x"));
        assert_eq!(script(Some(&v)).status(), StatusCode::NOT_MODIFIED);
        let other = HeaderValue::from_static("\"nope\"");
        assert_eq!(script(Some(&other)).status(), StatusCode::OK);
    }
}
