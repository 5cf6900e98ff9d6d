//! The engagement score of a person: a weighted count of what they did in the timeline that
//! is returned (so the same range always gives the same score).
//!
//! score = 1 × mailings opened by a human open (apple_mpp and scanner opens left out)
//!       + 3 × human clicks
//!       + 2 × visits
//!       + 1 × pages viewed in those visits
//!       + 2 × custom events
//!       + 5 × funnel steps reached
//!       + 10 × conversions (goals reached)
//! Weights grow with intent: an open can be a glance, a conversion is the point.

use std::collections::BTreeSet;

/// What the score counts, gathered from a timeline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Mailings with at least one human open (or human click, which implies an open).
    pub mailings_opened: BTreeSet<String>,
    /// Human clicks.
    pub clicks: u64,
    /// Visits (sessions).
    pub visits: u64,
    /// Pages viewed in those visits.
    pub pages: u64,
    /// Custom events.
    pub events: u64,
    /// Funnel steps reached.
    pub funnel_steps: u64,
    /// Goals reached.
    pub conversions: u64,
}

/// Verdicts that are machines, not people.
pub fn is_machine(verdict: &str) -> bool {
    matches!(verdict, "apple_mpp" | "scanner")
}

impl Tally {
    /// The score.
    pub fn score(&self) -> u64 {
        self.mailings_opened.len() as u64
            + 3 * self.clicks
            + 2 * self.visits
            + self.pages
            + 2 * self.events
            + 5 * self.funnel_steps
            + 10 * self.conversions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights() {
        let t = Tally {
            mailings_opened: ["m1".to_string(), "m2".to_string()].into(),
            clicks: 1,
            visits: 2,
            pages: 5,
            events: 1,
            funnel_steps: 2,
            conversions: 1,
        };
        assert_eq!(t.score(), 2 + 3 + 4 + 5 + 2 + 10 + 10);
        assert!(is_machine("scanner") && !is_machine("unknown"));
    }
}
