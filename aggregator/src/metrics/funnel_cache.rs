//! The matched hits of each funnel per UTC day, kept in the aggregator process between runs
//! of job "funnels", so a run that must recompute a month (every run whose new hits land in
//! it) reads from ClickHouse only the days whose generation of job "days" changed, instead
//! of the whole month (3 s of a 3.3 s increment over 10 M hits).
//!
//! A day's hits are kept with the generation of job "days" they were read under; a new hit
//! changes the day's fingerprint and so its generation at the next run, which reads the day
//! again. Entries are per database and funnel, and are dropped whole when the definition or
//! the CRM persons (accounts on the hits) changed, or when keeping them would take the rows
//! held over all funnels past [`MAX_ROWS`] (that funnel then reads its days every run).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

/// Most hits kept over all funnels and databases together (about 150-200 B each, so at most
/// ~300 MB, which the Helm chart's memory limit allows for; a month of the 10 M-hit
/// benchmark's funnel is about 1 M). A budget per process, not per funnel, so defining more
/// funnels cannot grow the aggregator past its limit: those that do not fit are read whole
/// every run instead.
pub const MAX_ROWS: usize = 1_500_000;

/// One row of `funnel_span_hits.sql`: a hit matching a step of the funnel.
#[derive(Debug, Clone, Default, PartialEq, Eq, clickhouse::Row, serde::Deserialize)]
pub struct SpanHit {
    /// UTC day of arrival, `YYYY-MM-DD`.
    pub day: String,
    /// Site.
    pub site: String,
    /// Visitor.
    pub visitor: String,
    /// Person ('' if none).
    pub person: String,
    /// The person's account.
    pub account: String,
    /// Time, Unix ms.
    pub ts_ms: u64,
    /// Event id.
    pub event_id: String,
    /// `pageview` or `event`.
    pub kind: String,
    /// Page path.
    pub path: String,
    /// Event name.
    pub name: String,
}

/// A matched hit as kept: its day and site, and the hit the walk reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayHit {
    /// UTC day of arrival.
    pub day: String,
    /// Site.
    pub site: String,
    /// The hit.
    pub hit: super::funnel::FunnelHit,
}

impl DayHit {
    /// The order a day's hits are kept in, as the day read sorts them: site, visitor, then
    /// time with the event id breaking ties.
    pub fn order(&self) -> (&str, &str, u64, &str) {
        (
            &self.site,
            &self.hit.visitor,
            self.hit.ts_ms,
            &self.hit.event_id,
        )
    }
}

impl From<SpanHit> for DayHit {
    fn from(h: SpanHit) -> Self {
        Self {
            day: h.day,
            site: h.site,
            hit: super::funnel::FunnelHit {
                visitor: h.visitor,
                person: h.person,
                account: h.account,
                ts_ms: h.ts_ms,
                event_id: h.event_id,
                kind: h.kind,
                path: h.path,
                name: h.name,
            },
        }
    }
}

/// One funnel's cached days.
#[derive(Debug, Default)]
pub struct Entry {
    /// Definition and persons the hits were matched and joined with.
    pub inputs: String,
    /// Day → (generation of job "days", its hits sorted by site, visitor, ts_ms, event_id).
    pub days: BTreeMap<String, (u64, Arc<Vec<DayHit>>)>,
    /// Month span (`2026-01`) → each visitor's walk over it (`funnel_walks.rs`).
    pub months: BTreeMap<String, super::funnel_walks::MonthWalks>,
}

impl Entry {
    /// Rows held: hits, and walks (a walk holds less than a hit; counted as one all the same).
    pub fn rows(&self) -> usize {
        let hits: usize = self.days.values().map(|(_, v)| v.len()).sum();
        hits + self.months.values().map(|m| m.walks.len()).sum::<usize>()
    }

    /// The days of `wanted` (day, generation) not held at that generation.
    pub fn missing<'a>(&self, wanted: &[(&'a str, u64)]) -> Vec<&'a str> {
        wanted
            .iter()
            .filter(|(d, g)| self.days.get(*d).is_none_or(|(have, _)| have != g))
            .map(|(d, _)| *d)
            .collect()
    }
}

/// The hits of `days` (given in day order) sorted together by (site, visitor, ts_ms,
/// event_id), exactly as a stable sort of their concatenation orders them, for a walk over a
/// span of several days. Each day comes sorted, so the days' runs of one visitor are
/// gathered by key and only each visitor's few hits are sorted: sorting the ~1 M references
/// of a month as one vector cost 0.6 s of every increment.
pub fn merge_days<'a>(days: &[&'a [DayHit]]) -> Vec<&'a DayHit> {
    // foldhash: SipHash of the site and visitor of each run was most of the merge.
    let mut runs: HashMap<(&'a str, &'a str), Vec<&'a [DayHit]>, foldhash::fast::RandomState> =
        HashMap::default();
    for day in days {
        for run in day.chunk_by(|a, b| a.site == b.site && a.hit.visitor == b.hit.visitor) {
            let key = (run[0].site.as_str(), run[0].hit.visitor.as_str());
            runs.entry(key).or_default().push(run);
        }
    }
    let mut keyed: Vec<_> = runs.into_iter().collect();
    keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut out: Vec<&DayHit> = Vec::with_capacity(days.iter().map(|d| d.len()).sum());
    for (_, visitor_runs) in keyed {
        let start = out.len();
        for run in visitor_runs {
            out.extend(run.iter());
        }
        // Stable, so equal (ts_ms, event_id) keep day order, as in the concatenation.
        out[start..]
            .sort_by(|a, b| (a.hit.ts_ms, &a.hit.event_id).cmp(&(b.hit.ts_ms, &b.hit.event_id)));
    }
    out
}

type Store = Mutex<HashMap<(String, String), Entry>>;

fn store() -> &'static Store {
    static STORE: OnceLock<Store> = OnceLock::new();
    STORE.get_or_init(Store::default)
}

/// Takes the entry of (`database`, `funnel`) out (an empty one if absent, or if it was made
/// with other `inputs`); give it back with [`put`].
pub fn take(database: &str, funnel: &str, inputs: &str) -> Entry {
    let key = (database.to_string(), funnel.to_string());
    let taken = store().lock().ok().and_then(|mut m| m.remove(&key));
    match taken {
        Some(e) if e.inputs == inputs => e,
        _ => Entry {
            inputs: inputs.to_string(),
            days: BTreeMap::new(),
            months: BTreeMap::new(),
        },
    }
}

/// Keeps `entry` for the next run, unless the rows held would then pass [`MAX_ROWS`]: then
/// without its walks if that fits (the days are what saves most), else not at all.
pub fn put(database: &str, funnel: &str, entry: Entry) {
    put_within(store(), MAX_ROWS, database, funnel, entry);
}

fn put_within(store: &Store, budget: usize, database: &str, funnel: &str, mut entry: Entry) {
    let Ok(mut m) = store.lock() else {
        return;
    };
    let key = (database.to_string(), funnel.to_string());
    let others: usize = m
        .iter()
        .filter(|(k, _)| **k != key)
        .map(|(_, e)| e.rows())
        .sum();
    if others + entry.rows() > budget {
        entry.months.clear();
    }
    if others + entry.rows() > budget {
        m.remove(&key);
        return;
    }
    m.insert(key, entry);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry_of(rows: usize) -> Entry {
        let hits = vec![DayHit::default(); rows];
        Entry {
            inputs: "def".into(),
            days: BTreeMap::from([("2026-01-01".to_string(), (1, Arc::new(hits)))]),
            months: BTreeMap::new(),
        }
    }

    #[test]
    fn the_row_budget_holds_over_all_funnels() {
        let store = Store::default();
        put_within(&store, 10, "db", "a", entry_of(6));
        put_within(&store, 10, "db", "b", entry_of(5));
        let held = |f: &str| {
            let m = store.lock().ok()?;
            m.get(&("db".to_string(), f.to_string())).map(Entry::rows)
        };
        // b would take the total to 11: not kept, a stays.
        assert_eq!(held("a"), Some(6));
        assert_eq!(held("b"), None);
        // a's own earlier entry does not count against its replacement.
        put_within(&store, 10, "db", "a", entry_of(9));
        assert_eq!(held("a"), Some(9));
        // An entry that no longer fits drops the one kept before (it is stale).
        put_within(&store, 10, "db", "a", entry_of(11));
        assert_eq!(held("a"), None);
        put_within(&store, 10, "db", "b", entry_of(4));
        assert_eq!(held("b"), Some(4));
        // Walks count too; an entry over the budget with them is kept without them.
        let mut walked = entry_of(5);
        let walk = super::super::funnel::VisitorWalk {
            person: String::new(),
            account: String::new(),
            times: vec![1],
        };
        let mut month = super::super::funnel_walks::MonthWalks::default();
        for v in 0..3 {
            month
                .walks
                .insert(("s".into(), format!("v{v}")), walk.clone());
        }
        walked.months.insert("2026-01".into(), month);
        assert_eq!(walked.rows(), 8);
        put_within(&store, 10, "db", "a", walked);
        assert_eq!(held("a"), Some(5), "kept without its walks");
    }

    #[test]
    fn merged_days_equal_a_stable_sort_of_their_concatenation() {
        // Visitors on several days, replayed copies across days (same ts and id), a
        // visitor's later day holding earlier client times, sites interleaved.
        let hit = |day: &str, site: &str, v: &str, ts: u64, id: &str| DayHit {
            day: day.into(),
            site: site.into(),
            hit: super::super::funnel::FunnelHit {
                visitor: v.into(),
                ts_ms: ts,
                event_id: id.into(),
                ..Default::default()
            },
        };
        let mut days: Vec<Vec<DayHit>> = Vec::new();
        for d in 0..4u64 {
            let mut v = Vec::new();
            for i in 0..40u64 {
                let site = ["s1", "s2"][((i * 7 + d) % 2) as usize];
                let visitor = format!("v{}", (i * 13 + d * 5) % 9);
                let ts = 1_000 + (i * 31 + d * 17) % 50;
                v.push(hit(
                    &format!("day{d}"),
                    site,
                    &visitor,
                    ts,
                    &format!("e{}", i % 11),
                ));
            }
            v.sort_by(|a, b| a.order().cmp(&b.order()));
            days.push(v);
        }
        let slices: Vec<&[DayHit]> = days.iter().map(Vec::as_slice).collect();
        let mut expected: Vec<&DayHit> = days.iter().flatten().collect();
        expected.sort_by(|a, b| a.order().cmp(&b.order()));
        let got = merge_days(&slices);
        assert_eq!(got.len(), 160);
        // Same hits in the same order, down to which day's copy comes first.
        assert!(got.iter().zip(&expected).all(|(a, b)| std::ptr::eq(*a, *b)));
    }

    #[test]
    fn days_are_read_again_when_their_generation_moved() {
        let hit = |id: &str| {
            DayHit::from(SpanHit {
                event_id: id.into(),
                ..SpanHit::default()
            })
        };
        let mut e = take("db-test", "f", "def1");
        assert_eq!(e.missing(&[("2026-01-01", 5)]), ["2026-01-01"]);
        e.days
            .insert("2026-01-01".into(), (5, Arc::new(vec![hit("a"), hit("b")])));
        e.days
            .insert("2026-01-02".into(), (5, Arc::new(vec![hit("c")])));
        assert_eq!(e.rows(), 3);
        put("db-test", "f", e);
        let e = take("db-test", "f", "def1");
        assert_eq!(
            e.missing(&[("2026-01-01", 5), ("2026-01-02", 6), ("2026-01-03", 1)]),
            ["2026-01-02", "2026-01-03"]
        );
        put("db-test", "f", e);
        let other = take("db-test", "f", "def2");
        assert_eq!(other.rows(), 0, "another definition starts empty");
        let elsewhere = take("db-other", "f", "def1");
        assert_eq!(elsewhere.rows(), 0);
    }
}
