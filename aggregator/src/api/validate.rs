//! Field checks for JSON request rows: each getter names the field and the row index in its
//! error, so a refused request says exactly what to fix.

use serde_json::{Map, Value};

use super::ApiError;

/// Longest id (person, account, mailing, link) accepted; what a token can carry.
pub const MAX_ID_LEN: usize = common::token::MAX_ID_LEN;
/// Longest free-text field (names, subjects, sources).
pub const MAX_TEXT_LEN: usize = 1024;
/// Longest `attributes` object, as JSON text.
pub const MAX_ATTRIBUTES_LEN: usize = 16 * 1024;
/// Most rows in one request.
pub const MAX_ROWS: usize = 100_000;

/// The rows of a body that is either one object or an array of them.
pub fn rows(body: &Value) -> Result<Vec<&Map<String, Value>>, ApiError> {
    let items: Vec<&Value> = match body {
        Value::Array(a) => a.iter().collect(),
        Value::Object(_) => vec![body],
        _ => {
            return Err(ApiError::body(
                "expected a JSON object or an array of objects",
            ))
        }
    };
    if items.len() > MAX_ROWS {
        return Err(ApiError::body(format!(
            "at most {MAX_ROWS} rows per request"
        )));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_object().ok_or_else(|| ApiError::Invalid {
                message: "expected a JSON object".into(),
                field: None,
                index: Some(i),
            })
        })
        .collect()
}

/// One row under check: its index and fields.
pub struct Row<'a> {
    /// Position in the request array (0 for a single object).
    pub index: usize,
    /// The fields.
    pub fields: &'a Map<String, Value>,
}

impl<'a> Row<'a> {
    /// A row.
    pub fn new(index: usize, fields: &'a Map<String, Value>) -> Self {
        Self { index, fields }
    }

    fn err(&self, field: &str, message: impl Into<String>) -> ApiError {
        ApiError::row(self.index, field, message)
    }

    /// Refuses fields not in `known`, so a typo is not silently dropped.
    pub fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        match self.fields.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => Err(self.err(k, format!("unknown field; expected one of {known:?}"))),
            None => Ok(()),
        }
    }

    /// A required id: 1–128 bytes, no control characters or surrounding spaces.
    pub fn id(&self, field: &str) -> Result<String, ApiError> {
        match self.fields.get(field) {
            Some(Value::String(s)) => check_id(s).map_err(|m| self.err(field, m)),
            Some(_) => Err(self.err(field, "expected a string")),
            None => Err(self.err(field, "required")),
        }
    }

    /// An optional id ('' when absent or null).
    pub fn optional_id(&self, field: &str) -> Result<String, ApiError> {
        match self.fields.get(field) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) if s.is_empty() => Ok(String::new()),
            Some(_) => self.id(field),
        }
    }

    /// Optional free text, at most [`MAX_TEXT_LEN`] bytes ('' when absent).
    pub fn text(&self, field: &str) -> Result<String, ApiError> {
        match self.fields.get(field) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) if s.len() > MAX_TEXT_LEN => {
                Err(self.err(field, format!("at most {MAX_TEXT_LEN} bytes")))
            }
            Some(Value::String(s)) if s.chars().any(char::is_control) => {
                Err(self.err(field, "control characters are not allowed"))
            }
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(self.err(field, "expected a string")),
        }
    }

    /// An optional JSON object, returned as compact JSON text ('{}' when absent).
    pub fn attributes(&self, field: &str) -> Result<String, ApiError> {
        match self.fields.get(field) {
            None | Some(Value::Null) => Ok("{}".into()),
            Some(v @ Value::Object(_)) => {
                let text = v.to_string();
                if text.len() > MAX_ATTRIBUTES_LEN {
                    Err(self.err(field, format!("at most {MAX_ATTRIBUTES_LEN} bytes of JSON")))
                } else {
                    Ok(text)
                }
            }
            Some(_) => Err(self.err(field, "expected a JSON object")),
        }
    }

    /// A required boolean.
    pub fn boolean(&self, field: &str) -> Result<bool, ApiError> {
        match self.fields.get(field) {
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(self.err(field, "expected true or false")),
            None => Err(self.err(field, "required")),
        }
    }

    /// A time (RFC 3339 text or Unix seconds); `None` when absent.
    pub fn time(&self, field: &str) -> Result<Option<u32>, ApiError> {
        match self.fields.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => parse_time(v)
                .map(Some)
                .ok_or_else(|| self.err(field, TIME_FORM)),
        }
    }

    /// A required time.
    pub fn required_time(&self, field: &str) -> Result<u32, ApiError> {
        self.time(field)?
            .ok_or_else(|| self.err(field, format!("required: {TIME_FORM}")))
    }
}

/// What a time must look like.
pub const TIME_FORM: &str =
    "an RFC 3339 time like 2026-01-31T09:30:00Z, or Unix seconds, between 1970 and 2105";

/// Checks an id, returning it or why not.
pub fn check_id(s: &str) -> Result<String, String> {
    if s.is_empty() || s.len() > MAX_ID_LEN {
        return Err(format!("expected 1 to {MAX_ID_LEN} bytes"));
    }
    if s.chars().any(char::is_control) || s.trim() != s {
        return Err("no control characters or surrounding spaces allowed".into());
    }
    Ok(s.to_string())
}

/// An RFC 3339 string or a whole number of Unix seconds.
pub fn parse_time(v: &Value) -> Option<u32> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|s| u32::try_from(s).ok()),
        Value::String(s) => parse_rfc3339(s),
        _ => None,
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` to Unix seconds (fractions are dropped).
pub fn parse_rfc3339(s: &str) -> Option<u32> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60
    {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let rb = rest.as_bytes();
            if rb.len() != 6 || rb[3] != b':' || !matches!(rb[0], b'+' | b'-') {
                return None;
            }
            let oh: i64 = rest[1..3].parse().ok()?;
            let om: i64 = rest[4..6].parse().ok()?;
            if oh > 23 || om > 59 {
                return None;
            }
            let o = oh * 3600 + om * 60;
            if rb[0] == b'+' {
                o
            } else {
                -o
            }
        }
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec.min(59) - offset;
    u32::try_from(secs).ok()
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Unix seconds as RFC 3339 UTC text.
pub fn format_time(t: u32) -> String {
    let secs = i64::from(t);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let cases = [
            ("1970-01-01T00:00:00Z", Some(0)),
            ("2026-01-31T09:30:00Z", Some(1_769_851_800)),
            ("2026-01-31T10:30:00+01:00", Some(1_769_851_800)),
            ("2026-01-31T09:30:00.123456Z", Some(1_769_851_800)),
            ("2024-02-29T00:00:00Z", Some(1_709_164_800)),
            ("2023-02-29T00:00:00Z", None),
            ("2026-13-01T00:00:00Z", None),
            ("2026-01-31", None),
            ("2026-01-31T09:30:00", None),
            ("1969-12-31T23:59:59Z", None),
            ("2026-01-31T09:30:00.Z", None),
            ("2026-01-31T09:30:00+1:00", None),
            ("２０２６-01-31T09:30:00Z", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_rfc3339(s), want, "{s}");
        }
        assert_eq!(
            parse_time(&serde_json::json!(1_700_000_000)),
            Some(1_700_000_000)
        );
        assert_eq!(parse_time(&serde_json::json!(-1)), None);
        assert_eq!(parse_time(&serde_json::json!(1.5)), None);
        assert_eq!(format_time(1_769_851_800), "2026-01-31T09:30:00Z");
        assert_eq!(format_time(1_709_164_800), "2024-02-29T00:00:00Z");
        for t in [0u32, 951_782_400, 1_709_164_799, u32::MAX] {
            assert_eq!(parse_rfc3339(&format_time(t)), Some(t));
        }
    }

    #[test]
    fn ids() {
        assert!(check_id("p-1").is_ok());
        assert!(check_id("").is_err());
        assert!(check_id(" p").is_err());
        assert!(check_id("a\nb").is_err());
        assert!(check_id(&"x".repeat(129)).is_err());
    }
}
