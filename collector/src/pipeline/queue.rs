//! The bounded in-memory queue between the request handlers and the batcher. A handler
//! encodes its hits as RowBinary straight into the open batch buffer, so a queued hit costs no
//! allocation of its own, the batch needs no second encoding pass, and the batcher is woken
//! once per batch (when it fills) instead of once per hit.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::BytesMut;
use common::hit::Hit;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{Batch, OfferError, Spool, OFFER_WAIT};

/// Bytes reserved per row of a fresh batch buffer (a typical row is 250-450 bytes); a batch
/// that outgrows it reallocates, which is rare and cheap next to the insert.
const ROW_BYTES_HINT: usize = 448;

/// Rows encoded into one buffer, cut into a batch as a whole.
#[derive(Debug)]
pub(super) struct Chunk {
    /// Rows in `bytes`.
    pub rows: u32,
    /// The rows, RowBinary.
    pub bytes: BytesMut,
    /// When the first row arrived (the batch interval runs from here).
    pub started: Instant,
}

impl Chunk {
    /// An empty buffer; the first row reserves its room, so an idle queue holds no big one.
    fn empty() -> Self {
        Self {
            rows: 0,
            bytes: BytesMut::new(),
            started: Instant::now(),
        }
    }

    /// The finished batch.
    pub fn into_batch(self) -> Batch {
        Batch {
            rows: self.rows,
            bytes: self.bytes.freeze(),
        }
    }
}

/// What is queued.
#[derive(Debug)]
struct State {
    /// Buffers that reached the hard cap, oldest first; they go without waiting for the gap.
    sealed: VecDeque<Chunk>,
    /// The buffer rows are appended to.
    open: Chunk,
    /// Rows in `sealed` and `open` together (the bound applies to this).
    rows: usize,
    /// Shutdown started: no more hits.
    closed: bool,
}

/// The queue shared by the handlers, the batcher and the readiness probe.
#[derive(Debug)]
pub(super) struct Shared {
    state: Mutex<State>,
    /// Most rows held.
    capacity: usize,
    /// Rows that make a batch full (the batcher may then cut it).
    batch_rows: usize,
    /// Rows at which a buffer is sealed (a batch never grows past it).
    hard_cap: usize,
    /// Wakes the batcher: a batch began, became full or was sealed.
    pub ready: Notify,
    /// Wakes offers waiting for room: the batcher took rows.
    room: Notify,
}

/// What the batcher should do next.
pub(super) enum Next {
    /// Dispatch this batch now.
    Take(Chunk),
    /// Nothing due; look again at this time (None: only when woken).
    WaitUntil(Option<Instant>),
    /// Closed and empty: finish.
    Done,
}

impl Shared {
    pub fn new(capacity: usize, batch_rows: usize, hard_cap: usize) -> Self {
        Self {
            state: Mutex::new(State {
                sealed: VecDeque::new(),
                open: Chunk::empty(),
                rows: 0,
                closed: false,
            }),
            capacity: capacity.max(1),
            batch_rows: batch_rows.max(1),
            hard_cap: hard_cap.max(batch_rows).max(1),
            ready: Notify::new(),
            room: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-updated in a way that
        // matters more than losing the queue, so carry on with it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Rows queued now.
    pub fn len(&self) -> usize {
        self.lock().rows
    }

    /// True when at least one more hit fits.
    pub fn has_room(&self) -> bool {
        let st = self.lock();
        !st.closed && st.rows < self.capacity
    }

    /// Refuses further hits; what is queued still drains.
    pub fn close(&self) {
        self.lock().closed = true;
        self.room.notify_waiters();
        self.ready.notify_one();
    }

    /// Appends all of `hits` or none of them.
    fn try_push(&self, hits: &[Hit]) -> Result<(), OfferError> {
        let mut wake = false;
        {
            let mut st = self.lock();
            if st.closed {
                return Err(OfferError::Closed);
            }
            if st.rows + hits.len() > self.capacity {
                return Err(OfferError::Overloaded);
            }
            for hit in hits {
                if st.open.rows as usize >= self.hard_cap {
                    let full = std::mem::replace(&mut st.open, Chunk::empty());
                    st.sealed.push_back(full);
                    wake = true;
                }
                let open = &mut st.open;
                if open.rows == 0 {
                    // The batcher sleeps while the queue is empty: tell it a batch has begun
                    // (its interval runs from now). One wake-up per batch, not per hit.
                    open.started = Instant::now();
                    open.bytes
                        .reserve(self.batch_rows.saturating_mul(ROW_BYTES_HINT));
                    wake = true;
                }
                hit.encode(&mut open.bytes);
                open.rows += 1;
                wake |= open.rows as usize == self.batch_rows;
                st.rows += 1;
            }
        }
        if wake {
            self.ready.notify_one();
        }
        Ok(())
    }

    /// What the batcher should do at `now`, given the earliest time a full (not sealed) batch
    /// may go and the longest a batch stays open.
    pub fn next(&self, now: Instant, earliest: Instant, interval: std::time::Duration) -> Next {
        let chunk = {
            let mut st = self.lock();
            if let Some(c) = st.sealed.pop_front() {
                st.rows -= c.rows as usize;
                c
            } else if st.open.rows == 0 {
                return if st.closed {
                    Next::Done
                } else {
                    Next::WaitUntil(None)
                };
            } else {
                let full = st.open.rows as usize >= self.batch_rows;
                let due = if full {
                    earliest
                } else {
                    st.open.started + interval
                };
                // While draining for shutdown everything goes at once.
                if !st.closed && now < due {
                    return Next::WaitUntil(Some(due));
                }
                let c = std::mem::replace(&mut st.open, Chunk::empty());
                st.rows -= c.rows as usize;
                c
            }
        };
        self.room.notify_waiters();
        Next::Take(chunk)
    }
}

/// The request path's handle on the queue.
#[derive(Clone)]
pub struct Queue {
    pub(super) shared: Arc<Shared>,
    /// To tell "queue full" from "queue and spool full".
    pub(super) spool: Arc<Spool>,
}

impl Queue {
    /// Queues all of `hits` or none of them. When the queue is full but the spool has room,
    /// waits up to [`OFFER_WAIT`] for the batcher to make room (it drains at disk speed then).
    pub async fn offer(&self, hits: &[Hit]) -> Result<(), OfferError> {
        if hits.is_empty() {
            return Ok(());
        }
        match self.shared.try_push(hits) {
            Err(OfferError::Overloaded) => {}
            other => return other,
        }
        if hits.len() > self.shared.capacity || self.spool.is_full() {
            return Err(OfferError::Overloaded);
        }
        let deadline = Instant::now() + OFFER_WAIT;
        loop {
            let room = self.shared.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            match self.shared.try_push(hits) {
                Err(OfferError::Overloaded) => {}
                other => return other,
            }
            if tokio::time::timeout_at(deadline, room).await.is_err() {
                return Err(OfferError::Overloaded);
            }
        }
    }
}
