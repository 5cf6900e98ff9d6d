//! Everything held about one person, found generically: every MergeTree-family table of the
//! database with a person column (`person_id` or `*_person_id`), plus, through the person's
//! identity links, every row of a table with a `visitor_id` column that belongs to one of
//! the person's linked visitor ids and to no other person. Result tables added later (metric jobs) are covered
//! without changes here. Identifiers come from `system.columns` and are bound as
//! identifiers; values are bound as values. In cluster mode (`sql/cluster/`) a table is its
//! Distributed table (read across the shards) and names the `<table>_local` table that each
//! node holds, which is where rows are deleted.

use std::collections::BTreeMap;

use clickhouse::sql::Identifier;
use serde_json::Value;

/// Tables that are never part of a person's data: the erasure receipts themselves (the
/// audit record GDPR asks us to keep) and the schema bookkeeping.
pub const KEPT_TABLES: &[&str] = &["erasures", "schema_migrations"];

/// A table holding person data and the columns that tie a row to a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonTable {
    /// Table name, as queries read it (the Distributed table in cluster mode).
    pub name: String,
    /// The table holding the rows on each node, where mutations run: `<name>_local` in
    /// cluster mode, else `name`.
    pub local_name: String,
    /// Columns holding a person id.
    pub person_columns: Vec<String>,
    /// Whether rows carry a `visitor_id`.
    pub has_visitor: bool,
}

#[derive(Debug, clickhouse::Row, serde::Deserialize)]
struct ColumnRow {
    table: String,
    name: String,
}

#[derive(Debug, clickhouse::Row, serde::Deserialize)]
struct TableRow {
    name: String,
    engine: String,
}

/// How queries name a table and where its rows live, if it is a MergeTree-family table or a
/// Distributed table over one (`<name>_local`); None for anything else, and for a
/// `<name>_local` table that has a Distributed twin (it is covered through the twin).
fn place(table: &str, engines: &BTreeMap<String, String>) -> Option<(String, String)> {
    let is_mergetree = |t: &str| engines.get(t).is_some_and(|e| e.ends_with("MergeTree"));
    let engine = engines.get(table)?;
    let local = format!("{table}_local");
    if engine == "Distributed" && is_mergetree(&local) {
        return Some((table.to_string(), local));
    }
    let twin = table
        .strip_suffix("_local")
        .is_some_and(|t| engines.get(t).is_some_and(|e| e == "Distributed"));
    (is_mergetree(table) && !twin).then(|| (table.to_string(), table.to_string()))
}

/// Every table of the database holding person data.
pub async fn person_tables(
    ch: &clickhouse::Client,
) -> Result<Vec<PersonTable>, clickhouse::error::Error> {
    // Two plain queries joined here: JOINs over system tables vary across server versions.
    let engines: BTreeMap<String, String> = ch
        .query("SELECT name, engine FROM system.tables WHERE database = currentDatabase()")
        .fetch_all::<TableRow>()
        .await?
        .into_iter()
        .map(|t| (t.name, t.engine))
        .collect();
    let cols: Vec<ColumnRow> = ch
        .query(
            "SELECT table, name FROM system.columns WHERE database = currentDatabase() \
               AND (name = 'person_id' OR endsWith(name, '_person_id') OR name = 'visitor_id') \
             ORDER BY table, name",
        )
        .fetch_all()
        .await?;
    let mut by_table: BTreeMap<String, PersonTable> = BTreeMap::new();
    for c in cols {
        let Some((name, local_name)) = place(&c.table, &engines) else {
            continue;
        };
        if KEPT_TABLES.contains(&name.as_str()) {
            continue;
        }
        let t = by_table.entry(name.clone()).or_insert_with(|| PersonTable {
            name,
            local_name,
            person_columns: Vec::new(),
            has_visitor: false,
        });
        if c.name == "visitor_id" {
            t.has_visitor = true;
        } else {
            t.person_columns.push(c.name);
        }
    }
    // A table with only a visitor_id (and no person column) still holds linked visitors' rows.
    Ok(by_table.into_values().collect())
}

/// Visitor ids ever linked to the person (revoked links included: the rows are still theirs).
pub async fn linked_visitors(
    ch: &clickhouse::Client,
    person_id: &str,
) -> Result<Vec<String>, clickhouse::error::Error> {
    ch.query(
        "SELECT DISTINCT visitor_id FROM identity_links WHERE person_id = ? ORDER BY visitor_id",
    )
    .bind(person_id)
    .fetch_all()
    .await
}

/// A statement over `table` restricted to the person's rows: `{head} TABLE {middle} (…)`
/// with the table bound as an identifier, e.g. `SELECT * FROM` … `WHERE`, or `ALTER TABLE` …
/// `DELETE WHERE`. `None` when the table cannot hold any of the person's rows.
pub fn scoped_query(
    ch: &clickhouse::Client,
    head: &str,
    middle: &str,
    table: &PersonTable,
    person_id: &str,
    visitors: &[String],
) -> Option<clickhouse::query::Query> {
    let mut conds: Vec<String> = table
        .person_columns
        .iter()
        .map(|_| "? = ?".to_string())
        .collect();
    let use_visitors = table.has_visitor && !visitors.is_empty();
    if use_visitors {
        // A linked visitor's rows, unless they belong to someone else: a shared device may
        // also carry another person's (consented) hits, which are theirs, not this person's.
        let mut v = String::from("(has(?, ?)");
        for _ in &table.person_columns {
            v.push_str(" AND ? = ''");
        }
        v.push(')');
        conds.push(v);
    }
    if conds.is_empty() {
        return None;
    }
    let sql = format!("{head} ? {middle} {}", conds.join(" OR "));
    let mut q = ch.query(&sql).bind(Identifier(&table.name));
    for c in &table.person_columns {
        q = q.bind(Identifier(c)).bind(person_id);
    }
    if use_visitors {
        q = q.bind(visitors).bind(Identifier("visitor_id"));
        for c in &table.person_columns {
            q = q.bind(Identifier(c));
        }
    }
    Some(q)
}

/// The person's rows of one table as JSON objects.
pub async fn rows_of(
    ch: &clickhouse::Client,
    table: &PersonTable,
    person_id: &str,
    visitors: &[String],
) -> Result<Vec<Value>, clickhouse::error::Error> {
    let Some(q) = scoped_query(ch, "SELECT * FROM", "WHERE", table, person_id, visitors) else {
        return Ok(Vec::new());
    };
    let bytes = q.fetch_bytes("JSONEachRow")?.collect().await?;
    Ok(bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect())
}

/// How many of the person's rows a table holds (physical rows, duplicates included).
pub async fn count_of(
    ch: &clickhouse::Client,
    table: &PersonTable,
    person_id: &str,
    visitors: &[String],
) -> Result<u64, clickhouse::error::Error> {
    match scoped_query(
        ch,
        "SELECT count() FROM",
        "WHERE",
        table,
        person_id,
        visitors,
    ) {
        Some(q) => q.fetch_one::<u64>().await,
        None => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_distributed_table_stands_for_its_local_table() {
        let engines: BTreeMap<String, String> = [
            ("hits", "Distributed"),
            ("hits_local", "ReplacingMergeTree"),
            ("consents", "MergeTree"),
            ("view_local", "View"),
            ("odd", "Distributed"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let p = |t: &str| place(t, &engines);
        assert_eq!(p("hits"), Some(("hits".into(), "hits_local".into())));
        assert_eq!(p("hits_local"), None);
        assert_eq!(p("consents"), Some(("consents".into(), "consents".into())));
        assert_eq!(p("view_local"), None);
        assert_eq!(p("odd"), None, "a Distributed table without a local table");
        assert_eq!(p("missing"), None);
    }
}
