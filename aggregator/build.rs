//! Expands the SQL fragment includes of `sql/queries/*.sql` into `OUT_DIR/queries/`, where
//! `src/metrics/queries.rs` compiles them in with `include_str!`.
//!
//! ClickHouse 18.16 has neither CTEs nor user-defined functions, so a rule several queries
//! share (the midnight "bridge" visitors, the pageview flags of a hit) lives once in
//! `sql/queries/fragments/NAME.sql` and a query includes it with a line
//! `-- @include fragments/NAME.sql (arg=value; ...)`: the line is replaced by the fragment's SQL
//! (its leading `--` header, the documentation, is dropped), every line indented like the
//! include line and every `{{arg}}` replaced by its value (`;` separates arguments, so values
//! can hold commas). `?` placeholders bind in the order of the expanded text, which is what
//! each file's `-- params:` header lists. An unknown fragment, a missing or unused argument,
//! a nested include or a malformed include line fails the build, naming file and line.
//! `tests/python/sqlinclude.py` expands the same way for the Python tests; a unit test in
//! `queries.rs` checks both give the same bytes for every file.

use std::{env, fs, path::PathBuf, process::ExitCode};

#[path = "src/metrics/sql_include.rs"]
mod sql_include;

fn main() -> ExitCode {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let queries = manifest.join("../sql/queries");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap_or_default()).join("queries");
    // A folder: cargo reruns the script when anything below it changes, fragments included.
    println!("cargo:rerun-if-changed={}", queries.display());
    let mut files: Vec<PathBuf> = fs::read_dir(&queries)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "sql"));
    files.sort();
    if files.is_empty() {
        eprintln!("error: no SQL files under {}", queries.display());
        return ExitCode::FAILURE;
    }
    // Emptied first, so a query file removed from the folder leaves no stale copy behind.
    let _ = fs::remove_dir_all(&out);
    if let Err(e) = fs::create_dir_all(&out) {
        eprintln!("error: cannot create {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    let read_fragment = |path: &str| fs::read_to_string(queries.join(path)).ok();
    let mut failed = false;
    for path in files {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let shown = format!("sql/queries/{name}");
        let expanded = fs::read_to_string(&path)
            .map_err(|e| format!("{shown}: {e}"))
            .and_then(|text| sql_include::expand(&text, &shown, &read_fragment))
            .and_then(|sql| {
                fs::write(out.join(&*name), sql).map_err(|e| format!("{shown}: cannot write: {e}"))
            });
        if let Err(e) = expanded {
            // Every bad file is reported, not just the first.
            eprintln!("error: {e}");
            failed = true;
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
