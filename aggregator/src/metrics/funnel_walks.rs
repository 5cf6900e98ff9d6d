//! Each visitor's walk of a funnel over a calendar month, kept in the process between runs of
//! job "funnels" next to the days' matched hits (`funnel_cache.rs`), so a run whose new hits
//! land in the month walks again only the visitors whose hits changed, instead of merging
//! the month's ~1 M cached hits and walking every visitor (~0.45 s of a one-minute increment
//! over 10 M hits).
//!
//! A month's walks are kept with the generation of job "days" of every day they were walked
//! from. When days are read again, the visitors whose hits differ between the cached copy and
//! the new one (`changed_visitors`) are the only ones walked again; if a day moved since the
//! walks without such a comparison (the cache was dropped, a day vanished), the month is
//! walked whole. Only walks that reached step 1 are kept: the others add nothing to any figure.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::funnel::{walk, FunnelDef, FunnelHit, VisitorWalk};
use super::funnel_cache::DayHit;

/// (site, visitor).
pub type VisitorKey = (String, String);

/// The walks of one month span and what they were walked from.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct MonthWalks {
    /// Day → generation of job "days" of the hits walked.
    pub days: BTreeMap<String, u64>,
    /// The walks that reached step 1, by (site, visitor).
    pub walks: BTreeMap<VisitorKey, VisitorWalk>,
}

/// What changed on one day since the copy the process held: the generation of that copy
/// (None: none held) and the visitors whose hits differ (every visitor when none was held).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct DayChange {
    /// Generation of the copy held before.
    pub old: Option<u64>,
    /// Visitors whose hits differ between the two copies.
    pub visitors: BTreeSet<VisitorKey>,
}

fn runs(day: &[DayHit]) -> impl Iterator<Item = &[DayHit]> {
    day.chunk_by(|a, b| a.site == b.site && a.hit.visitor == b.hit.visitor)
}

fn key_of(run: &[DayHit]) -> (&str, &str) {
    run.first()
        .map_or(("", ""), |h| (h.site.as_str(), h.hit.visitor.as_str()))
}

/// The visitors whose hits (every field: a new account or person counts) differ between two
/// copies of one day, each sorted by (site, visitor, ts_ms, event_id).
pub fn changed_visitors(old: &[DayHit], new: &[DayHit]) -> BTreeSet<VisitorKey> {
    let mut before: HashMap<(&str, &str), &[DayHit], foldhash::fast::RandomState> =
        runs(old).map(|r| (key_of(r), r)).collect();
    let mut out = BTreeSet::new();
    for run in runs(new) {
        let key = key_of(run);
        if before.remove(&key) != Some(run) {
            out.insert((key.0.to_string(), key.1.to_string()));
        }
    }
    out.extend(
        before
            .into_keys()
            .map(|(s, v)| (s.to_string(), v.to_string())),
    );
    out
}

/// One visitor's walk from its hits in one or more days (each sorted by site, visitor,
/// ts_ms, event_id): ordered by (ts_ms, event_id), a copy of a hit in a later day after the
/// earlier one (stable), replayed copies next to each other counted once; the person is the
/// first one on its hits, as `funnel::walks` takes it. None if it does not reach step 1.
fn walk_hits(def: &FunnelDef, hits: &mut Vec<&DayHit>) -> Option<VisitorWalk> {
    hits.sort_by(|a, b| (a.hit.ts_ms, &a.hit.event_id).cmp(&(b.hit.ts_ms, &b.hit.event_id)));
    hits.dedup_by(|a, b| a.hit.event_id == b.hit.event_id);
    let refs: Vec<&FunnelHit> = hits.iter().map(|h| &h.hit).collect();
    let times = walk(def, &refs);
    if times.is_empty() {
        return None;
    }
    let known = refs.iter().find(|h| !h.person.is_empty());
    let (person, account) = known
        .map(|h| (h.person.clone(), h.account.clone()))
        .unwrap_or_default();
    Some(VisitorWalk {
        person,
        account,
        times,
    })
}

/// The hits of visitor `key` in a day sorted by (site, visitor, ts_ms, event_id).
fn hits_of<'a>(day: &'a [DayHit], key: (&str, &str)) -> &'a [DayHit] {
    let lo = day.partition_point(|h| (h.site.as_str(), h.hit.visitor.as_str()) < key);
    let n = day[lo..]
        .iter()
        .take_while(|h| (h.site.as_str(), h.hit.visitor.as_str()) == key)
        .count();
    &day[lo..lo + n]
}

/// Walks every visitor of `days` (day, generation, hits sorted by site, visitor, ts_ms,
/// event_id; in day order).
pub fn walk_all(def: &FunnelDef, days: &[(&str, u64, &[DayHit])]) -> MonthWalks {
    let slices: Vec<&[DayHit]> = days.iter().map(|d| d.2).collect();
    let merged = super::funnel_cache::merge_days(&slices);
    let mut walks = BTreeMap::new();
    for group in merged.chunk_by(|a, b| a.site == b.site && a.hit.visitor == b.hit.visitor) {
        let mut hits = group.to_vec();
        if let Some(w) = walk_hits(def, &mut hits) {
            let h = &group[0];
            walks.insert((h.site.clone(), h.hit.visitor.clone()), w);
        }
    }
    MonthWalks {
        days: days.iter().map(|(d, g, _)| (d.to_string(), *g)).collect(),
        walks,
    }
}

/// `held` brought up to `days` (as for [`walk_all`]) by walking again only the visitors that
/// `changes` names for the days whose generation moved; None when a day moved in a way the
/// changes do not describe (then the month must be walked whole).
pub fn update(
    def: &FunnelDef,
    mut held: MonthWalks,
    days: &[(&str, u64, &[DayHit])],
    changes: &BTreeMap<String, DayChange>,
) -> Option<MonthWalks> {
    let now: BTreeMap<&str, u64> = days.iter().map(|(d, g, _)| (*d, *g)).collect();
    let mut affected: BTreeSet<&VisitorKey> = BTreeSet::new();
    let every: BTreeSet<&str> = held
        .days
        .keys()
        .map(String::as_str)
        .chain(now.keys().copied())
        .collect();
    for d in every {
        let (was, is) = (held.days.get(d).copied(), now.get(d).copied());
        if was == is {
            continue;
        }
        let change = changes.get(d)?;
        if is.is_none() || change.old != was {
            return None;
        }
        affected.extend(&change.visitors);
    }
    for key in affected {
        let k = (key.0.as_str(), key.1.as_str());
        let mut hits: Vec<&DayHit> = days
            .iter()
            .flat_map(|(_, _, hits)| hits_of(hits, k))
            .collect();
        match walk_hits(def, &mut hits) {
            Some(w) => held.walks.insert(key.clone(), w),
            None => held.walks.remove(key),
        };
    }
    held.days = now.into_iter().map(|(d, g)| (d.to_string(), g)).collect();
    Some(held)
}

/// The sites with hits in `days` (each sorted by site first), in order.
pub fn sites(days: &[(&str, u64, &[DayHit])]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (_, _, hits) in days {
        let mut at = 0;
        while let Some(h) = hits.get(at) {
            out.insert(h.site.clone());
            at += hits[at..].partition_point(|x| x.site == h.site);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::funnel::walks;

    fn def() -> FunnelDef {
        serde_json::from_str(
            r#"{"steps":[{"name":"a","path":"/a"},{"name":"b","path":"/b*"},
                {"name":"c","event":"go"}],"window_s":600}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 33) % n
        }
    }

    /// A day of hits of visitors v0..v14 on two sites, sorted as the query sorts them;
    /// `salt` varies the ids, `persons` gives some visitors a person.
    fn day(rng: &mut Rng, d: u64, salt: u64) -> Vec<DayHit> {
        let mut out = Vec::new();
        for i in 0..30 {
            let (kind, path, name) = match rng.below(4) {
                0 => ("pageview", "/a", ""),
                1 => ("pageview", "/b/x", ""),
                2 => ("event", "", "go"),
                _ => ("pageview", "/z", ""),
            };
            let v = rng.below(15);
            out.push(DayHit {
                day: format!("d{d}"),
                site: format!("s{}", v % 2),
                hit: FunnelHit {
                    visitor: format!("v{v}"),
                    person: if v.is_multiple_of(4) {
                        format!("p{v}")
                    } else {
                        String::new()
                    },
                    account: if v.is_multiple_of(4) {
                        "acc".into()
                    } else {
                        String::new()
                    },
                    ts_ms: d * 1_000_000 + rng.below(900_000),
                    // Ids repeat within a visitor, within and across days: replayed
                    // copies (a copy is always the same visitor's).
                    event_id: format!("v{v}e{}", (i + salt * 7 + rng.below(3)) % 12),
                    kind: kind.into(),
                    path: path.into(),
                    name: name.into(),
                },
            });
        }
        out.sort_by(|a, b| a.order().cmp(&b.order()));
        out
    }

    /// The walks as job funnels computed them before this cache: every hit of the span
    /// merged, replayed copies dropped, `funnel::walks` per site; those reaching step 1.
    fn reference(def: &FunnelDef, days: &[Vec<DayHit>]) -> BTreeMap<VisitorKey, VisitorWalk> {
        let mut all: Vec<&DayHit> = days.iter().flatten().collect();
        all.sort_by(|a, b| a.order().cmp(&b.order()));
        all.dedup_by(|a, b| a.hit.event_id == b.hit.event_id);
        let mut out = BTreeMap::new();
        for site in all.chunk_by(|a, b| a.site == b.site) {
            let hits: Vec<&FunnelHit> = site.iter().map(|h| &h.hit).collect();
            let visitors: Vec<&str> = hits
                .chunk_by(|a, b| a.visitor == b.visitor)
                .map(|g| g[0].visitor.as_str())
                .collect();
            for (w, v) in walks(def, &hits).into_iter().zip(visitors) {
                if !w.times.is_empty() {
                    out.insert((site[0].site.clone(), v.to_string()), w);
                }
            }
        }
        out
    }

    fn view(days: &[Vec<DayHit>], gens: &[u64]) -> Vec<(String, u64, Vec<DayHit>)> {
        days.iter()
            .zip(gens)
            .enumerate()
            .map(|(i, (d, g))| (format!("d{i}"), *g, d.clone()))
            .collect()
    }

    #[test]
    fn updated_walks_equal_walking_the_whole_month() {
        let def = def();
        // Seeds whose walks go past step 1 (the comparison is not only of first steps).
        let mut deep = 0;
        for seed in 0..40 {
            let mut rng = Rng(seed);
            let mut days: Vec<Vec<DayHit>> = (0..4).map(|d| day(&mut rng, d, d)).collect();
            let mut gens = vec![1u64; 4];
            let owned = view(&days, &gens);
            let slices: Vec<(&str, u64, &[DayHit])> = owned
                .iter()
                .map(|(d, g, h)| (d.as_str(), *g, h.as_slice()))
                .collect();
            let mut held = walk_all(&def, &slices);
            assert_eq!(held.walks, reference(&def, &days), "seed {seed}");
            deep += usize::from(held.walks.values().any(|w| w.times.len() > 1));
            // Three increments, each changing one or two days (new hits, a day's hits
            // replaced, a person appearing) and sometimes adding a day.
            for round in 0..3u64 {
                let mut changes = BTreeMap::new();
                for _ in 0..1 + rng.below(2) {
                    let d = rng.below(days.len() as u64 + 1) as usize;
                    let old = days.get(d).cloned();
                    let mut new = old.clone().unwrap_or_default();
                    match rng.below(3) {
                        0 => new = day(&mut rng, d as u64, 10 + round),
                        1 => {
                            let mut more = day(&mut rng, d as u64, 20 + round);
                            more.truncate(3);
                            new.extend(more);
                        }
                        _ => {
                            if let Some(h) = new.first_mut() {
                                h.hit.person = "late".into();
                            }
                        }
                    }
                    new.sort_by(|a, b| a.order().cmp(&b.order()));
                    let old_gen = if d < days.len() { Some(gens[d]) } else { None };
                    let change = DayChange {
                        old: changes
                            .get(&format!("d{d}"))
                            .map_or(old_gen, |c: &DayChange| c.old),
                        visitors: changed_visitors(old.as_deref().unwrap_or(&[]), &new)
                            .into_iter()
                            .chain(
                                changes
                                    .get(&format!("d{d}"))
                                    .map(|c: &DayChange| c.visitors.clone())
                                    .unwrap_or_default(),
                            )
                            .collect(),
                    };
                    changes.insert(format!("d{d}"), change);
                    if d < days.len() {
                        days[d] = new;
                        gens[d] += 1;
                    } else {
                        days.push(new);
                        gens.push(1);
                    }
                }
                let owned = view(&days, &gens);
                let slices: Vec<(&str, u64, &[DayHit])> = owned
                    .iter()
                    .map(|(d, g, h)| (d.as_str(), *g, h.as_slice()))
                    .collect();
                held = update(&def, held, &slices, &changes)
                    .unwrap_or_else(|| panic!("seed {seed}: described changes"));
                assert_eq!(
                    held.walks,
                    reference(&def, &days),
                    "seed {seed} round {round}"
                );
                assert_eq!(held, walk_all(&def, &slices), "seed {seed} round {round}");
            }
        }
        assert!(deep > 20, "{deep} of 40 seeds");
    }

    #[test]
    fn an_undescribed_change_walks_the_month_again() {
        let def = def();
        let mut rng = Rng(7);
        let days: Vec<Vec<DayHit>> = (0..2).map(|d| day(&mut rng, d, d)).collect();
        let owned = view(&days, &[1, 1]);
        let slices: Vec<(&str, u64, &[DayHit])> = owned
            .iter()
            .map(|(d, g, h)| (d.as_str(), *g, h.as_slice()))
            .collect();
        let held = walk_all(&def, &slices);
        let moved = view(&days, &[1, 2]);
        let moved: Vec<(&str, u64, &[DayHit])> = moved
            .iter()
            .map(|(d, g, h)| (d.as_str(), *g, h.as_slice()))
            .collect();
        assert!(update(&def, held.clone(), &moved, &BTreeMap::new()).is_none());
        // Described, but from another generation than the walks were made of.
        let stale = BTreeMap::from([(
            "d1".to_string(),
            DayChange {
                old: Some(5),
                visitors: BTreeSet::new(),
            },
        )]);
        assert!(update(&def, held.clone(), &moved, &stale).is_none());
        // A day gone from the month.
        assert!(update(&def, held, &moved[..1], &BTreeMap::new()).is_none());
        assert_eq!(sites(&slices).into_iter().collect::<Vec<_>>(), ["s0", "s1"]);
    }

    #[test]
    fn changed_visitors_are_those_whose_hits_differ() {
        let mut rng = Rng(3);
        let old = day(&mut rng, 0, 0);
        assert!(changed_visitors(&old, &old).is_empty());
        let mut new = old.clone();
        new[0].hit.account = "other".into();
        let key = (new[0].site.clone(), new[0].hit.visitor.clone());
        assert_eq!(changed_visitors(&old, &new), BTreeSet::from([key.clone()]));
        // Gone, or new: changed too.
        let without: Vec<DayHit> = old
            .iter()
            .filter(|h| (h.site.clone(), h.hit.visitor.clone()) != key)
            .cloned()
            .collect();
        assert_eq!(
            changed_visitors(&old, &without),
            BTreeSet::from([key.clone()])
        );
        assert_eq!(changed_visitors(&without, &old), BTreeSet::from([key]));
    }
}
