//! Writes identity links (and conflicts) to ClickHouse in batches, off the request path. The
//! request path only offers to a bounded channel; a full channel or a ClickHouse outage
//! longer than the retry budget loses links, and each such loss is counted. A link is a
//! derived fact: the next hit with the same token and visitor offers it again.

use std::time::Duration;

use clickhouse::Row;
use serde::Serialize;
use tokio::sync::{mpsc, watch};

/// `identity_links` row.
#[derive(Debug, Clone, Row, Serialize)]
pub struct LinkRow {
    /// First-party visitor id (`v`).
    pub visitor_id: String,
    /// The person of the token.
    pub person_id: String,
    /// Site of the visitor id.
    pub site: String,
    /// What carried the token: `pt` (identify, or the landing parameter of a click).
    pub source: String,
    /// When (Unix s).
    pub linked_at: u32,
    /// Always 0 here; revocations come from erasure.
    pub revoked: u8,
    /// Unix ms: the newest link of a visitor wins.
    pub version: u64,
}

/// `identity_conflicts` row: a linked visitor met another person's token.
#[derive(Debug, Clone, Row, Serialize)]
pub struct ConflictRow {
    /// The visitor.
    pub visitor_id: String,
    /// The person it was linked to.
    pub existing_person_id: String,
    /// The person of the new token.
    pub new_person_id: String,
    /// Site of the visitor id.
    pub site: String,
    /// When (Unix s).
    pub at: u32,
}

/// One thing to write.
#[derive(Debug, Clone)]
pub struct LinkWrite {
    /// The new link.
    pub link: LinkRow,
    /// The conflict it makes, if the visitor was linked to someone else.
    pub conflict: Option<ConflictRow>,
}

/// Most writes waiting in the channel.
pub const CHANNEL_CAPACITY: usize = 10_000;
/// Most rows per INSERT.
const BATCH: usize = 1_000;
/// Longest a write waits for its batch.
const FLUSH_EVERY: Duration = Duration::from_millis(500);
/// Attempts per batch before its rows are counted as lost.
const ATTEMPTS: u32 = 5;

/// Runs until `stop` turns true, then writes what is left (one attempt each) and returns.
pub async fn write_loop(
    ch: clickhouse::Client,
    mut rx: mpsc::Receiver<LinkWrite>,
    mut stop: watch::Receiver<bool>,
) {
    let mut pending: Vec<LinkWrite> = Vec::new();
    let mut due = tokio::time::Instant::now();
    loop {
        let was_empty = pending.is_empty();
        let stopping = tokio::select! {
            got = rx.recv_many(&mut pending, BATCH) => got == 0,
            _ = async { let _ = stop.wait_for(|s| *s).await; } => true,
            _ = tokio::time::sleep_until(due), if !was_empty => {
                flush(&ch, &mut pending, ATTEMPTS).await;
                continue;
            }
        };
        if stopping {
            while let Ok(w) = rx.try_recv() {
                pending.push(w);
            }
            flush(&ch, &mut pending, 1).await;
            return;
        }
        if was_empty {
            due = tokio::time::Instant::now() + FLUSH_EVERY;
        }
        if pending.len() >= BATCH {
            flush(&ch, &mut pending, ATTEMPTS).await;
        }
    }
}

async fn flush(ch: &clickhouse::Client, pending: &mut Vec<LinkWrite>, attempts: u32) {
    if pending.is_empty() {
        return;
    }
    let links: Vec<LinkRow> = pending.iter().map(|w| w.link.clone()).collect();
    let conflicts: Vec<ConflictRow> = pending.iter().filter_map(|w| w.conflict.clone()).collect();
    let mut wait = Duration::from_millis(200);
    for attempt in 1..=attempts {
        match write(ch, &links, &conflicts).await {
            Ok(()) => {
                crate::telemetry::identity_links("written", links.len() as u64);
                crate::telemetry::identity_links("conflict", conflicts.len() as u64);
                pending.clear();
                return;
            }
            Err(e) if attempt == attempts => {
                tracing::warn!(error = %e, rows = links.len(), "identity links not written; counted as lost");
            }
            Err(e) => {
                tracing::debug!(error = %e, attempt, "identity link write failed; retrying");
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
        }
    }
    crate::telemetry::identity_links("lost", links.len() as u64);
    pending.clear();
}

async fn write(
    ch: &clickhouse::Client,
    links: &[LinkRow],
    conflicts: &[ConflictRow],
) -> Result<(), clickhouse::error::Error> {
    let mut insert = ch.insert::<LinkRow>("identity_links").await?;
    for l in links {
        insert.write(l).await?;
    }
    insert.end().await?;
    if !conflicts.is_empty() {
        let mut insert = ch.insert::<ConflictRow>("identity_conflicts").await?;
        for c in conflicts {
            insert.write(c).await?;
        }
        insert.end().await?;
    }
    Ok(())
}
