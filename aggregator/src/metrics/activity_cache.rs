//! Every known person's visits and events per UTC day (committed `r_activities`), kept in the
//! aggregator process between runs of job "funnels", whose person steps walk every person's
//! whole timeline whenever any day changed: reading all of them again was 113 ms of a
//! one-minute increment over 10 M hits, where one day changed.
//!
//! A day's rows are kept with the generation of job "days" they were read under; a day whose
//! committed generation moved is read again, a day no longer committed is dropped. Entries
//! are per database, dropped whole when keeping them would pass [`MAX_ROWS`] over all databases.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

/// Most activities kept over all databases together (a visit with its pages is ~200-500 B,
/// so at most ~250 MB next to the funnel hit cache's ~300 MB, within the Helm chart's
/// memory limit). Past it the days are read again every run.
pub const MAX_ROWS: usize = 500_000;

/// One row of `funnel_person_activities.sql`.
#[derive(Debug, Clone, Default, PartialEq, Eq, clickhouse::Row, serde::Deserialize)]
pub struct PersonActivity {
    /// UTC day (`YYYY-MM-DD`), the bucket of job "days".
    pub day: String,
    /// Person.
    pub person_id: String,
    /// Time, Unix ms.
    pub ts_ms: u64,
    /// Activity id (ties of a person's times are ordered by it).
    pub activity_id: u64,
    /// `visit` or `event`.
    pub kind: String,
    /// Event id.
    pub event_id: String,
    /// Event name (events).
    pub event_name: String,
    /// Pages seen (visits).
    pub pages: Vec<String>,
    /// Their times (visits).
    pub page_ts: Vec<u64>,
}

/// Day → (generation of job "days", its activities).
pub type Days = BTreeMap<String, (u64, Arc<Vec<PersonActivity>>)>;

type Store = Mutex<HashMap<String, Days>>;

fn store() -> &'static Store {
    static STORE: OnceLock<Store> = OnceLock::new();
    STORE.get_or_init(Store::default)
}

/// Takes the days held for `database` out (empty if none); give them back with [`put`].
pub fn take(database: &str) -> Days {
    store()
        .lock()
        .ok()
        .and_then(|mut m| m.remove(database))
        .unwrap_or_default()
}

/// Keeps `days` for the next run, unless the rows held would then pass [`MAX_ROWS`].
pub fn put(database: &str, days: Days) {
    put_within(store(), MAX_ROWS, database, days);
}

fn rows(days: &Days) -> usize {
    days.values().map(|(_, v)| v.len()).sum()
}

fn put_within(store: &Store, budget: usize, database: &str, days: Days) {
    let Ok(mut m) = store.lock() else {
        return;
    };
    let others: usize = m
        .iter()
        .filter(|(k, _)| k.as_str() != database)
        .map(|(_, d)| rows(d))
        .sum();
    if others + rows(&days) > budget {
        m.remove(database);
        return;
    }
    m.insert(database.to_string(), days);
}

/// Drops the held days that are not in `wanted` (day, generation) at that generation, and
/// returns the days of `wanted` to read.
pub fn missing<'a>(held: &mut Days, wanted: &[(&'a str, u64)]) -> Vec<&'a str> {
    held.retain(|d, (g, _)| wanted.iter().any(|(w, wg)| *w == d.as_str() && wg == g));
    wanted
        .iter()
        .filter(|(d, _)| !held.contains_key(*d))
        .map(|(d, _)| *d)
        .collect()
}

/// All held activities ordered by person, time and activity id, as one query over every day
/// orders them.
pub fn timelines(held: &Days) -> Vec<&PersonActivity> {
    let mut all: Vec<&PersonActivity> = held.values().flat_map(|(_, v)| v.iter()).collect();
    all.sort_by(|a, b| {
        (&a.person_id, a.ts_ms, a.activity_id).cmp(&(&b.person_id, b.ts_ms, b.activity_id))
    });
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_row_budget_holds_over_all_databases() {
        let store = Store::default();
        let days_of = |n: usize| -> Days {
            let acts = (0..n as u64)
                .map(|i| act("2026-01-01", "p1", i, i))
                .collect();
            BTreeMap::from([("2026-01-01".to_string(), (1, Arc::new(acts)))])
        };
        let held = |db: &str| store.lock().ok().and_then(|m| m.get(db).map(rows));
        put_within(&store, 10, "a", days_of(7));
        put_within(&store, 10, "b", days_of(4));
        assert_eq!((held("a"), held("b")), (Some(7), None));
        put_within(&store, 10, "a", days_of(10));
        assert_eq!(held("a"), Some(10));
        put_within(&store, 10, "a", days_of(11));
        assert_eq!(held("a"), None);
    }

    fn act(day: &str, person: &str, ts: u64, id: u64) -> PersonActivity {
        PersonActivity {
            day: day.into(),
            person_id: person.into(),
            ts_ms: ts,
            activity_id: id,
            ..PersonActivity::default()
        }
    }

    #[test]
    fn moved_and_dropped_days_are_read_again_and_timelines_interleave_days() {
        let mut held = take("db-activity-test");
        assert!(held.is_empty());
        held.insert(
            "2026-01-01".into(),
            (
                3,
                Arc::new(vec![
                    act("2026-01-01", "p2", 50, 1),
                    act("2026-01-01", "p1", 90, 2),
                ]),
            ),
        );
        held.insert(
            "2026-01-02".into(),
            (
                3,
                Arc::new(vec![
                    act("2026-01-02", "p1", 10, 3),
                    act("2026-01-02", "p1", 10, 0),
                ]),
            ),
        );
        held.insert("2026-01-03".into(), (3, Arc::new(Vec::new())));
        let order: Vec<(String, u64)> = timelines(&held)
            .iter()
            .map(|a| (a.person_id.clone(), a.activity_id))
            .collect();
        let expected = [("p1", 0), ("p1", 3), ("p1", 2), ("p2", 1)];
        assert_eq!(
            order,
            expected.map(|(p, i)| (p.to_string(), i)).to_vec(),
            "by person, time, then activity id, across days"
        );
        put("db-activity-test", held);
        let mut held = take("db-activity-test");
        let want = missing(
            &mut held,
            &[("2026-01-01", 3), ("2026-01-02", 4), ("2026-01-04", 1)],
        );
        assert_eq!(want, ["2026-01-02", "2026-01-04"]);
        assert_eq!(
            held.keys().collect::<Vec<_>>(),
            ["2026-01-01"],
            "a moved day and a day no longer committed are dropped"
        );
        assert!(take("db-activity-other").is_empty());
    }
}
