//! The real binary refuses bad settings at start: every bad key named at once, exit code 64,
//! from env and from a `--config` TOML file (env wins over the file).

use std::process::{Command, Output, Stdio};

fn run(envs: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_collector"));
    cmd.env_clear()
        .envs(envs.iter().copied())
        .args(args)
        .stdin(Stdio::null());
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run the collector: {e}"))
}

#[test]
fn bad_env_is_refused_with_every_key_named() {
    let out = run(
        &[
            ("COLLECTOR_LISTEN", "not-an-address"),
            ("CLICKHOUSE_URL", "ftp://nope"),
            ("LINK_KEYS", "k:short"),
            ("COLLECTOR_TRUSTED_PROXIES", "10.0.0.0/33"),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    for key in [
        "COLLECTOR_LISTEN",
        "CLICKHOUSE_URL",
        "LINK_KEYS",
        "COLLECTOR_TRUSTED_PROXIES",
    ] {
        assert!(err.contains(key), "{key} not named in: {err}");
    }
    assert!(
        !err.contains("short"),
        "a secret leaked into the message: {err}"
    );
}

#[test]
fn config_file_is_read_and_env_wins() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("collector.toml");
    std::fs::write(
        &file,
        "collector_batch_rows = 0\ncollector_queue_capacity = \"many\"\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let path = file.display().to_string();
    let out = run(&[("COLLECTOR_BATCH_ROWS", "500")], &["--config", &path]);
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("COLLECTOR_QUEUE_CAPACITY"), "{err}");
    assert!(!err.contains("COLLECTOR_BATCH_ROWS"), "env must win: {err}");

    let missing = run(&[], &["--config", "/nonexistent/collector.toml"]);
    assert_eq!(missing.status.code(), Some(64));
    let unknown = run(&[], &["--bogus"]);
    assert_eq!(unknown.status.code(), Some(64));
}

#[test]
fn unreadable_geoip_database_is_refused() {
    let out = run(
        &[
            ("GEOIP_CITY_DB", "/nonexistent/city.mmdb"),
            ("COLLECTOR_LISTEN", "127.0.0.1:0"),
            ("COLLECTOR_OPS_LISTEN", "127.0.0.1:0"),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("GEOIP_CITY_DB"));
}
