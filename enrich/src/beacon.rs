//! The beacon body (`POST /e`): one JSON object or an array of at most 100, with the same
//! keys as the pixel's query parameters.

use crate::error::{BeaconError, Rejection};
use crate::raw::{Fields, Key, RawHit};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// Largest beacon body, in bytes (the server caps it first; this is the parser's own guard).
pub const MAX_BEACON_BYTES: usize = 64 * 1024;
/// Most hits in one beacon.
pub const MAX_BEACON_HITS: usize = 100;

/// Parses a beacon body. Errors carry the status (413 for size, 400 otherwise) and, for an
/// array, the index of the first bad hit.
pub fn parse_beacon(body: &[u8]) -> Result<Vec<RawHit>, BeaconError> {
    if body.len() > MAX_BEACON_BYTES {
        return Err(BeaconError::body(
            413,
            "too_large",
            format!("body is larger than {MAX_BEACON_BYTES} bytes"),
        ));
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| BeaconError::body(400, "bad_encoding", "body is not UTF-8"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // serde_json refuses more than 128 levels of nesting, so no input can exhaust the stack,
    // and the size cap above bounds the memory of the parsed value.
    let value: Value = serde_json::from_str(text)
        .map_err(|e| BeaconError::body(400, "bad_json", format!("body is not JSON: {e}")))?;
    match value {
        Value::Object(map) => Ok(vec![hit(map).map_err(|r| BeaconError::hit(None, r))?]),
        Value::Array(items) => {
            if items.len() > MAX_BEACON_HITS {
                return Err(BeaconError::body(
                    400,
                    "too_many",
                    format!("at most {MAX_BEACON_HITS} hits per beacon"),
                ));
            }
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::Object(map) => hit(map).map_err(|r| BeaconError::hit(Some(i), r)),
                    _ => Err(BeaconError {
                        index: Some(i),
                        ..BeaconError::body(400, "not_object", "each hit must be a JSON object")
                    }),
                })
                .collect()
        }
        _ => Err(BeaconError::body(
            400,
            "not_object",
            "body must be a JSON object or an array of objects",
        )),
    }
}

/// One hit from its JSON object: strings as in the query, numbers taken as their text,
/// `null` as absent, and `p` either an object or JSON text.
fn hit(map: Map<String, Value>) -> Result<RawHit, Rejection> {
    let mut fields = Fields::default();
    for (name, value) in map {
        let Some(key) = Key::from_name(&name) else {
            continue;
        };
        match value {
            Value::Null => {}
            Value::String(s) => fields.set(key, Cow::Owned(s))?,
            Value::Number(n) => fields.set(key, Cow::Owned(n.to_string()))?,
            Value::Object(_) if key == Key::Props => fields.set_props_value(&value)?,
            _ => {
                return Err(Rejection::bad_value(key.name(), "a string"));
            }
        }
    }
    fields.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::HitKind;

    fn err(body: &str) -> (u16, Option<usize>, Option<&'static str>, &'static str) {
        match parse_beacon(body.as_bytes()) {
            Ok(h) => panic!("{body:?} accepted as {h:?}"),
            Err(e) => (e.status, e.index, e.field, e.reason),
        }
    }

    #[test]
    fn object_and_array() {
        let one = parse_beacon(br#"{"s":"a","u":"https://a.b/x","sw":1280,"unknown":[1]}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].screen_w, 1280);
        let many = parse_beacon(
            br#"[{"s":"a","u":"https://a.b/1"},
                 {"s":"a","u":"https://a.b/2","e":"event","n":"buy","p":{"sku":"x1","qty":2}},
                 {"s":"a","u":"https://a.b/3","p":"{\"k\":\"v\"}","r":null}]"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(many.len(), 3);
        assert_eq!(many[1].kind, HitKind::Event);
        assert_eq!(many[1].props, r#"{"qty":2,"sku":"x1"}"#);
        assert_eq!(many[2].props, r#"{"k":"v"}"#);
        assert!(parse_beacon(b"[]").is_ok_and(|v| v.is_empty()));
        let bom = "\u{feff}{\"s\":\"a\",\"u\":\"https://a.b/\"}";
        assert!(parse_beacon(bom.as_bytes()).is_ok());
    }

    #[test]
    fn errors() {
        let hundred_one = format!(
            "[{}]",
            vec![r#"{"s":"a","u":"https://a.b/"}"#; 101].join(",")
        );
        let hundred = format!(
            "[{}]",
            vec![r#"{"s":"a","u":"https://a.b/"}"#; 100].join(",")
        );
        assert!(parse_beacon(hundred.as_bytes()).is_ok_and(|v| v.len() == 100));
        let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        let deep_props = format!(
            r#"{{"s":"a","u":"https://a.b/","p":{}1{}}}"#,
            r#"{"a":"#.repeat(200),
            "}".repeat(200)
        );
        type Want<'a> = (u16, Option<usize>, Option<&'a str>, &'a str);
        let cases: &[(&str, Want)] = &[
            ("", (400, None, None, "bad_json")),
            ("{", (400, None, None, "bad_json")),
            ("42", (400, None, None, "not_object")),
            ("\"s\"", (400, None, None, "not_object")),
            ("null", (400, None, None, "not_object")),
            (&hundred_one, (400, None, None, "too_many")),
            (&deep, (400, None, None, "bad_json")),
            (&deep_props, (400, None, None, "bad_json")),
            (
                r#"{"u":"https://a.b/"}"#,
                (400, None, Some("s"), "missing_field"),
            ),
            (
                r#"[{"s":"a","u":"https://a.b/"},{"s":"a"}]"#,
                (400, Some(1), Some("u"), "missing_field"),
            ),
            (
                r#"[{"s":"a","u":"https://a.b/"},7]"#,
                (400, Some(1), None, "not_object"),
            ),
            (
                r#"{"s":"a","u":"mailto:x@y"}"#,
                (400, None, Some("u"), "bad_url"),
            ),
            (
                r#"{"s":true,"u":"https://a.b/"}"#,
                (400, None, Some("s"), "bad_value"),
            ),
            (
                r#"{"s":"a","u":"https://a.b/","t":["x"]}"#,
                (400, None, Some("t"), "bad_value"),
            ),
            (
                r#"{"s":"a","u":"https://a.b/","sw":1.5}"#,
                (400, None, Some("sw"), "bad_value"),
            ),
            (
                r#"{"s":"a","u":"https://a.b/","e":"event","n":"x","p":{"a":{"b":1}}}"#,
                (400, None, Some("p"), "nested"),
            ),
        ];
        for (body, want) in cases {
            assert_eq!(err(body), *want, "{body}");
        }
        let big = vec![b' '; MAX_BEACON_BYTES + 1];
        let e = parse_beacon(&big).err();
        assert_eq!(e.map(|e| (e.status, e.reason)), Some((413, "too_large")));
        let e = parse_beacon(b"{\"s\":\"\xff\"}").err();
        assert_eq!(e.map(|e| e.reason), Some("bad_encoding"));
    }

    #[test]
    fn error_json_names_index_and_field() {
        let e = parse_beacon(br#"[{"s":"a","u":"https://a.b/"},{"s":"a"}]"#).err();
        let json = e.map(|e| e.to_json()).unwrap_or_default();
        let v: Value = serde_json::from_str(&json).unwrap_or(Value::Null);
        assert_eq!(v["index"], 1);
        assert_eq!(v["field"], "u");
        assert!(v["error"].as_str().is_some_and(|s| s.contains("`u`")));
    }
}
