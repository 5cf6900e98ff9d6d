//! GDPR erasure: deletes the person's rows from every table (ClickHouse `ALTER TABLE … DELETE`
//! mutations, waited for by polling `system.mutations`, since 18.16 has no `mutations_sync`),
//! then writes a receipt to `erasures`. A repeated erasure returns the first receipt; it only
//! removes rows that arrived after the first one (late hits from a collector queue).
//!
//! In cluster mode the mutations run on every node's `<table>_local` (see `cluster.rs`), each
//! node's mutations are polled to completion, every node is checked to hold none of the
//! person's rows, and only then is the receipt written (through the Distributed `erasures`, so
//! every node has it).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::cluster::Node;
use super::person_data::{count_of, linked_visitors, person_tables, scoped_query, PersonTable};
use super::rows::{insert_all, ErasureRow};

/// Why an erasure did not finish.
#[derive(Debug, thiserror::Error)]
pub enum EraseError {
    /// ClickHouse refused or is unreachable.
    #[error("clickhouse: {0}")]
    ClickHouse(#[from] clickhouse::error::Error),
    /// The mutations did not finish in time; rerun the erasure (it is idempotent until the
    /// receipt is written).
    #[error("mutations on {0:?} still running after the timeout; repeat the request")]
    Timeout(Vec<String>),
    /// A mutation finished but rows are still there (e.g. written meanwhile).
    #[error("rows remain in {0:?} after erasure; repeat the request")]
    Remaining(Vec<String>),
}

/// The stored receipt of an earlier erasure, if any.
pub async fn existing_receipt(
    ch: &clickhouse::Client,
    person_id: &str,
) -> Result<Option<Value>, clickhouse::error::Error> {
    let text: Option<String> = ch
        .query("SELECT receipt FROM erasures WHERE person_id = ? ORDER BY at LIMIT 1")
        .bind(person_id)
        .fetch_optional()
        .await?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// Erases the person on every node of `nodes` (the one node of a single-node setup) and
/// returns the receipt `{"person_id", "at", "requested_by", "rows_removed": {table: n}}`.
/// `ch` is the configured node: what it reads covers the whole cluster.
pub async fn erase(
    ch: &clickhouse::Client,
    nodes: &[Node],
    person_id: &str,
    requested_by: &str,
    timeout: Duration,
) -> Result<Value, EraseError> {
    // A repeat still sweeps: hits a collector accepted in the seconds before it saw the
    // erasure may land after it. They are removed quietly; the receipt stays the first one.
    let earlier = existing_receipt(ch, person_id).await?;
    let started = Instant::now();
    // Visitors first: deleting identity_links would lose them.
    let visitors = linked_visitors(ch, person_id).await?;
    let tables = person_tables(ch).await?;
    let mut removed: BTreeMap<String, u64> = BTreeMap::new();
    for t in &tables {
        removed.insert(t.name.clone(), count_of(ch, t, person_id, &visitors).await?);
    }
    let mut mutated = Vec::new();
    for node in nodes {
        let tables_here = mutate_node(node, &tables, person_id, &visitors).await?;
        mutated.extend(tables_here.iter().map(|t| format!("{}: {t}", node.url)));
        wait_for_mutations(
            &node.client,
            &tables_here,
            timeout.saturating_sub(started.elapsed()),
        )
        .await?;
    }
    let mut remaining = Vec::new();
    for node in nodes {
        for t in &tables {
            if count_of(&node.client, &local(t), person_id, &visitors).await? > 0 {
                remaining.push(format!("{}: {}", node.url, t.local_name));
            }
        }
    }
    if !remaining.is_empty() {
        return Err(EraseError::Remaining(remaining));
    }
    if let Some(r) = earlier {
        if !mutated.is_empty() {
            tracing::info!(tables = ?mutated, "late rows of an erased person removed");
        }
        return Ok(r);
    }
    let at = super::now_s();
    let receipt = json!({
        "person_id": person_id,
        "at": crate::api::validate::format_time(at),
        "requested_by": requested_by,
        "visitor_ids_erased": visitors.len(),
        "rows_removed": removed,
    });
    let row = ErasureRow {
        person_id: person_id.to_string(),
        at,
        requested_by: requested_by.to_string(),
        receipt: receipt.to_string(),
    };
    insert_all(ch, "erasures", &[row]).await?;
    tracing::info!(
        nodes = nodes.len(),
        mutations = mutated.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "person erased"
    );
    Ok(receipt)
}

/// The table as it is named on each node (its `_local` table in cluster mode).
fn local(t: &PersonTable) -> PersonTable {
    PersonTable {
        name: t.local_name.clone(),
        ..t.clone()
    }
}

/// Starts a delete mutation on every table of the node that holds some of the person's rows;
/// returns those tables.
async fn mutate_node(
    node: &Node,
    tables: &[PersonTable],
    person_id: &str,
    visitors: &[String],
) -> Result<Vec<String>, EraseError> {
    let mut mutated = Vec::new();
    for t in tables.iter().map(local) {
        if count_of(&node.client, &t, person_id, visitors).await? == 0 {
            continue;
        }
        let q = scoped_query(
            &node.client,
            "ALTER TABLE",
            "DELETE WHERE",
            &t,
            person_id,
            visitors,
        );
        if let Some(q) = q {
            q.execute().await?;
            mutated.push(t.name.clone());
        }
    }
    Ok(mutated)
}

/// Polls `system.mutations` until no mutation of `tables` is left undone.
async fn wait_for_mutations(
    ch: &clickhouse::Client,
    tables: &[String],
    timeout: Duration,
) -> Result<(), EraseError> {
    if tables.is_empty() {
        return Ok(());
    }
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(20);
    loop {
        let pending: Vec<String> = ch
            .query(
                "SELECT DISTINCT table FROM system.mutations \
                 WHERE database = currentDatabase() AND is_done = 0 AND has(?, table)",
            )
            .bind(tables)
            .fetch_all()
            .await?;
        if pending.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(EraseError::Timeout(pending));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}
