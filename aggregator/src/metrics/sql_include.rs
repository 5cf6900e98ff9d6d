//! Expands the `-- @include fragments/NAME.sql (arg=value; ...)` lines of the SQL files under
//! `sql/queries/`. Compiled into `build.rs` (which writes every expanded file to `OUT_DIR`)
//! and into the unit tests; `tests/python/sqlinclude.py` is the same expander for the Python
//! tests, and a test in `queries.rs` checks that both write the same bytes. The rules are in
//! `sql/queries/fragments/README.md`.

use std::collections::{BTreeMap, BTreeSet};

/// The line that includes a fragment starts with this (after its indentation).
const DIRECTIVE: &str = "-- @include";

/// Indentation and the blanks around an include line's parts.
const BLANKS: [char; 2] = [' ', '\t'];

const USAGE: &str = "expected `-- @include fragments/NAME.sql (arg=value; ...)`";

/// `[a-z_][a-z0-9_]*`: an argument's name.
fn is_arg_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// `fragments/[a-z0-9_]+.sql`: fragments live in one folder, named like query files.
fn is_fragment_path(s: &str) -> bool {
    s.strip_prefix("fragments/")
        .and_then(|s| s.strip_suffix(".sql"))
        .is_some_and(|n| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
}

/// The fragment path and arguments of an include line; `rest` follows `-- @include`.
fn parse_directive(rest: &str, at: &str) -> Result<(String, BTreeMap<String, String>), String> {
    if !rest.starts_with(' ') {
        return Err(format!("{at}: {USAGE}"));
    }
    let rest = rest.trim_matches(BLANKS);
    let (path, tail) = rest.split_once(' ').unwrap_or((rest, ""));
    let tail = tail.trim_matches(BLANKS);
    if !is_fragment_path(path) {
        return Err(format!("{at}: `{path}` is not a fragment path; {USAGE}"));
    }
    let mut args = BTreeMap::new();
    if tail.is_empty() {
        return Ok((path.to_string(), args));
    }
    let Some(inner) = tail.strip_prefix('(').and_then(|t| t.strip_suffix(')')) else {
        return Err(format!("{at}: arguments must be in parentheses; {USAGE}"));
    };
    if inner.trim_matches(BLANKS).is_empty() {
        return Ok((path.to_string(), args));
    }
    for item in inner.split(';') {
        let (name, value) = item.split_once('=').unwrap_or((item, ""));
        let name = name.trim_matches(BLANKS);
        if !item.contains('=') || !is_arg_name(name) {
            let item = item.trim_matches(BLANKS);
            return Err(format!("{at}: `{item}` is not `name=value`; {USAGE}"));
        }
        let value = value.trim_matches(BLANKS).to_string();
        if args.insert(name.to_string(), value).is_some() {
            return Err(format!("{at}: argument `{name}` given twice"));
        }
    }
    Ok((path.to_string(), args))
}

/// The line with every `{{name}}` replaced by its argument; `used` collects the names seen.
fn substitute(
    line: &str,
    args: &BTreeMap<String, String>,
    used: &mut BTreeSet<String>,
    at: &str,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            return Err(format!("{at}: `{{{{` without `}}}}`"));
        };
        let name = &rest[start + 2..start + 2 + len];
        if !is_arg_name(name) {
            return Err(format!("{at}: `{{{{{name}}}}}` is not an argument name"));
        }
        let Some(value) = args.get(name) else {
            return Err(format!("{at}: missing argument `{name}`"));
        };
        used.insert(name.to_string());
        out.push_str(&rest[..start]);
        out.push_str(value);
        rest = &rest[start + 2 + len + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The fragment's SQL lines (its leading `--` header dropped) with the arguments in.
fn fragment_lines(
    path: &str,
    text: &str,
    args: &BTreeMap<String, String>,
    at: &str,
) -> Result<Vec<String>, String> {
    let mut lines: Vec<&str> = text.split('\n').collect();
    if lines.last() == Some(&"") {
        lines.pop();
    }
    let skip = lines.iter().take_while(|l| l.starts_with("--")).count();
    if skip == lines.len() {
        return Err(format!("{at}: {path} has no SQL after its header"));
    }
    let mut used = BTreeSet::new();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate().skip(skip) {
        let here = format!("{at}: {path}:{}", i + 1);
        if line.trim_start_matches(BLANKS).starts_with(DIRECTIVE) {
            return Err(format!("{here}: a fragment cannot include another"));
        }
        out.push(substitute(line, args, &mut used, &here)?);
    }
    if let Some(name) = args.keys().find(|n| !used.contains(*n)) {
        return Err(format!("{at}: {path} has no `{{{{{name}}}}}`"));
    }
    Ok(out)
}

/// The query text with its include lines expanded. `shown` names the file in errors;
/// `read_fragment(path)` gives a fragment's text, or `None` when there is no such file.
pub fn expand(
    text: &str,
    shown: &str,
    read_fragment: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out: Vec<String> = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        let body = line.trim_start_matches(BLANKS);
        let Some(rest) = body.strip_prefix(DIRECTIVE) else {
            out.push(line.to_string());
            continue;
        };
        let at = format!("{shown}:{}", i + 1);
        let (path, args) = parse_directive(rest, &at)?;
        let Some(fragment) = read_fragment(&path) else {
            return Err(format!("{at}: unknown fragment {path}"));
        };
        let indent = &line[..line.len() - body.len()];
        for l in fragment_lines(&path, &fragment, &args, &at)? {
            out.push(if l.is_empty() {
                l
            } else {
                format!("{indent}{l}")
            });
        }
    }
    Ok(out.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BAND: &str =
        "-- Doc line, not copied.\n-- args: n\nSELECT x AS lo_{{n}}\n\n  FROM t -- {{n}}{{n}}\n";

    fn fragments(path: &str) -> Option<String> {
        match path {
            "fragments/band.sql" => Some(BAND.to_string()),
            "fragments/nested.sql" => Some("-- h\n  -- @include fragments/band.sql\n".into()),
            "fragments/doc_only.sql" => Some("-- only a header\n".into()),
            _ => None,
        }
    }

    fn run(text: &str) -> Result<String, String> {
        expand(text, "sql/queries/q.sql", &fragments)
    }

    #[test]
    fn an_include_becomes_the_fragment_indented_with_its_arguments() {
        let text = "SELECT 1\n    -- @include fragments/band.sql (n=7)\nEND\n";
        let want = "SELECT 1\n    SELECT x AS lo_7\n\n      FROM t -- 77\nEND\n";
        assert_eq!(run(text).as_deref(), Ok(want));
    }

    #[test]
    fn values_keep_commas_and_parentheses_and_are_trimmed() {
        let frag = |_: &str| Some("-- h\nGROUP BY {{keys}}, {{to}}".to_string());
        let text = "-- @include fragments/x.sql ( keys = site, visitor_id ;to=f(?, 1) )";
        let got = expand(text, "q", &frag);
        assert_eq!(got.as_deref(), Ok("GROUP BY site, visitor_id, f(?, 1)"));
    }

    #[test]
    fn text_without_includes_is_unchanged() {
        let text = "-- params: none\nSELECT '{{not a placeholder}}'\n-- @ include\n";
        assert_eq!(run(text).as_deref(), Ok(text));
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let cases = [
            (
                "x\n-- @include fragments/nope.sql",
                "q.sql:2: unknown fragment",
            ),
            (
                "-- @include fragments/band.sql",
                "q.sql:1: fragments/band.sql:3: missing argument `n`",
            ),
            (
                "-- @include fragments/band.sql (n=1; m=2)",
                "q.sql:1: fragments/band.sql has no `{{m}}`",
            ),
            (
                "-- @include fragments/band.sql (n=1; n=2)",
                "q.sql:1: argument `n` given twice",
            ),
            (
                "-- @include fragments/band.sql (n)",
                "q.sql:1: `n` is not `name=value`",
            ),
            (
                "-- @include fragments/band.sql n=1",
                "q.sql:1: arguments must be in parentheses",
            ),
            (
                "-- @include ../secret.sql",
                "q.sql:1: `../secret.sql` is not a fragment path",
            ),
            ("-- @includes fragments/band.sql", "q.sql:1: expected"),
            (
                "\n\n-- @include fragments/nested.sql",
                "q.sql:3: fragments/nested.sql:2: a fragment cannot",
            ),
            (
                "-- @include fragments/doc_only.sql",
                "q.sql:1: fragments/doc_only.sql has no SQL",
            ),
        ];
        for (text, want) in cases {
            let got = run(text).expect_err(text);
            assert!(
                got.starts_with(&format!("sql/queries/{want}")),
                "{text}: {got}"
            );
        }
    }
}
