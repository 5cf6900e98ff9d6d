//! The day plan of job `Days`: which UTC days a run recomputes, from each day's own
//! fingerprint, the bridge fingerprints of the midnights next to the changed days (the
//! visitors whose sessions or client retries run across a midnight) and the watermarks
//! the days were committed with.

use std::collections::{BTreeMap, BTreeSet};

use super::range::{date_of_day, parse_date};

/// A midnight without bridge visitors (`fingerprint_bridges.sql` gives it no row).
pub(super) const NO_BRIDGE: &str = "-";

/// The watermark of a day as committed: its own part (hits, goals, output tag), then the
/// fingerprints of the bridge visitors of the midnight before it and of the one after it.
pub(super) fn mark(own: &str, before: &str, after: &str) -> String {
    format!("{own}|{before}|{after}")
}

/// The own part of a day's watermark: the fingerprint of its hits, then `suffix` (goals,
/// output tag) as job `Days` builds it for the run.
pub(super) fn own_part(hits: &str, suffix: &str) -> String {
    format!("{hits}|{suffix}")
}

/// (own, before, after) of a committed watermark; an older format gives no match.
pub(super) fn split_mark(fp: &str) -> Option<(&str, &str, &str)> {
    let mut it = fp.rsplitn(3, '|');
    let (after, before, own) = (it.next()?, it.next()?, it.next()?);
    Some((own, before, after))
}

/// The day after `day` ('YYYY-MM-DD'), or the day before with `step` -1.
pub(super) fn shift(day: &str, step: i64) -> Option<String> {
    parse_date(day).map(|n| date_of_day(n + step))
}

/// The days job `Days` recomputes and the watermark each is committed with.
///
/// `own` holds every day's own part; a day is recomputed when its own part changed (or was
/// never committed, or `force`), and so is a neighbour whose midnight with such a day has
/// other bridge fingerprints (`bridges`, computed for the midnights next to those days, named
/// by the day after them) than the neighbour was committed with: only a bridge visitor's
/// session or client retry runs across a midnight, so a neighbour whose bridge hits did not
/// change keeps its rows. A midnight whose fingerprint was not computed (both its days
/// unchanged) keeps the committed one.
pub(super) fn plan_days(
    own: &BTreeMap<String, String>,
    committed: &BTreeMap<String, String>,
    bridges: &BTreeMap<String, String>,
    force: bool,
) -> BTreeMap<String, String> {
    let old = |day: &str| committed.get(day).and_then(|fp| split_mark(fp));
    let mut days: Vec<&String> = own_changed(own, committed, force);
    for (midnight, fp) in bridges {
        let before = shift(midnight, -1).unwrap_or_default();
        if let Some((d, _)) = own.get_key_value(&before) {
            if old(d).map(|(_, _, a)| a) != Some(fp.as_str()) {
                days.push(d);
            }
        }
        if let Some((d, _)) = own.get_key_value(midnight) {
            if old(d).map(|(_, b, _)| b) != Some(fp.as_str()) {
                days.push(d);
            }
        }
    }
    days.sort();
    days.dedup();
    days.into_iter()
        .map(|d| {
            let after = shift(d, 1).unwrap_or_default();
            let side = |m: &str, committed_side: Option<&str>| {
                bridges
                    .get(m)
                    .map(String::as_str)
                    .or(committed_side)
                    .unwrap_or(NO_BRIDGE)
                    .to_string()
            };
            let before = side(d, old(d).map(|(_, b, _)| b));
            let after = side(&after, old(d).map(|(_, _, a)| a));
            (d.clone(), mark(&own[d], &before, &after))
        })
        .collect()
}

/// The own part of every day for [`plan_days`] when only the `scanned` days were fingerprinted
/// (`fresh`: their own parts; `scanned`: `None` when every day was). A day not fingerprinted
/// got no hit since its mark was committed (`day_parts.rs`), so it keeps that mark's hits
/// fingerprint, with the current `suffix` (goals, output tag: new goals still rerun it). It is
/// never left out: when the day after or before it changed, their midnight's bridge
/// fingerprint must still find it to rerun it.
pub(super) fn with_carried(
    mut fresh: BTreeMap<String, String>,
    committed: &BTreeMap<String, String>,
    scanned: Option<&[String]>,
    suffix: &str,
) -> BTreeMap<String, String> {
    let Some(scanned) = scanned else {
        return fresh;
    };
    let scanned: BTreeSet<&str> = scanned.iter().map(String::as_str).collect();
    for (day, fp) in committed {
        if scanned.contains(day.as_str()) {
            continue;
        }
        if let Some((own, _, _)) = split_mark(fp) {
            let hits = own.split('|').next().unwrap_or(own);
            fresh
                .entry(day.clone())
                .or_insert_with(|| own_part(hits, suffix));
        }
    }
    fresh
}

/// Committed days whose mark is of an older format: their own part cannot be carried, so
/// they are fingerprinted with the days that got hits.
pub(super) fn unreadable_marks(committed: &BTreeMap<String, String>) -> Vec<String> {
    committed
        .iter()
        .filter(|(_, fp)| split_mark(fp).is_none())
        .map(|(d, _)| d.clone())
        .collect()
}

/// Days whose own part differs from the committed watermark (all of them when `force`).
pub(super) fn own_changed<'a>(
    own: &'a BTreeMap<String, String>,
    committed: &BTreeMap<String, String>,
    force: bool,
) -> Vec<&'a String> {
    own.iter()
        .filter(|(d, fp)| {
            force
                || committed
                    .get(*d)
                    .and_then(|c| split_mark(c))
                    .map(|(o, _, _)| o)
                    != Some(fp.as_str())
        })
        .map(|(d, _)| d)
        .collect()
}

/// The midnights (named by the day after them) next to `days`.
pub(super) fn midnights_around<'a>(days: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut out: Vec<String> = days
        .flat_map(|d| [Some(d.clone()), shift(d, 1)])
        .flatten()
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_neighbour_day_reruns_only_when_its_midnight_changed() {
        let own = map(&[
            ("2026-01-01", "a"),
            ("2026-01-02", "b2"),
            ("2026-01-03", "c"),
        ]);
        let committed = map(&[
            ("2026-01-01", "a|-|x"),
            ("2026-01-02", "b|x|y"),
            ("2026-01-03", "c|y|-"),
        ]);
        // Day 2 changed away from its midnights: only day 2, its marks kept.
        let bridges = map(&[("2026-01-02", "x"), ("2026-01-03", "y")]);
        let plan = plan_days(&own, &committed, &bridges, false);
        assert_eq!(plan, map(&[("2026-01-02", "b2|x|y")]));
        // Its hits near the midnight after it changed: day 3 reruns too, day 1 does not.
        let bridges = map(&[("2026-01-02", "x"), ("2026-01-03", "y2")]);
        let plan = plan_days(&own, &committed, &bridges, false);
        assert_eq!(
            plan,
            map(&[("2026-01-02", "b2|x|y2"), ("2026-01-03", "c|y2|-")])
        );
        // Nothing changed: nothing runs (no bridge fingerprints were computed).
        let own = map(&[
            ("2026-01-01", "a"),
            ("2026-01-02", "b"),
            ("2026-01-03", "c"),
        ]);
        assert!(plan_days(&own, &committed, &BTreeMap::new(), false).is_empty());
        // Forced: every day, with the computed marks.
        let bridges = map(&[
            ("2026-01-01", NO_BRIDGE),
            ("2026-01-02", "x"),
            ("2026-01-03", "y"),
            ("2026-01-04", NO_BRIDGE),
        ]);
        assert_eq!(
            plan_days(&own, &committed, &bridges, true),
            committed,
            "a forced run commits the same marks"
        );
    }

    /// Day 2 got hits (the only day fingerprinted); days 1 and 3 are carried from their marks.
    /// Its visitor's hits across the midnight before it changed: day 1 reruns through the
    /// bridge, which it could not if it were left out as absent.
    #[test]
    fn days_not_fingerprinted_are_carried_so_bridges_reach_them() {
        let committed = map(&[
            ("2026-01-01", "1:1:1|g|out3|-|x"),
            ("2026-01-02", "2:2:2|g|out3|x|y"),
            ("2026-01-03", "3:3:3|g|out3|y|-"),
            ("2026-01-04", "old format"),
        ]);
        let fresh = map(&[("2026-01-02", "5:5:5|g|out3")]);
        let scanned = ["2026-01-02".to_string()];
        let own = with_carried(fresh.clone(), &committed, Some(&scanned), "g|out3");
        assert_eq!(
            own,
            map(&[
                ("2026-01-01", "1:1:1|g|out3"),
                ("2026-01-02", "5:5:5|g|out3"),
                ("2026-01-03", "3:3:3|g|out3"),
            ])
        );
        assert_eq!(unreadable_marks(&committed), ["2026-01-04"]);
        let changed: Vec<String> = own_changed(&own, &committed, false)
            .into_iter()
            .cloned()
            .collect();
        assert_eq!(changed, ["2026-01-02"]);
        let bridges = map(&[("2026-01-02", "x2"), ("2026-01-03", "y")]);
        let plan = plan_days(&own, &committed, &bridges, false);
        assert_eq!(
            plan,
            map(&[
                ("2026-01-01", "1:1:1|g|out3|-|x2"),
                ("2026-01-02", "5:5:5|g|out3|x2|y"),
            ])
        );
        // New goals: a carried day's own part changes too, so every day reruns.
        let own = with_carried(fresh.clone(), &committed, Some(&scanned), "g2|out3");
        assert_eq!(own_changed(&own, &committed, false).len(), 3);
        // Every day fingerprinted: nothing carried.
        assert_eq!(
            with_carried(fresh.clone(), &committed, None, "g|out3"),
            fresh
        );
    }

    #[test]
    fn marks_of_an_older_format_do_not_match() {
        assert_eq!(
            split_mark("1:2:3|g|out3|x|y"),
            Some(("1:2:3|g|out3", "x", "y"))
        );
        assert_eq!(split_mark("1:2:3"), None);
        let own = map(&[("2026-01-01", "1:2:3|g|out3")]);
        let committed = map(&[("2026-01-01", "1:2:3|g|out2")]);
        let bridges = map(&[("2026-01-01", NO_BRIDGE), ("2026-01-02", NO_BRIDGE)]);
        assert_eq!(
            plan_days(&own, &committed, &bridges, false),
            map(&[("2026-01-01", "1:2:3|g|out3|-|-")])
        );
    }

    #[test]
    fn midnights_are_named_by_the_day_after_them() {
        let days = ["2026-01-31".to_string(), "2026-02-01".to_string()];
        assert_eq!(
            midnights_around(days.iter()),
            ["2026-01-31", "2026-02-01", "2026-02-02"]
        );
    }
}
