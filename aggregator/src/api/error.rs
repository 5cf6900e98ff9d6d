//! The error every API handler returns: it knows its status code and renders as
//! `{"error": "…", "field": "…", "index": i}` (field and index only when known).

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;

/// A refused or failed API request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// A bad request: names the field (`person_id`, `links[2].url`, a query parameter) and,
    /// for array bodies, the index of the first bad row.
    #[error("{message}")]
    Invalid {
        /// What is wrong, for a human.
        message: String,
        /// The offending field or parameter.
        field: Option<String>,
        /// Index of the offending row in an array body.
        index: Option<usize>,
    },
    /// No or wrong bearer token.
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// No such route.
    #[error("no such endpoint")]
    NotFound,
    /// The route exists for other methods.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The body is over the size cap.
    #[error("request body larger than {0} bytes")]
    TooLarge(usize),
    /// The thing asked for does not exist.
    #[error("{0}")]
    Missing(String),
    /// ClickHouse failed; details are logged, not shown.
    #[error("storage unavailable")]
    Storage(String),
    /// A wait (e.g. for an erasure's mutations) ran out.
    #[error("{0}")]
    Timeout(String),
}

impl ApiError {
    /// A 400 naming a field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            message: message.into(),
            field: Some(field.into()),
            index: None,
        }
    }

    /// A 400 naming the row of an array body and its field.
    pub fn row(index: usize, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            message: message.into(),
            field: Some(field.into()),
            index: Some(index),
        }
    }

    /// A 400 about the body as a whole.
    pub fn body(message: impl Into<String>) -> Self {
        Self::Invalid {
            message: message.into(),
            field: None,
            index: None,
        }
    }

    /// The status code it answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Invalid { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound | Self::Missing(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Storage(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The JSON answer.
    pub fn into_response(self) -> Response<Full<Bytes>> {
        let status = self.status();
        let mut body = serde_json::json!({ "error": self.to_string() });
        if let Self::Invalid { field, index, .. } = &self {
            if let Some(f) = field {
                body["field"] = f.as_str().into();
            }
            if let Some(i) = index {
                body["index"] = (*i).into();
            }
        }
        let mut resp = super::json_response(status, &body);
        if matches!(self, Self::Unauthorized) {
            resp.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer"),
            );
        }
        resp
    }
}

impl From<clickhouse::error::Error> for ApiError {
    fn from(e: clickhouse::error::Error) -> Self {
        metrics::counter!(crate::telemetry::CLICKHOUSE_ERRORS, "op" => "api").increment(1);
        tracing::warn!(error = %e, "clickhouse call failed");
        Self::Storage(e.to_string())
    }
}

/// What every handler returns.
pub type ApiResult = Result<Response<Full<Bytes>>, ApiError>;
