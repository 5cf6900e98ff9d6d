//! Custom event properties (`p`): a flat JSON object of at most 2 KiB, stored as
//! normalised JSON text (compact, keys sorted) so equal objects are equal strings.

use crate::error::Rejection;
use crate::raw::MAX_PROPS;
use serde_json::{Map, Value};

/// Parses `p` sent as JSON text. The text is capped before parsing, and serde_json stops at
/// 128 levels of nesting, so hostile input can neither blow the stack nor the memory.
pub(crate) fn normalize_text(text: &str) -> Result<String, Rejection> {
    if text.len() > MAX_PROPS {
        return Err(Rejection::too_long("p", MAX_PROPS));
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|_| Rejection::new("p", "bad_json", "`p` must be a JSON object"))?;
    normalize_value(&value)
}

/// Checks an already parsed `p` (a beacon's nested object) and returns its normalised text.
pub(crate) fn normalize_value(value: &Value) -> Result<String, Rejection> {
    let Value::Object(map) = value else {
        return Err(Rejection::new("p", "bad_json", "`p` must be a JSON object"));
    };
    if map.values().any(|v| v.is_object() || v.is_array()) {
        return Err(Rejection::new(
            "p",
            "nested",
            "`p` must be flat: values are strings, numbers, booleans or null",
        ));
    }
    if map.is_empty() {
        return Ok(String::new());
    }
    // serde_json's default Map is a BTreeMap, so this writes the keys sorted.
    let text = serde_json::to_string(map as &Map<String, Value>)
        .map_err(|_| Rejection::new("p", "bad_json", "`p` could not be written back"))?;
    if text.len() > MAX_PROPS {
        return Err(Rejection::too_long("p", MAX_PROPS));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            (r#"{"plan":"pro","n":1}"#, Ok(r#"{"n":1,"plan":"pro"}"#)),
            (
                r#" { "a" : true , "b": null } "#,
                Ok(r#"{"a":true,"b":null}"#),
            ),
            ("{}", Ok("")),
            (r#"{"a":{"b":1}}"#, Err("nested")),
            (r#"{"a":[1]}"#, Err("nested")),
            ("[1,2]", Err("bad_json")),
            ("\"x\"", Err("bad_json")),
            ("{", Err("bad_json")),
            ("not json", Err("bad_json")),
        ];
        for (text, want) in cases {
            let got = normalize_text(text);
            let got = got.as_deref().map_err(|r| r.reason);
            assert_eq!(got, *want, "{text}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_a_crash() {
        let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
        assert_eq!(normalize_text(&deep).map_err(|r| r.reason), Err("bad_json"));
        let deep_obj = format!("{}1{}", r#"{"a":"#.repeat(300), "}".repeat(300));
        assert!(normalize_text(&deep_obj).is_err());
    }

    #[test]
    fn size_cap() {
        let big = format!(r#"{{"a":"{}"}}"#, "x".repeat(MAX_PROPS));
        assert_eq!(normalize_text(&big).map_err(|r| r.reason), Err("too_long"));
        let mut m = Map::new();
        m.insert("a".into(), Value::String("x".repeat(MAX_PROPS)));
        assert_eq!(
            normalize_value(&Value::Object(m)).map_err(|r| r.reason),
            Err("too_long")
        );
    }
}
