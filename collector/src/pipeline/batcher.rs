//! Cuts the queue into batches by rows or time and hands each to the shipper, or to the
//! spool when the shipper is busy, so the queue never waits on ClickHouse. The rows arrive
//! already encoded (see `queue`), so a batch is ready the moment it is cut.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::queue::{Chunk, Next, Shared};
use super::spool::SpoolError;
use super::{Batch, Spool};
use crate::telemetry;

/// The batching task's state.
pub(super) struct Batcher {
    /// The queue the request handlers fill.
    pub queue: Arc<Shared>,
    /// Becomes true when shutdown starts: close the queue, drain, finish.
    pub closed: watch::Receiver<bool>,
    /// To the shipper (small capacity: a busy shipper means the spool).
    pub ship: mpsc::Sender<Batch>,
    /// Where a batch goes when the shipper is busy.
    pub spool: Arc<Spool>,
    /// Longest a batch stays open.
    pub interval: Duration,
}

/// Shortest gap between two batches under steady load: at most about two INSERTs per second
/// per table, as ClickHouse asks. A batch that reaches `rows` sooner keeps filling until the
/// gap has passed (up to [`HARD_CAP_FACTOR`] x `rows`), so a busy collector sends fewer,
/// larger batches instead of more small ones, which also saves ClickHouse merge work.
const MIN_GAP: Duration = Duration::from_millis(500);

/// How far past `rows` a batch may grow while it waits out [`MIN_GAP`] (bounds memory). At
/// 3x a collector past 60k hits/s sent more than 2 INSERTs/s of smaller parts, and ClickHouse
/// spent ~17% more CPU per row; queued hits are encoded bytes now (~350 B, not a 41-String
/// struct), so 5x costs less memory than 3x used to.
pub(super) const HARD_CAP_FACTOR: usize = 5;

impl Batcher {
    /// Runs until the queue is closed and empty, then returns (dropping the shipper's sender).
    pub async fn run(mut self) {
        let mut closing = false;
        let mut last_dispatch = Instant::now()
            .checked_sub(MIN_GAP)
            .unwrap_or_else(Instant::now);
        let queue = self.queue.clone();
        loop {
            // Registered before looking, so a wake-up between the look and the wait is kept.
            let woken = queue.ready.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let now = Instant::now();
            let wait_until = match self.queue.next(now, last_dispatch + MIN_GAP, self.interval) {
                Next::Take(chunk) => {
                    telemetry::queue_depth(self.queue.len());
                    last_dispatch = now;
                    self.dispatch(chunk).await;
                    continue;
                }
                Next::Done => break,
                Next::WaitUntil(at) => at,
            };
            let sleep = async {
                match wait_until {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = woken => {}
                _ = sleep => {}
                _ = self.closed.changed(), if !closing => {
                    closing = true;
                    self.queue.close();
                }
            }
        }
        telemetry::queue_depth(0);
    }

    async fn dispatch(&mut self, chunk: Chunk) {
        if chunk.rows == 0 {
            return;
        }
        telemetry::batch(chunk.rows as usize);
        tracing::debug!(rows = chunk.rows, bytes = chunk.bytes.len(), "batch cut");
        let batch = chunk.into_batch();
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
    use super::super::{OfferError, Queue};
    use super::*;
    use common::hit::Hit;

    fn hit() -> Hit {
        Hit {
            site: "s".into(),
            ..Hit::default()
        }
    }

    struct Rig {
        queue: Queue,
        ship: mpsc::Receiver<Batch>,
        close: watch::Sender<bool>,
        task: tokio::task::JoinHandle<()>,
        _dir: tempfile::TempDir,
    }

    /// A batcher over a queue of `capacity` hits, batches of `rows`, shipper slack of 8.
    fn rig(capacity: usize, rows: usize) -> Rig {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let spool = Arc::new(Spool::open(dir.path(), 1 << 20).unwrap_or_else(|e| panic!("{e}")));
        let shared = Arc::new(Shared::new(capacity, rows, rows * HARD_CAP_FACTOR));
        let (ship_tx, ship) = mpsc::channel(8);
        let (close, closed) = watch::channel(false);
        let batcher = Batcher {
            queue: shared.clone(),
            closed,
            ship: ship_tx,
            spool: spool.clone(),
            interval: Duration::from_secs(1),
        };
        Rig {
            queue: Queue { shared, spool },
            ship,
            close,
            task: tokio::spawn(batcher.run()),
            _dir: dir,
        }
    }

    async fn offer(q: &Queue, n: usize) {
        let hits = vec![hit(); n];
        q.offer(&hits).await.unwrap_or_else(|e| panic!("{e:?}"));
    }

    /// Under a burst, batches are at least MIN_GAP apart and grow past `rows` instead.
    #[tokio::test(start_paused = true)]
    async fn a_burst_makes_fewer_larger_batches() {
        let mut r = rig(1000, 10);
        for _ in 0..10 {
            offer(&r.queue, 1).await;
        }
        let first = r.ship.recv().await.unwrap_or_else(|| panic!("no batch"));
        let t0 = Instant::now();
        assert_eq!(first.rows, 10);
        assert_eq!(first.bytes, Hit::encode_batch(&vec![hit(); 10]));
        for _ in 0..25 {
            offer(&r.queue, 1).await;
        }
        let second = r.ship.recv().await.unwrap_or_else(|| panic!("no batch"));
        assert_eq!(second.rows, 25, "the burst waits out the gap in one batch");
        assert!(t0.elapsed() >= MIN_GAP - Duration::from_millis(1));
        // Past the hard cap a batch goes without waiting for the gap.
        // One offer crossing the cap is cut between its rows, in order.
        let t1 = Instant::now();
        let cap = 10 * HARD_CAP_FACTOR;
        let many: Vec<Hit> = (0..cap + 10)
            .map(|i| Hit {
                site: format!("site-{i}"),
                ..Hit::default()
            })
            .collect();
        r.queue
            .offer(&many)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        let third = r.ship.recv().await.unwrap_or_else(|| panic!("no batch"));
        assert_eq!(third.rows as usize, cap);
        assert_eq!(third.bytes, Hit::encode_batch(&many[..cap]));
        assert!(t1.elapsed() < MIN_GAP);
        // Shutdown drains the rest at once and refuses new hits.
        let _ = r.close.send(true);
        let rest = r.ship.recv().await.unwrap_or_else(|| panic!("no batch"));
        assert_eq!(rest.rows, 10);
        assert_eq!(rest.bytes, Hit::encode_batch(&many[cap..]));
        r.task.await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.queue.offer(&[hit()]).await, Err(OfferError::Closed));
        assert!(r.ship.recv().await.is_none());
    }

    /// A batch that never fills goes after the interval, counted from its first hit.
    #[tokio::test(start_paused = true)]
    async fn a_partial_batch_goes_after_the_interval() {
        let mut r = rig(1000, 10);
        // Let the batcher find the queue empty and go to sleep first.
        tokio::time::sleep(Duration::from_millis(5)).await;
        let t0 = Instant::now();
        offer(&r.queue, 3).await;
        let b = r.ship.recv().await.unwrap_or_else(|| panic!("no batch"));
        assert_eq!(b.rows, 3);
        assert!(t0.elapsed() >= Duration::from_secs(1));
        assert!(t0.elapsed() < Duration::from_millis(1100));
    }

    /// A full queue refuses all of an offer (never part of it) once the short wait is over,
    /// and takes hits again when the batcher has made room.
    #[tokio::test(start_paused = true)]
    async fn a_full_queue_refuses_whole_offers() {
        let mut r = rig(5, 100);
        offer(&r.queue, 4).await;
        assert_eq!(
            r.queue.offer(&[hit(), hit()]).await,
            Err(OfferError::Overloaded)
        );
        assert_eq!(r.queue.shared.len(), 4);
        offer(&r.queue, 1).await;
        assert!(!r.queue.shared.has_room());
        let b = r.ship.recv().await.unwrap_or_else(|| panic!("no batch"));
        assert_eq!(b.rows, 5);
        assert!(r.queue.shared.has_room());
        offer(&r.queue, 5).await;
        // More than the queue can ever hold is refused at once.
        assert_eq!(
            r.queue.offer(&vec![hit(); 6]).await,
            Err(OfferError::Overloaded)
        );
    }
}
