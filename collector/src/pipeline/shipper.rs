//! Ships batches: inserts each into ClickHouse, spools it when ClickHouse is down or slow,
//! quarantines it when ClickHouse calls it bad data, and replays the spool oldest first
//! (with backoff) whenever nothing new is waiting.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::spool::SpoolError;
use super::{Batch, Health, Sink, Spool};
use crate::telemetry::{self, InsertClass};

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// The shipping task's state.
pub(super) struct Shipper {
    /// ClickHouse.
    sink: Sink,
    /// Where batches wait while ClickHouse cannot take them.
    spool: Arc<Spool>,
    /// ClickHouse health, for `/readyz`.
    health: Arc<Health>,
    /// Set late in shutdown: stop trying ClickHouse, spool everything.
    spool_only: Arc<AtomicBool>,
    /// No insert is tried before this (after a failure).
    retry_at: Instant,
    /// Current backoff step.
    backoff: Duration,
}

/// What became of one insert attempt.
enum Outcome {
    /// ClickHouse has the rows.
    Written,
    /// ClickHouse refused the rows themselves; they were set aside.
    Quarantined,
    /// ClickHouse could not take them now.
    NotNow,
}

impl Shipper {
    pub fn new(
        sink: Sink,
        spool: Arc<Spool>,
        health: Arc<Health>,
        spool_only: Arc<AtomicBool>,
    ) -> Self {
        Self {
            sink,
            spool,
            health,
            spool_only,
            retry_at: Instant::now(),
            backoff: BACKOFF_MIN,
        }
    }

    /// Runs until the batcher is gone and its last batch is shipped or spooled.
    pub async fn run(mut self, mut rx: mpsc::Receiver<Batch>) {
        loop {
            let replay = !self.spool.is_empty() && !self.spool_only.load(Ordering::Relaxed);
            tokio::select! {
                biased;
                b = rx.recv() => match b {
                    Some(batch) => self.ship(batch).await,
                    None => break,
                },
                _ = tokio::time::sleep_until(self.retry_at), if replay => self.replay_one().await,
                // Re-check the spool now and then (the batcher may have spooled meanwhile).
                _ = tokio::time::sleep(Duration::from_millis(250)), if !replay => {}
            }
        }
    }

    /// Inserts a fresh batch, or spools it; never lets go of it otherwise.
    async fn ship(&mut self, batch: Batch) {
        loop {
            let may_try =
                Instant::now() >= self.retry_at && !self.spool_only.load(Ordering::Relaxed);
            if may_try {
                match self.attempt(&batch).await {
                    Outcome::Written | Outcome::Quarantined => return,
                    Outcome::NotNow => {}
                }
            }
            match self.to_spool(&batch).await {
                Ok(()) => return,
                Err(e) => {
                    if !matches!(e, SpoolError::Full) {
                        tracing::error!(error = %e, rows = batch.rows, "cannot spool batch; retrying ClickHouse");
                    }
                    // Nowhere to put it: keep it in memory and wait for ClickHouse.
                    tokio::time::sleep_until(self.retry_at.max(Instant::now() + BACKOFF_MIN)).await;
                    if self.spool_only.load(Ordering::Relaxed) {
                        // Late in shutdown with a full spool: try ClickHouse anyway.
                        self.retry_at = Instant::now();
                    }
                }
            }
        }
    }

    /// Replays the oldest spooled batch.
    async fn replay_one(&mut self) {
        let spool = self.spool.clone();
        let Ok(Some((seq, batch))) = tokio::task::spawn_blocking(move || spool.oldest()).await
        else {
            return;
        };
        match self.attempt(&batch).await {
            Outcome::Written => telemetry::replayed(batch.rows as usize),
            Outcome::Quarantined => {}
            Outcome::NotNow => return,
        }
        let spool = self.spool.clone();
        match tokio::task::spawn_blocking(move || spool.remove(seq)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, seq, "cannot delete replayed segment; it may be replayed twice (deduplicated by event_id)")
            }
            Err(e) => tracing::error!(error = %e, seq, "spool task failed"),
        }
    }

    /// One INSERT; updates health and backoff; quarantines bad data.
    async fn attempt(&mut self, batch: &Batch) -> Outcome {
        match self.sink.insert(batch).await {
            Ok(()) => {
                self.health.clickhouse_ok.store(true, Ordering::Relaxed);
                self.backoff = BACKOFF_MIN;
                self.retry_at = Instant::now();
                Outcome::Written
            }
            Err(e) if e.class == InsertClass::BadData => {
                self.quarantine(batch, &e.message).await;
                Outcome::Quarantined
            }
            Err(e) => {
                self.health.clickhouse_ok.store(false, Ordering::Relaxed);
                tracing::warn!(error = %e.message, class = e.class.label(), rows = batch.rows, backoff_ms = self.backoff.as_millis() as u64, "insert failed; batch goes to the spool");
                self.retry_at = Instant::now() + self.backoff;
                self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
                Outcome::NotNow
            }
        }
    }

    async fn quarantine(&self, batch: &Batch, reason: &str) {
        let tag = format!(
            "{}-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0),
            uuid::Uuid::new_v4().simple()
        );
        let spool = self.spool.clone();
        let b = batch.clone();
        let t = tag.clone();
        match tokio::task::spawn_blocking(move || spool.quarantine(&b, &t)).await {
            Ok(Ok(path)) => {
                tracing::error!(file = %path.display(), rows = batch.rows, error = %reason, "ClickHouse refused a batch as bad data; quarantined, not retried")
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, rows = batch.rows, reason = %reason, "ClickHouse refused a batch as bad data and it could not be quarantined")
            }
            Err(e) => tracing::error!(error = %e, "quarantine task failed"),
        }
    }

    async fn to_spool(&self, batch: &Batch) -> Result<(), SpoolError> {
        let spool = self.spool.clone();
        let b = batch.clone();
        tokio::task::spawn_blocking(move || spool.append(&b))
            .await
            .map_err(|e| SpoolError::Io(std::io::Error::other(e)))?
    }
}
