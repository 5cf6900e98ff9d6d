//! Recent clicks per (mailing, person), kept briefly in memory so the verdict can spot a
//! scanner clicking several links of one mail within seconds. Bounded: old entries are pruned
//! and, past the cap, forgotten (the verdict then errs towards human, never towards loss).

use std::collections::HashMap;

use enrich::verdict::{PriorClicks, SPREE_WINDOW_MS};

/// Most (mailing, person) pairs remembered.
const MAX_PAIRS: usize = 100_000;
/// Most clicks remembered per pair.
const MAX_CLICKS: usize = 16;

/// (mailing, person) → their recent (link, time) clicks.
#[derive(Debug, Default)]
pub struct RecentClicks {
    /// Keyed by mailing and person joined with a NUL (ids cannot hold control characters).
    pairs: HashMap<String, Vec<(String, u64)>>,
}

impl RecentClicks {
    /// Records a click and returns what the earlier ones say.
    pub fn record(&mut self, mailing: &str, person: &str, link: &str, now_ms: u64) -> PriorClicks {
        if self.pairs.len() >= MAX_PAIRS {
            self.pairs.retain(|_, v| {
                v.iter()
                    .any(|(_, t)| now_ms.saturating_sub(*t) < SPREE_WINDOW_MS)
            });
            if self.pairs.len() >= MAX_PAIRS {
                self.pairs.clear();
            }
        }
        let clicks = self
            .pairs
            .entry(format!("{mailing}\0{person}"))
            .or_default();
        clicks.retain(|(_, t)| now_ms.saturating_sub(*t) < SPREE_WINDOW_MS);
        let last_other_link_ms = clicks
            .iter()
            .filter(|(l, _)| l != link)
            .map(|(_, t)| *t)
            .max();
        if clicks.len() >= MAX_CLICKS {
            clicks.remove(0);
        }
        clicks.push((link.to_string(), now_ms));
        let mut links: Vec<&str> = clicks.iter().map(|(l, _)| l.as_str()).collect();
        links.sort_unstable();
        links.dedup();
        PriorClicks {
            last_other_link_ms,
            distinct_links_in_window: links.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_and_sprees() {
        let mut r = RecentClicks::default();
        let p = r.record("m", "p", "a", 1_000_000);
        assert_eq!(
            (p.last_other_link_ms, p.distinct_links_in_window),
            (None, 1)
        );
        let p = r.record("m", "p", "a", 1_000_500);
        assert_eq!(
            (p.last_other_link_ms, p.distinct_links_in_window),
            (None, 1)
        );
        let p = r.record("m", "p", "b", 1_001_000);
        assert_eq!(
            (p.last_other_link_ms, p.distinct_links_in_window),
            (Some(1_000_500), 2)
        );
        let p = r.record("m", "p", "c", 1_002_000);
        assert_eq!(p.distinct_links_in_window, 3);
        // Another recipient is separate; the window forgets.
        assert_eq!(
            r.record("m", "q", "a", 1_002_000).distinct_links_in_window,
            1
        );
        let p = r.record("m", "p", "d", 1_002_000 + SPREE_WINDOW_MS);
        assert_eq!(
            (p.last_other_link_ms, p.distinct_links_in_window),
            (None, 1)
        );
    }
}
