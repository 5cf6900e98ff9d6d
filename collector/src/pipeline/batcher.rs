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

/// Shortest gap between two batches under steady load: at most about two INSERTs per second
/// per table, as ClickHouse asks. A batch that reaches `rows` sooner keeps filling until the
/// gap has passed (up to [`HARD_CAP_FACTOR`] x `rows`), so a busy collector sends fewer,
/// larger batches instead of more small ones, which also saves ClickHouse merge work.
const MIN_GAP: Duration = Duration::from_millis(500);

/// How far past `rows` a batch may grow while it waits out [`MIN_GAP`] (bounds memory).
const HARD_CAP_FACTOR: usize = 3;

impl Batcher {
    /// Runs until the queue is closed and empty, then returns (dropping the shipper's sender).
    pub async fn run(mut self) {
        let hard_cap = self.rows.saturating_mul(HARD_CAP_FACTOR);
        let mut buf: Vec<Hit> = Vec::with_capacity(self.rows);
        let mut closing = false;
        let mut last_dispatch = Instant::now()
            .checked_sub(MIN_GAP)
            .unwrap_or_else(Instant::now);
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
            let earliest = last_dispatch + MIN_GAP;
            while buf.len() < hard_cap {
                let full = buf.len() >= self.rows;
                // While draining for shutdown a full batch goes at once.
                if full && (closing || Instant::now() >= earliest) {
                    break;
                }
                let until = if full { earliest } else { deadline };
                let room = hard_cap - buf.len();
                tokio::select! {
                    n = self.rx.recv_many(&mut buf, room) => if n == 0 { break },
                    _ = tokio::time::sleep_until(until) => break,
                    _ = self.closed.changed(), if !closing => {
                        closing = true;
                        self.rx.close();
                    }
                }
            }
            telemetry::queue_depth(self.rx.len());
            last_dispatch = Instant::now();
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
        let rows = hits.len() as u32;
        // Encoding (and freeing) tens of thousands of rows takes milliseconds: do it off the
        // async workers so the requests they serve meanwhile are not held up.
        let bytes = match tokio::task::spawn_blocking(move || Hit::encode_batch(&hits)).await {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::error!(error = %e, rows, "batch encoding task failed; batch lost");
                return;
            }
        };
        let batch = Batch { rows, bytes };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn hit() -> Hit {
        Hit {
            site: "s".into(),
            ..Hit::default()
        }
    }

    /// Under a burst, batches are at least MIN_GAP apart and grow past `rows` instead.
    #[tokio::test(start_paused = true)]
    async fn a_burst_makes_fewer_larger_batches() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let spool = Arc::new(Spool::open(dir.path(), 1 << 20).unwrap_or_else(|e| panic!("{e}")));
        let (tx, rx) = mpsc::channel(1000);
        let (ship_tx, mut ship_rx) = mpsc::channel(8);
        let (_close_tx, closed) = watch::channel(false);
        let batcher = Batcher {
            rx,
            closed,
            ship: ship_tx,
            spool,
            rows: 10,
            interval: Duration::from_secs(1),
        };
        let task = tokio::spawn(batcher.run());
        for _ in 0..10 {
            tx.send(hit()).await.unwrap_or_else(|e| panic!("{e}"));
        }
        let first = ship_rx.recv().await.unwrap_or_else(|| panic!("no batch"));
        let t0 = Instant::now();
        assert_eq!(first.rows, 10);
        for _ in 0..25 {
            tx.send(hit()).await.unwrap_or_else(|e| panic!("{e}"));
        }
        let second = ship_rx.recv().await.unwrap_or_else(|| panic!("no batch"));
        assert_eq!(second.rows, 25, "the burst waits out the gap in one batch");
        assert!(t0.elapsed() >= MIN_GAP - Duration::from_millis(1));
        // Past the hard cap a batch goes without waiting for the gap.
        for _ in 0..40 {
            tx.send(hit()).await.unwrap_or_else(|e| panic!("{e}"));
        }
        let third = ship_rx.recv().await.unwrap_or_else(|| panic!("no batch"));
        assert_eq!(third.rows, 30);
        drop(tx);
        let rest = ship_rx.recv().await.unwrap_or_else(|| panic!("no batch"));
        assert_eq!(rest.rows, 10);
        task.await.unwrap_or_else(|e| panic!("{e}"));
    }
}
