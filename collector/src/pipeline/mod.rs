//! The write path behind the request handlers: a bounded queue of hits, a batcher that cuts
//! it into encoded batches, and a shipper that inserts them into ClickHouse or spools them.
//!
//! Overload policy, in order: the queue absorbs bursts; the batcher never waits on ClickHouse
//! (a batch the shipper cannot take at once goes to the spool); only when the spool is full
//! too does the queue fill, and then `offer` fails fast and the edge answers 503 (beacon) or
//! counts an intentional drop (pixel).

mod batcher;
mod queue;
mod shipper;
pub mod sink;
pub mod spool;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use queue::{Queue, Row};
pub use sink::Sink;
pub use spool::Spool;

/// A batch of hits encoded once as RowBinary; the same bytes are inserted, spooled and
/// replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Number of hits in `bytes`.
    pub rows: u32,
    /// The RowBinary body.
    pub bytes: Bytes,
}

/// How long a request may wait for queue room while the spool still has room: the batcher
/// drains at disk speed then, so a short wait turns a burst into accepted hits.
const OFFER_WAIT: Duration = Duration::from_millis(50);

/// Batches that may wait for the shipper before the batcher spools instead.
const SHIP_SLACK: usize = 2;

/// Why hits were not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferError {
    /// Queue and spool are both full.
    Overloaded,
    /// Shutting down: the queue no longer takes hits.
    Closed,
}

/// State the readiness probe reads.
#[derive(Debug)]
pub struct Health {
    /// Set once shutdown starts.
    pub draining: AtomicBool,
    /// Last insert (or probe) succeeded.
    pub clickhouse_ok: AtomicBool,
    /// The spool, for its fill level.
    spool: Arc<Spool>,
    /// The queue, for its free room (a hung ClickHouse shows as a full queue before any
    /// insert has timed out).
    queue: Arc<queue::Shared>,
}

impl Health {
    /// Ready = not draining, and the spool or ClickHouse can take hits.
    pub fn ready(&self) -> bool {
        !self.draining.load(Ordering::Relaxed)
            && (!self.spool.is_full()
                || (self.clickhouse_ok.load(Ordering::Relaxed) && self.queue.has_room()))
    }
}

/// Sizes and timings of the pipeline.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Hits the queue holds.
    pub queue_capacity: usize,
    /// Rows that close a batch.
    pub batch_rows: usize,
    /// Longest a batch stays open.
    pub batch_interval: Duration,
}

/// The running pipeline: hand `queue` to the handlers, `health` to the probes, and call
/// `shutdown` once the listeners have stopped.
pub struct Pipeline {
    /// Where handlers put hits.
    pub queue: Queue,
    /// What `/readyz` reads.
    pub health: Arc<Health>,
    /// Tells the batcher to close the queue and drain it.
    close: watch::Sender<bool>,
    /// Tells the shipper to stop trying ClickHouse and spool whatever is left.
    spool_only: Arc<AtomicBool>,
    /// The two tasks.
    tasks: Vec<JoinHandle<()>>,
}

impl Pipeline {
    /// Starts the batcher and the shipper.
    pub fn start(cfg: &PipelineConfig, sink: Sink, spool: Arc<Spool>) -> Self {
        let rows = cfg.batch_rows.max(1);
        let hard_cap = rows.saturating_mul(batcher::HARD_CAP_FACTOR);
        // The batch being filled lives in the queue too; it used to be the batcher's own
        // buffer on top of the queue, so count it on top to keep the same room for bursts.
        let shared = Arc::new(queue::Shared::new(
            cfg.queue_capacity.saturating_add(hard_cap),
            rows,
            hard_cap,
        ));
        // Up to two batches wait for the shipper (one insert's worth of slack at full rate);
        // anything more goes to the spool at once.
        let (ship_tx, ship_rx) = mpsc::channel(SHIP_SLACK);
        let (close, closed) = watch::channel(false);
        let health = Arc::new(Health {
            draining: AtomicBool::new(false),
            clickhouse_ok: AtomicBool::new(true),
            spool: spool.clone(),
            queue: shared.clone(),
        });
        let spool_only = Arc::new(AtomicBool::new(false));
        let batcher = batcher::Batcher {
            queue: shared.clone(),
            closed,
            ship: ship_tx,
            spool: spool.clone(),
            interval: cfg.batch_interval,
        };
        let shipper =
            shipper::Shipper::new(sink, spool.clone(), health.clone(), spool_only.clone());
        let tasks = vec![
            tokio::spawn(batcher.run()),
            tokio::spawn(shipper.run(ship_rx)),
        ];
        Self {
            queue: Queue { shared, spool },
            health,
            close,
            spool_only,
            tasks,
        }
    }

    /// Closes the queue and waits until every queued hit is in ClickHouse or the spool. After
    /// half of `grace` the shipper stops trying ClickHouse and spools the rest; returns false
    /// (and logs) when even that did not finish in time.
    pub async fn shutdown(self, grace: Duration) -> bool {
        self.health.draining.store(true, Ordering::Relaxed);
        let _ = self.close.send(true);
        drop(self.queue);
        let mut tasks = self.tasks;
        let all = async {
            for t in tasks.iter_mut() {
                let _ = t.await;
            }
        };
        tokio::pin!(all);
        if tokio::time::timeout(grace / 2, &mut all).await.is_ok() {
            return true;
        }
        tracing::warn!(
            grace_s = grace.as_secs(),
            "drain slow; spooling the rest instead of waiting on ClickHouse"
        );
        self.spool_only.store(true, Ordering::Relaxed);
        if tokio::time::timeout(grace - grace / 2, &mut all)
            .await
            .is_ok()
        {
            return true;
        }
        tracing::error!(
            grace_s = grace.as_secs(),
            "drain grace period ran out; hits still in memory are lost"
        );
        false
    }
}
