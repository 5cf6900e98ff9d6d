//! `loadgen`: reads flags, runs the bounded load and the ClickHouse reconciliation, prints the
//! summary (and JSON with `--json`), and exits non-zero when anything does not add up.

use load_tests::{cli, report};

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flags = match cli::parse(&args, |k| std::env::var(k).ok()) {
        Ok(Some(f)) => f,
        Ok(None) => {
            println!("{}", cli::USAGE);
            return std::process::ExitCode::SUCCESS;
        }
        Err(errors) => {
            for e in errors {
                eprintln!("loadgen: {e}");
            }
            return std::process::ExitCode::from(64);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("loadgen: cannot start the runtime: {e}");
            return std::process::ExitCode::from(70);
        }
    };
    if flags.migrate_only {
        return migrate(&rt, &flags);
    }
    if let Some(n) = flags.check_only {
        return match rt.block_on(report::check_only(&flags, n)) {
            Ok(v) => {
                println!("{}", serde_json::to_string(&v).unwrap_or_default());
                if v.ok {
                    std::process::ExitCode::SUCCESS
                } else {
                    for p in &v.problems {
                        eprintln!("MISMATCH: {p}");
                    }
                    std::process::ExitCode::from(1)
                }
            }
            Err(e) => {
                eprintln!("loadgen: {e}");
                std::process::ExitCode::from(1)
            }
        };
    }
    let r = rt.block_on(report::execute(&flags));
    print!("{}", report::describe(&r));
    if let Some(path) = &flags.json {
        let written = serde_json::to_string_pretty(&r)
            .map_err(|e| e.to_string())
            .and_then(|j| std::fs::write(path, j).map_err(|e| e.to_string()));
        if let Err(e) = written {
            eprintln!("loadgen: cannot write {}: {e}", path.display());
            return std::process::ExitCode::from(1);
        }
    }
    if r.ok() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(1)
    }
}

fn migrate(rt: &tokio::runtime::Runtime, flags: &cli::Flags) -> std::process::ExitCode {
    let Some(ch) = &flags.clickhouse else {
        eprintln!("loadgen: --migrate-only needs ClickHouse");
        return std::process::ExitCode::from(64);
    };
    match rt.block_on(common::schema::migrate(ch)) {
        Ok(v) => {
            println!("loadgen: database {} migrated (applied {v:?})", ch.database);
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("loadgen: migrate {}: {e}", ch.database);
            std::process::ExitCode::from(1)
        }
    }
}
