//! The `aggregator` binary: bad config is refused with every bad key named and exit 64;
//! `aggregator migrate` is idempotent; `serve` refuses a database without the schema.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_aggregator");

fn base(cmd: &mut Command) -> &mut Command {
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
}

#[test]
fn bad_config_names_every_key_and_exits_64() {
    let out = base(&mut Command::new(BIN))
        .env("AGGREGATOR_REFRESH_S", "soon")
        .env("LINK_KEYS", "k1:short-secret")
        .env("ADMIN_TOKEN", "hunter2")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    for key in ["AGGREGATOR_REFRESH_S", "LINK_KEYS", "ADMIN_TOKEN"] {
        assert!(err.contains(key), "{key} missing in {err}");
    }
    assert!(
        !err.contains("hunter2") && !err.contains("short-secret"),
        "{err}"
    );
    let out = base(&mut Command::new(BIN))
        .arg("frobnicate")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(64));
}

#[test]
fn migrate_twice_then_serve_refuses_an_empty_database() {
    let server = testkit::shared_server();
    let url = server.url();
    let db = format!("cli_{}", std::process::id());
    let run = |args: &[&str], database: &str| {
        base(&mut Command::new(BIN))
            .args(args)
            .env("CLICKHOUSE_URL", &url)
            .env("CLICKHOUSE_DATABASE", database)
            .env("LINK_KEYS", "k1:0123456789abcdef0123")
            .env("ADMIN_TOKEN", "test-admin-token-0123456789")
            .env("AGGREGATOR_LISTEN", "127.0.0.1:0")
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    for _ in 0..2 {
        let out = run(&["migrate"], &db);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = run(&["serve"], "default");
    assert_eq!(
        out.status.code(),
        Some(69),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
