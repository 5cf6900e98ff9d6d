//! Funnels: the definition (`PUT /api/funnels/{name}`) and the walk of each visitor through
//! the ordered steps (pure; the hits come sorted from `sql/queries/funnel_hits.sql`).
//!
//! Rule: a visitor reaches step k when, after a hit matching step 1, hits matching steps
//! 2..k follow in order (ordered by ts_ms then event_id), all within `window_s` of the step-1
//! hit. Every step-1 hit is tried as a start and the deepest path wins (the earliest on a tie),
//! like ClickHouse's windowFunnel; each later step takes the first matching hit after the
//! previous step. A person reaches what the deepest of their visitors reaches.

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// Most steps a funnel may have.
pub const MAX_STEPS: usize = 20;
/// Longest conversion window: 90 days.
pub const MAX_WINDOW_S: u64 = 90 * 86_400;

/// A funnel as stored in `funnels.definition`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunnelDef {
    /// The ordered steps.
    pub steps: Vec<StepDef>,
    /// Conversion window from the first step, seconds.
    pub window_s: u64,
}

/// One step: a page path (exact, or a prefix when it ends in `*`) or a custom event name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepDef {
    /// Shown in results.
    pub name: String,
    /// Page path pattern.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Custom event name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
}

impl FunnelDef {
    /// Checks a definition; the error names the field (`steps[2].path`, `window_s`).
    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.steps.is_empty() || self.steps.len() > MAX_STEPS {
            return Err((
                "steps".into(),
                format!("a funnel has 1 to {MAX_STEPS} steps"),
            ));
        }
        if self.window_s == 0 || self.window_s > MAX_WINDOW_S {
            return Err((
                "window_s".into(),
                format!("`window_s` must be 1..={MAX_WINDOW_S} seconds"),
            ));
        }
        for (i, s) in self.steps.iter().enumerate() {
            if s.name.is_empty() || s.name.len() > 128 {
                return Err((format!("steps[{i}].name"), "1-128 characters".into()));
            }
            match (&s.path, &s.event) {
                (Some(p), None) if p.starts_with('/') && p.len() <= 1024 => {}
                (Some(_), None) => {
                    return Err((format!("steps[{i}].path"), "must start with '/'".into()))
                }
                (None, Some(e)) if !e.is_empty() && e.len() <= 128 => {}
                (None, Some(_)) => {
                    return Err((format!("steps[{i}].event"), "1-128 characters".into()))
                }
                _ => {
                    return Err((
                        format!("steps[{i}]"),
                        "a step has exactly one of `path` or `event`".into(),
                    ))
                }
            }
        }
        Ok(())
    }

    /// Exact paths, path prefixes and event names of all steps (the query's filter).
    pub fn filters(&self) -> (Vec<String>, Vec<String>, Vec<String>) {
        let (mut exact, mut prefixes, mut events) = (vec![], vec![], vec![]);
        for s in &self.steps {
            match (&s.path, &s.event) {
                (Some(p), _) => match p.strip_suffix('*') {
                    Some(prefix) => prefixes.push(prefix.to_string()),
                    None => exact.push(p.clone()),
                },
                (None, Some(e)) => events.push(e.clone()),
                (None, None) => {}
            }
        }
        (exact, prefixes, events)
    }
}

impl StepDef {
    fn matches(&self, hit: &FunnelHit) -> bool {
        match (&self.path, &self.event) {
            (Some(p), _) if hit.kind == "pageview" => match p.strip_suffix('*') {
                Some(prefix) => hit.path.starts_with(prefix),
                None => hit.path == *p,
            },
            (None, Some(e)) => hit.kind == "event" && hit.name == *e,
            _ => false,
        }
    }
}

/// One matching hit, as `funnel_hits.sql` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FunnelHit {
    /// Visitor id.
    pub visitor: String,
    /// Person on the hit ('' if none).
    pub person: String,
    /// That person's account ('' if none).
    pub account: String,
    /// Unix ms.
    pub ts_ms: u64,
    /// Event id (tie-break of the order).
    pub event_id: String,
    /// `pageview` or `event`.
    pub kind: String,
    /// Page path.
    pub path: String,
    /// Event name.
    pub name: String,
}

/// One visit or event of a person's activity timeline, as a funnel walks it.
pub struct TimelineEntry<'a> {
    /// `visit` or `event` (other kinds are no funnel steps).
    pub kind: &'a str,
    /// The visit's or event's id.
    pub event_id: &'a str,
    /// The event's time, Unix ms.
    pub ts_ms: u64,
    /// The event's name.
    pub event_name: &'a str,
    /// The visit's pages and their times.
    pub pages: &'a [String],
    pub page_ts: &'a [u64],
}

/// The [`TimelineEntry`] of an activity row: the API's timeline rows and job "funnels"' rows
/// are different structs with these same columns.
macro_rules! timeline_entry {
    ($a:expr) => {
        $crate::metrics::funnel::TimelineEntry {
            kind: &$a.kind,
            event_id: &$a.event_id,
            ts_ms: $a.ts_ms,
            event_name: &$a.event_name,
            pages: &$a.pages,
            page_ts: &$a.page_ts,
        }
    };
}
pub(crate) use timeline_entry;

/// A person's timeline as funnel hits, sorted (one person = one walker): each page of a
/// visit a pageview (event id `{visit id}#{i}`, unique and in page order), each event an
/// event. The API's timeline and job "funnels" walk the same hits this way.
pub fn timeline_hits<'a>(entries: impl IntoIterator<Item = TimelineEntry<'a>>) -> Vec<FunnelHit> {
    let mut hits = Vec::new();
    for a in entries {
        match a.kind {
            "visit" => {
                for (i, (p, t)) in a.pages.iter().zip(a.page_ts).enumerate() {
                    hits.push(FunnelHit {
                        ts_ms: *t,
                        event_id: format!("{}#{i}", a.event_id),
                        kind: "pageview".into(),
                        path: p.clone(),
                        ..FunnelHit::default()
                    });
                }
            }
            "event" => hits.push(FunnelHit {
                ts_ms: a.ts_ms,
                event_id: a.event_id.to_string(),
                kind: "event".into(),
                name: a.event_name.to_string(),
                ..FunnelHit::default()
            }),
            _ => {}
        }
    }
    hits.sort_by(|a, b| (a.ts_ms, &a.event_id).cmp(&(b.ts_ms, &b.event_id)));
    hits
}

/// Per-step figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepStat {
    /// Step name.
    pub name: String,
    /// Visitors that reached the step.
    pub visitors: u64,
    /// Known persons that reached it.
    pub persons: u64,
    /// visitors / visitors of the previous step (1 for the first step with visitors).
    pub conversion_from_previous: f64,
    /// visitors / visitors of the first step.
    pub conversion_overall: f64,
    /// Median time from the previous step, seconds (the value at index floor(n/2) of the
    /// sorted times, like ClickHouse quantileExact); none for step 1.
    pub median_s_from_previous: Option<f64>,
}

/// What the walk found: per-step figures and how deep each known person got.
#[derive(Debug, Clone, PartialEq)]
pub struct FunnelOutcome {
    /// Figures per step.
    pub steps: Vec<StepStat>,
    /// Known person → (account, steps reached) for persons who reached at least step 1.
    pub person_levels: BTreeMap<String, (String, usize)>,
}

/// Step times of the deepest path of one visitor's hits (sorted by ts_ms, event_id), given
/// as hits or references to them.
pub fn walk<H: Borrow<FunnelHit>>(def: &FunnelDef, hits: &[H]) -> Vec<u64> {
    let window_ms = def.window_s.saturating_mul(1000);
    let mut best: Vec<u64> = Vec::new();
    for (start, first) in hits.iter().map(Borrow::borrow).enumerate() {
        if !def.steps[0].matches(first) {
            continue;
        }
        let mut times = vec![first.ts_ms];
        let mut pos = start;
        for step in &def.steps[1..] {
            let next = hits[pos + 1..]
                .iter()
                .map(Borrow::borrow)
                .position(|h: &FunnelHit| {
                    h.ts_ms.saturating_sub(first.ts_ms) <= window_ms && step.matches(h)
                });
            match next {
                Some(off) => {
                    pos += 1 + off;
                    times.push(hits[pos].borrow().ts_ms);
                }
                None => break,
            }
        }
        if times.len() > best.len() {
            best = times;
            if best.len() == def.steps.len() {
                break;
            }
        }
    }
    best
}

/// One visitor's walk: its known person and account ('' if none) and the step times reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitorWalk {
    /// Person on one of the visitor's hits ('' if none).
    pub person: String,
    /// That person's account.
    pub account: String,
    /// Times of the steps reached, Unix ms (empty: not even step 1).
    pub times: Vec<u64>,
}

/// Walks every visitor (hits, or references to them, sorted by visitor, ts_ms, event_id)
/// once.
pub fn walks<H: Borrow<FunnelHit>>(def: &FunnelDef, hits: &[H]) -> Vec<VisitorWalk> {
    hits.chunk_by(|a, b| a.borrow().visitor == b.borrow().visitor)
        .map(|group| {
            let known = group
                .iter()
                .map(Borrow::borrow)
                .find(|h: &&FunnelHit| !h.person.is_empty());
            let (person, account) = known
                .map(|h| (h.person.clone(), h.account.clone()))
                .unwrap_or_default();
            VisitorWalk {
                person,
                account,
                times: walk(def, group),
            }
        })
        .collect()
}

/// Walks every visitor (hits sorted by visitor, ts_ms, event_id); `account` ('' = all)
/// keeps only visitors whose person belongs to that account.
pub fn evaluate(def: &FunnelDef, hits: &[FunnelHit], account: &str) -> FunnelOutcome {
    let all = walks(def, hits);
    summarize(
        def,
        all.iter()
            .filter(|w| account.is_empty() || w.account == account),
    )
}

/// Per-step figures and person levels of some visitors' walks.
pub fn summarize<'a>(
    def: &FunnelDef,
    walks: impl Iterator<Item = &'a VisitorWalk>,
) -> FunnelOutcome {
    let n = def.steps.len();
    let mut reached = vec![0u64; n];
    let mut persons: Vec<BTreeSet<&str>> = vec![BTreeSet::new(); n];
    let mut gaps: Vec<Vec<u64>> = vec![Vec::new(); n];
    let mut person_levels: BTreeMap<String, (String, usize)> = BTreeMap::new();
    for w in walks {
        let times = &w.times;
        for (k, t) in times.iter().enumerate().take(n) {
            reached[k] += 1;
            if !w.person.is_empty() {
                persons[k].insert(&w.person);
            }
            if k > 0 {
                gaps[k].push(t - times[k - 1]);
            }
        }
        if !w.person.is_empty() && !times.is_empty() {
            let e = person_levels
                .entry(w.person.clone())
                .or_insert_with(|| (w.account.clone(), 0));
            e.1 = e.1.max(times.len().min(n));
        }
    }
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let steps = (0..n)
        .map(|k| {
            let mut g = std::mem::take(&mut gaps[k]);
            g.sort_unstable();
            StepStat {
                name: def.steps[k].name.clone(),
                visitors: reached[k],
                persons: persons[k].len() as u64,
                conversion_from_previous: if k == 0 {
                    ratio(reached[0], reached[0])
                } else {
                    ratio(reached[k], reached[k - 1])
                },
                conversion_overall: ratio(reached[k], reached[0]),
                median_s_from_previous: (k > 0 && !g.is_empty())
                    .then(|| g[g.len() / 2] as f64 / 1000.0),
            }
        })
        .collect();
    FunnelOutcome {
        steps,
        person_levels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def() -> FunnelDef {
        serde_json::from_str(
            r#"{"steps":[{"name":"home","path":"/"},{"name":"blog","path":"/blog/*"},
                {"name":"signup","event":"signup"}],"window_s":600}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn hit(visitor: &str, person: &str, ts_s: u64, kind: &str, what: &str) -> FunnelHit {
        FunnelHit {
            visitor: visitor.into(),
            person: person.into(),
            account: if person.is_empty() { "" } else { "acc" }.into(),
            ts_ms: ts_s * 1000,
            event_id: format!("{visitor}-{ts_s}"),
            kind: kind.into(),
            path: if kind == "pageview" {
                what.into()
            } else {
                String::new()
            },
            name: if kind == "event" {
                what.into()
            } else {
                String::new()
            },
        }
    }

    #[test]
    fn walks_in_order_within_the_window() {
        let d = def();
        let hits = vec![
            // v1: all three steps.
            hit("v1", "p1", 0, "pageview", "/"),
            hit("v1", "p1", 10, "pageview", "/blog/x"),
            hit("v1", "p1", 70, "event", "signup"),
            // v2: blog before home does not count; then home, blog: 2 steps.
            hit("v2", "p2", 0, "pageview", "/blog/y"),
            hit("v2", "p2", 5, "pageview", "/"),
            hit("v2", "p2", 25, "pageview", "/blog/z"),
            // v3: signup outside the window of its only start.
            hit("v3", "", 0, "pageview", "/"),
            hit("v3", "", 100, "pageview", "/blog/a"),
            hit("v3", "", 700, "event", "signup"),
            // v4: a later start reaches deeper than the first one.
            hit("v4", "p4", 0, "pageview", "/"),
            hit("v4", "p4", 1000, "pageview", "/"),
            hit("v4", "p4", 1030, "pageview", "/blog/b"),
        ];
        let out = evaluate(&d, &hits, "");
        let v: Vec<u64> = out.steps.iter().map(|s| s.visitors).collect();
        assert_eq!(v, [4, 4, 1]);
        assert_eq!(out.steps[1].persons, 3);
        // gaps step 2: v1 10 s, v2 20 s, v3 100 s, v4 30 s → sorted [10,20,30,100], index 2.
        assert_eq!(out.steps[1].median_s_from_previous, Some(30.0));
        assert_eq!(out.steps[2].median_s_from_previous, Some(60.0));
        assert_eq!(out.steps[2].conversion_from_previous, 0.25);
        assert_eq!(out.person_levels["p1"].1, 3);
        assert_eq!(out.person_levels["p2"].1, 2);
        assert_eq!(out.person_levels["p4"].1, 2);
        let only = evaluate(&d, &hits, "other");
        assert_eq!(only.steps[0].visitors, 0);
    }

    #[test]
    fn validation_names_the_field() {
        let mut d = def();
        assert!(d.validate().is_ok());
        d.steps[1].path = Some("blog".into());
        assert_eq!(d.validate().map_err(|e| e.0), Err("steps[1].path".into()));
        d = def();
        d.window_s = 0;
        assert_eq!(d.validate().map_err(|e| e.0), Err("window_s".into()));
        d = def();
        d.steps[2].path = Some("/x".into());
        assert_eq!(d.validate().map_err(|e| e.0), Err("steps[2]".into()));
        assert_eq!(
            def().filters(),
            (
                vec!["/".into()],
                vec!["/blog/".into()],
                vec!["signup".into()]
            )
        );
    }
}
