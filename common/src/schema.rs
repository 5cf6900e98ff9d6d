//! The schema: migrations from `sql/migrations/` (compiled in), applying them, and the
//! start-up check that the database is at least as new as a binary needs. A node whose
//! ClickHouse config sets the macro `tracking_cluster` gets the cluster variant instead
//! (`sql/cluster/`: local tables plus Distributed tables under the same names).

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
    /// The `tracking_cluster` macro names something unusable, or a cluster the node lacks.
    #[error("cluster mode: {0}")]
    Cluster(String),
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
    let cluster = cluster_name(&client).await?;
    let migrations = if cluster.is_some() {
        CLUSTER_MIGRATIONS
    } else {
        MIGRATIONS
    };
    let done = applied_versions(&client).await.unwrap_or_default();
    let mut applied = Vec::new();
    for (version, name, sql) in migrations {
        if done.contains(version) {
            continue;
        }
        let sql = match &cluster {
            Some(c) => cluster_sql(sql, c, &settings.database),
            None => sql.to_string(),
        };
        for stmt in statements(&sql) {
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

/// ClickHouse macro whose value switches a node to the cluster schema: the name of the
/// `<remote_servers>` cluster of the shards; `<name>_all` must hold every node as a replica.
pub const CLUSTER_MACRO: &str = "tracking_cluster";

/// The cluster schema with its placeholders filled in. Both values are checked identifiers.
pub fn cluster_sql(sql: &str, cluster: &str, database: &str) -> String {
    sql.replace("{cluster}", cluster)
        .replace("{database}", database)
}

/// The cluster this node is configured for (macro [`CLUSTER_MACRO`]), after checking that
/// the node knows both clusters the schema names; None on a single node.
pub async fn cluster_name(client: &clickhouse::Client) -> Result<Option<String>, SchemaError> {
    let found = client
        .query("SELECT substitution FROM system.macros WHERE macro = ?")
        .bind(CLUSTER_MACRO)
        .fetch_all::<String>()
        .await?;
    let Some(name) = found.into_iter().next() else {
        return Ok(None);
    };
    if !valid_identifier(&name) {
        return Err(SchemaError::Cluster(format!(
            "macro {CLUSTER_MACRO} = {name:?} is not a plain name"
        )));
    }
    let all = format!("{name}_all");
    let known = client
        .query("SELECT DISTINCT cluster FROM system.clusters WHERE cluster IN (?, ?)")
        .bind(&name)
        .bind(&all)
        .fetch_all::<String>()
        .await?;
    for want in [&name, &all] {
        if !known.contains(want) {
            return Err(SchemaError::Cluster(format!(
                "macro {CLUSTER_MACRO} = {name:?} but <remote_servers> has no cluster {want:?}"
            )));
        }
    }
    Ok(Some(name))
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
    fn cluster_schema_has_every_version_and_no_placeholder_left() {
        let single: Vec<u32> = MIGRATIONS.iter().map(|m| m.0).collect();
        let cluster: Vec<u32> = CLUSTER_MIGRATIONS.iter().map(|m| m.0).collect();
        assert_eq!(single, cluster, "run python3 sql/cluster/generate.py");
        for (_, name, sql) in CLUSTER_MIGRATIONS {
            for stmt in statements(&cluster_sql(sql, "c1", "db")) {
                assert!(!stmt.contains('{') && !stmt.contains('?'), "{name}: {stmt}");
            }
        }
        let hits = cluster_sql(CLUSTER_MIGRATIONS[0].2, "c1", "db");
        assert!(hits.contains("Distributed(c1, db, hits_local, sipHash64(visitor_id))"));
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
