//! Why a hit is refused: [`Rejection`] for one hit, [`BeaconError`] for a beacon body.

use std::fmt;

/// A refused hit. `reason` is a metric label; `field` names the offending parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The query parameter / JSON key at fault (`"query"` when it is the whole string).
    pub field: &'static str,
    /// Short label for metrics: one of [`REASONS`].
    pub reason: &'static str,
    /// A sentence for the client and the debug log.
    pub message: String,
}

/// Every `reason` a [`Rejection`] or [`BeaconError`] can carry, for pre-registering metrics.
pub const REASONS: &[&str] = &[
    "missing_field",
    "bad_encoding",
    "too_long",
    "bad_url",
    "bad_value",
    "bad_json",
    "nested",
    "too_many",
    "too_large",
    "not_object",
];

impl Rejection {
    pub(crate) fn new(
        field: &'static str,
        reason: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field,
            reason,
            message: message.into(),
        }
    }

    pub(crate) fn missing(field: &'static str) -> Self {
        Self::new(field, "missing_field", format!("`{field}` is required"))
    }

    pub(crate) fn too_long(field: &'static str, max: usize) -> Self {
        Self::new(field, "too_long", format!("`{field}` is longer than {max}"))
    }

    pub(crate) fn bad_value(field: &'static str, expected: &str) -> Self {
        Self::new(field, "bad_value", format!("`{field}` must be {expected}"))
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Rejection {}

/// A refused beacon body: the status to answer and what to say in `400 {error,index,field}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeaconError {
    /// 400, or 413 for a body over [`crate::MAX_BEACON_BYTES`].
    pub status: u16,
    /// Position of the offending hit in an array body.
    pub index: Option<usize>,
    /// Offending key, when one is at fault.
    pub field: Option<&'static str>,
    /// Metric label: one of [`REASONS`].
    pub reason: &'static str,
    /// A sentence for the client.
    pub message: String,
}

impl BeaconError {
    pub(crate) fn body(status: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            index: None,
            field: None,
            reason,
            message: message.into(),
        }
    }

    pub(crate) fn hit(index: Option<usize>, r: Rejection) -> Self {
        Self {
            status: 400,
            index,
            field: Some(r.field),
            reason: r.reason,
            message: r.message,
        }
    }

    /// The JSON answer: `{"error":"…","index":i,"field":"…"}` (index and field only when known).
    pub fn to_json(&self) -> String {
        let mut m = serde_json::Map::new();
        m.insert("error".into(), self.message.clone().into());
        if let Some(i) = self.index {
            m.insert("index".into(), i.into());
        }
        if let Some(f) = self.field {
            m.insert("field".into(), f.into());
        }
        serde_json::Value::Object(m).to_string()
    }
}

impl fmt::Display for BeaconError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BeaconError {}
