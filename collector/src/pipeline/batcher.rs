//! Cuts the queue into batches by rows or time, encodes each once, and hands it to the
//! shipper, or to the spool when the shipper is busy, so the queue never waits on ClickHouse.

use std::sync::Arc;
use std::time::Duration;

use common::hit::Hit;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::spool::SpoolError;
use super::{Batch, Spool};
use crate::telemetry;

/// The batching task's state.
pub(super) struct Batcher {
    /// Hits from the request handlers.
    pub rx: mpsc::Receiver<Hit>,
    /// Becomes true when shutdown starts: close the queue, drain, finish.
    pub closed: watch::Receiver<bool>,
    /// To the shipper (small capacity: a busy shipper means the spool).
    pub ship: mpsc::Sender<Batch>,
    /// Where a batch goes when the shipper is busy.
    pub spool: Arc<Spool>,
    /// Rows that close a batch.
    pub rows: usize,
    /// Longest a batch stays open.
    pub interval: Duration,
}

impl Batcher {
    /// Runs until the queue is closed and empty, then returns (dropping the shipper's sender).
    pub async fn run(mut self) {
        let mut buf: Vec<Hit> = Vec::with_capacity(self.rows);
        let mut closing = false;
        loop {
            // Wait for the first hit of a batch (or for shutdown).
            if buf.is_empty() {
                tokio::select! {
                    n = self.rx.recv_many(&mut buf, self.rows) => if n == 0 { break },
                    _ = self.closed.changed(), if !closing => {
                        closing = true;
                        self.rx.close();
                        continue;
                    }
                }
            }
            let deadline = Instant::now() + self.interval;
            while buf.len() < self.rows {
                let room = self.rows - buf.len();
                tokio::select! {
                    n = self.rx.recv_many(&mut buf, room) => if n == 0 { break },
                    _ = tokio::time::sleep_until(deadline) => break,
                    _ = self.closed.changed(), if !closing => {
                        closing = true;
                        self.rx.close();
                    }
                }
            }
            telemetry::queue_depth(self.rx.len());
            self.dispatch(std::mem::take(&mut buf)).await;
            buf.reserve(self.rows);
        }
        telemetry::queue_depth(0);
    }

    async fn dispatch(&mut self, hits: Vec<Hit>) {
        if hits.is_empty() {
            return;
        }
        telemetry::batch(hits.len());
        let batch = Batch {
            rows: hits.len() as u32,
            bytes: Hit::encode_batch(&hits),
        };
        drop(hits);
        let batch = match self.ship.try_send(batch) {
            Ok(()) => return,
            Err(mpsc::error::TrySendError::Full(b) | mpsc::error::TrySendError::Closed(b)) => b,
        };
        // The shipper is busy: put the batch on disk rather than wait on ClickHouse.
        let spool = self.spool.clone();
        let to_disk = batch.clone();
        let res = tokio::task::spawn_blocking(move || spool.append(&to_disk)).await;
        match res {
            Ok(Ok(())) => return,
            Ok(Err(SpoolError::Full)) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, rows = batch.rows, "cannot spool batch; holding it for the shipper");
            }
            Err(e) => {
                tracing::error!(error = %e, "spool task failed; holding the batch for the shipper")
            }
        }
        // Spool full or failing: wait for the shipper. The queue fills behind us and the edge
        // starts answering 503: the explicit overload policy.
        if let Err(mpsc::error::SendError(b)) = self.ship.send(batch).await {
            tracing::error!(rows = b.rows, "shipper gone; batch lost");
        }
    }
}
