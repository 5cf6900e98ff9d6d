//! ClickHouse storage of the back-office data: row types, the upsert version clock and the
//! all-or-nothing writes of the intake endpoints.

pub mod cluster;
pub mod erase;
pub mod person_data;
pub mod rows;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Unix seconds now.
pub fn now_s() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0)
}

/// Row versions for ReplacingMergeTree upserts: microseconds since the epoch, strictly
/// increasing within the process, so a later request (or a later row of the same request)
/// always wins over an earlier one, and replicas agree as far as their clocks do.
#[derive(Debug, Default)]
pub struct VersionClock {
    /// The last version handed out.
    last: AtomicU64,
}

impl VersionClock {
    /// `n` consecutive versions; returns the first.
    pub fn next(&self, n: u64) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0);
        let mut prev = self.last.load(Ordering::Relaxed);
        loop {
            let first = now.max(prev + 1);
            match self.last.compare_exchange_weak(
                prev,
                first + n.saturating_sub(1),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return first,
                Err(p) => prev = p,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_never_repeat_or_go_back() {
        let c = VersionClock::default();
        let a = c.next(5);
        let b = c.next(1);
        assert!(b >= a + 5, "{a} {b}");
        assert!(c.next(1) > b);
    }
}
