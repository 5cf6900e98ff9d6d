//! The schema: migrations from `sql/migrations/` (compiled in), applying them, and the
//! start-up check that the database is at least as new as a binary needs.

use crate::ch::{valid_identifier, ChSettings};

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// Schema version this build of the binaries needs (the newest migration it carries).
pub fn required_version() -> u32 {
    MIGRATIONS.last().map(|m| m.0).unwrap_or(0)
}

/// Failures while migrating or checking the schema.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The database name cannot be used in DDL.
    #[error("invalid database name {0:?}")]
    BadDatabase(String),
    /// ClickHouse refused or could not be reached.
    #[error("clickhouse: {0}")]
    ClickHouse(#[from] clickhouse::error::Error),
    /// The database is older than this binary.
    #[error("schema version {found} is older than the {needed} this binary needs; run `aggregator migrate`")]
    TooOld {
        /// Version found in `schema_migrations`.
        found: u32,
        /// Version needed.
        needed: u32,
    },
}

/// Splits a migration file into statements: `;` at the end of a line ends one; `--` comment
/// lines are dropped.
pub fn statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in sql.lines() {
        if line.trim_start().starts_with("--") {
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
        if line.trim_end().ends_with(';') {
            let stmt = cur.trim().trim_end_matches(';').trim().to_string();
            if !stmt.is_empty() {
                out.push(stmt);
            }
            cur.clear();
        }
    }
    let rest = cur.trim();
    if !rest.is_empty() {
        out.push(rest.to_string());
    }
    out
}

/// Creates the database if needed and applies every migration not yet recorded. Each
/// statement is idempotent, so concurrent runs from several replicas are safe. Returns the
/// versions applied by this call.
pub async fn migrate(settings: &ChSettings) -> Result<Vec<u32>, SchemaError> {
    if !valid_identifier(&settings.database) {
        return Err(SchemaError::BadDatabase(settings.database.clone()));
    }
    // The name is checked above to be a plain identifier, so it is safe in DDL.
    settings
        .server_client()
        .query(&format!(
            "CREATE DATABASE IF NOT EXISTS `{}`",
            settings.database
        ))
        .execute()
        .await?;
    let client = settings.client();
    let done = applied_versions(&client).await.unwrap_or_default();
    let mut applied = Vec::new();
    for (version, name, sql) in MIGRATIONS {
        if done.contains(version) {
            continue;
        }
        for stmt in statements(sql) {
            client.query(&stmt).execute().await?;
        }
        client
            .query("INSERT INTO schema_migrations (version, name, applied_at) SELECT ?, ?, now()")
            .bind(*version)
            .bind(*name)
            .execute()
            .await?;
        tracing::info!(version, name, "applied migration");
        applied.push(*version);
    }
    Ok(applied)
}

async fn applied_versions(
    client: &clickhouse::Client,
) -> Result<Vec<u32>, clickhouse::error::Error> {
    client
        .query("SELECT DISTINCT version FROM schema_migrations")
        .fetch_all::<u32>()
        .await
}

/// Refuses a database older than this binary needs.
pub async fn check(settings: &ChSettings) -> Result<u32, SchemaError> {
    let client = settings.client();
    let found = applied_versions(&client)
        .await?
        .into_iter()
        .max()
        .unwrap_or(0);
    let needed = required_version();
    if found < needed {
        return Err(SchemaError::TooOld { found, needed });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order() {
        assert!(!MIGRATIONS.is_empty());
        for w in MIGRATIONS.windows(2) {
            assert!(w[0].0 < w[1].0, "{} then {}", w[0].1, w[1].1);
        }
    }

    #[test]
    fn splits_statements() {
        let s = statements("-- c\nCREATE TABLE a (x UInt8)\nENGINE = Log;\n\nSELECT 1;\n");
        assert_eq!(s, ["CREATE TABLE a (x UInt8)\nENGINE = Log", "SELECT 1"]);
        assert!(statements(MIGRATIONS[0].2)
            .iter()
            .any(|s| s.contains("CREATE TABLE IF NOT EXISTS hits")));
    }
}
