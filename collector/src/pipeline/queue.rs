//! The bounded in-memory queue between the request handlers and the batcher. A handler
//! encodes its hits as RowBinary straight into the open batch buffer, so a queued hit costs no
//! allocation of its own, the batch needs no second encoding pass, and the batcher is woken
//! once per batch (when it fills) instead of once per hit.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::BytesMut;
use common::hit::{Hit, HitRef};
use enrich::Enriched;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{Batch, OfferError, Spool, OFFER_WAIT};

/// Bytes reserved per row of a fresh batch buffer (a typical row is 250-450 bytes); a batch
/// that outgrows it reallocates. Untouched reserved pages cost no resident memory.
const ROW_BYTES_HINT: usize = 448;

/// Largest scratch buffer a thread keeps between offers.
const SCRATCH_KEEP: usize = 64 * 1024;

/// A thread's buffer for encoding an offer's rows outside the queue lock.
#[derive(Default)]
struct Scratch {
    /// The rows, RowBinary.
    bytes: BytesMut,
    /// Where each row ends in `bytes`.
    ends: Vec<usize>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// A row the queue can take: it only needs the row's RowBinary. Tracker hits come as
/// [`Enriched`] (their row borrows from the request and the caches, no copy per column);
/// mailing events and tests as an owned [`Hit`].
pub trait Row: Sync {
    /// Appends the row's RowBinary to `buf`.
    fn encode_row(&self, buf: &mut BytesMut);
}

impl Row for Hit {
    fn encode_row(&self, buf: &mut BytesMut) {
        self.encode(buf);
    }
}

impl Row for HitRef<'_> {
    fn encode_row(&self, buf: &mut BytesMut) {
        self.encode(buf);
    }
}

impl Row for Enriched<'_> {
    fn encode_row(&self, buf: &mut BytesMut) {
        self.row().encode(buf);
    }
}

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

    /// Appends all of `hits` or none of them. The rows are encoded before the lock is taken,
    /// into this thread's scratch buffer (reused, so it stays in cache), and only copied
    /// under it: the two workers no longer wait on each other's encoding.
    fn try_push<R: Row>(&self, hits: &[R]) -> Result<(), OfferError> {
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => self.push_encoded(&mut scratch, hits),
            // Not reentered in practice; stay correct if it ever is.
            Err(_) => self.push_encoded(&mut Scratch::default(), hits),
        })
    }

    fn push_encoded<R: Row>(&self, scratch: &mut Scratch, hits: &[R]) -> Result<(), OfferError> {
        scratch.bytes.clear();
        scratch.ends.clear();
        for hit in hits {
            hit.encode_row(&mut scratch.bytes);
            scratch.ends.push(scratch.bytes.len());
        }
        if scratch.bytes.capacity() > SCRATCH_KEEP {
            // A huge beacon once must not pin its buffer to the thread for good.
            let keep = std::mem::take(&mut scratch.bytes);
            let result = self.append(&keep, &scratch.ends);
            scratch.bytes = BytesMut::with_capacity(4096);
            return result;
        }
        self.append(&scratch.bytes, &scratch.ends)
    }

    /// Copies encoded rows (`ends` = where each ends in `rows`) into the open buffer.
    fn append(&self, rows: &[u8], ends: &[usize]) -> Result<(), OfferError> {
        let mut wake = false;
        {
            let mut st = self.lock();
            if st.closed {
                return Err(OfferError::Closed);
            }
            if st.rows + ends.len() > self.capacity {
                return Err(OfferError::Overloaded);
            }
            let mut start = 0;
            for &end in ends {
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
                    // Room for a batch at the hard cap: growing by reallocation copied
                    // megabytes under this lock, stalling requests on both workers.
                    open.bytes
                        .reserve(self.hard_cap.saturating_mul(ROW_BYTES_HINT));
                    wake = true;
                }
                open.bytes.extend_from_slice(&rows[start..end]);
                start = end;
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
    pub async fn offer<R: Row>(&self, hits: &[R]) -> Result<(), OfferError> {
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
