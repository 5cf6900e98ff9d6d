//! The day fingerprints of job `Days`' watermark: a run fingerprints again only the days of the
//! parts of `hits` written since its last committed run, found by block number in
//! `system.parts`, and carries every other day's from its committed mark, instead of
//! fingerprinting every day's hits on every run (a scan that grew with the table: 0.13–0.18 s
//! of each one-minute refresh at 10 M hits).
//!
//! Why block numbers and not a window of recent days: the collector's spool replays old
//! batches with their original `received_at`, hours or days late, and those land in parts of
//! their own like any insert, so they are found on the next run however old their days are;
//! a window would miss them until some periodic full scan. A non-replicated MergeTree numbers
//! an insert's part above every earlier one at the moment it becomes visible, a merge keeps the
//! newest number of its sources and adds no hit (it only folds replayed copies), so every hit
//! written after a run lies in a part numbered above what that run saw. Merges of old parts need no new
//! fingerprint (same hits); a merge of new and old parts fingerprints the old part's days too,
//! which only costs time. Where the numbers do not tell, every day is fingerprinted as before:
//! a Distributed `hits` (cluster mode: its parts are on the shards), a replicated one (a part
//! fetched from another replica can carry a lower number than one already here), a new or
//! running mutation (it renumbers old parts with a number that can be below later inserts),
//! numbers that went down (table recreated, newest part detached), a server restart (it numbers
//! new parts from the highest block left on disk, so numbers seen can come again when the
//! newest parts are gone), a forced run, or no committed parts watermark yet.

use std::collections::{BTreeMap, BTreeSet};

use clickhouse::Client;

use super::day_plan::{own_part, unreadable_marks, with_carried};
use super::queries;
use super::range::{date_of_day, parse_date};

/// The name in `r_generations.job` of the parts watermark, committed after job `Days`, as
/// the one bucket [`BUCKET`].
pub(super) const JOB: &str = "days_parts";

/// The one bucket of [`JOB`].
pub(super) const BUCKET: &str = "hits";

/// Days one part may span before it is taken for an unusual partition key and every day is
/// fingerprinted instead (a monthly partition spans at most 31).
const MAX_PART_DAYS: i64 = 62;

/// One active part of `hits` (`fingerprint_parts.sql`).
#[derive(Debug, Clone, PartialEq, Eq, clickhouse::Row, serde::Deserialize)]
pub(super) struct Part {
    /// Its partition (`partition_id`): block numbers are compared within one.
    pub partition: String,
    /// The newest block number in it (a mutated part's: the mutation's).
    pub block: u64,
    /// The UTC day of its earliest `received_at`.
    pub first_day: String,
    /// The UTC day of its latest `received_at`.
    pub last_day: String,
    /// The table engine: only a non-replicated MergeTree numbers parts in commit order.
    pub engine: String,
}

/// The mutations of `hits` (`fingerprint_mutations.sql`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clickhouse::Row, serde::Deserialize)]
pub(super) struct Mutations {
    /// How many the server lists.
    pub count: u64,
    /// How many of them are still rewriting parts.
    pub running: u64,
    /// Sum of their ids' hashes: a new one changes it even when an old one is forgotten.
    pub ids: u64,
}

/// How far apart two readings of the server's start time may be and still be the same start
/// (`now() - uptime()` jitters by a second).
const START_JITTER_S: u64 = 5;

/// How often every day is fingerprinted anyway (seconds): a safety net that heals, within
/// the hour, a day left stale by what the block numbers cannot show (two aggregators
/// refreshing at once, which the Helm chart never runs; see README), for one full scan an
/// hour (0.1–0.5 s at 10 M hits).
pub(super) const FULL_SCAN_EVERY_S: u64 = 3600;

/// What `hits` looked like to the last committed run of job `Days`: the server's start time,
/// its mutations and the newest block number of each partition. Every hit in a part numbered
/// at or below that is in the day fingerprints committed then or later. Also when every day
/// was last fingerprinted (host clock, Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PartsMark {
    started: u64,
    full_at: u64,
    mutations: String,
    blocks: BTreeMap<String, u64>,
}

impl PartsMark {
    fn of(parts: &[Part], mutations: &Mutations, started: u64) -> Self {
        let mut blocks: BTreeMap<String, u64> = BTreeMap::new();
        for p in parts {
            let newest = blocks.entry(p.partition.clone()).or_default();
            *newest = (*newest).max(p.block);
        }
        PartsMark {
            started,
            full_at: 0,
            mutations: format!("{}:{}", mutations.count, mutations.ids),
            blocks,
        }
    }

    /// `s=STARTED;f=FULL_AT;m=COUNT:IDS;PARTITION=BLOCK,…` (partition ids are digits, hex or
    /// `-`-joined).
    pub(super) fn encode(&self) -> String {
        let blocks: Vec<String> = self
            .blocks
            .iter()
            .map(|(p, b)| format!("{p}={b}"))
            .collect();
        format!(
            "s={};f={};m={};{}",
            self.started,
            self.full_at,
            self.mutations,
            blocks.join(",")
        )
    }

    /// The mark [`Self::encode`] wrote; `None` for anything else (then every day is
    /// fingerprinted once and a new mark committed).
    pub(super) fn parse(text: &str) -> Option<Self> {
        let (started, rest) = text.strip_prefix("s=")?.split_once(';')?;
        let (full_at, rest) = rest.strip_prefix("f=")?.split_once(';')?;
        let (m, blocks) = rest.strip_prefix("m=")?.split_once(';')?;
        let blocks = blocks
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|pb| {
                let (p, b) = pb.split_once('=')?;
                Some((p.to_string(), b.parse().ok()?))
            })
            .collect::<Option<BTreeMap<String, u64>>>()?;
        Some(PartsMark {
            started: started.parse().ok()?,
            full_at: full_at.parse().ok()?,
            mutations: m.to_string(),
            blocks,
        })
    }
}

impl PartsMark {
    /// Whether the run at `now_s` fingerprints every day as the hourly safety net (a clock that
    /// went back counts as due too).
    pub(super) fn full_scan_due(seen: Option<&Self>, now_s: u64) -> bool {
        seen.is_some_and(|s| now_s.abs_diff(s.full_at) >= FULL_SCAN_EVERY_S)
    }

    /// This mark as committed after a run at `now_s` that fingerprinted `scan`: a full scan
    /// restarts the hour, a partial one keeps the time of the last full one.
    fn scanned(self, scan: &Scan, seen: Option<&Self>, now_s: u64) -> Self {
        let full_at = match (scan, seen) {
            (Scan::Days(_), Some(s)) => s.full_at,
            _ => now_s,
        };
        PartsMark { full_at, ..self }
    }
}

/// The days a run fingerprints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Scan {
    /// Every day's hits.
    All,
    /// Only these days ('YYYY-MM-DD', sorted); every other day is as committed.
    Days(Vec<String>),
}

/// What job `Days` fingerprints, from the server's start time, the parts and mutations of
/// `hits` read now (in that order) and the mark of the last committed run (`seen`), and the
/// mark to commit once this run's days are committed (`None`: commit none, the next run
/// decides again).
pub(super) fn plan_scan(
    (started, mutations, parts): (u64, &Mutations, &[Part]),
    seen: Option<&PartsMark>,
    force: bool,
) -> (Scan, Option<PartsMark>) {
    let numbered = !parts.is_empty()
        && parts
            .iter()
            .all(|p| p.engine.ends_with("MergeTree") && !p.engine.starts_with("Replicated"));
    if !numbered {
        return (Scan::All, None);
    }
    // The same start read again keeps the seen value, so the mark does not change with the
    // jitter; another start means a restart, after which numbers seen may be reused.
    let same_start = seen.filter(|s| s.started.abs_diff(started) <= START_JITTER_S);
    let now = PartsMark::of(parts, mutations, same_start.map_or(started, |s| s.started));
    // A running mutation may still renumber parts below blocks seen now: nothing is
    // committed until it is done, so the run after it fingerprints everything again.
    let next = (mutations.running == 0).then(|| now.clone());
    let Some(seen) = same_start.filter(|s| !force && s.mutations == now.mutations) else {
        return (Scan::All, next);
    };
    if mutations.running > 0 {
        return (Scan::All, next);
    }
    // Numbers only grow within a partition that keeps its parts; lower ones mean parts went
    // away (the table recreated, a part detached), and what was seen says nothing.
    let went_down = now
        .blocks
        .iter()
        .any(|(p, b)| seen.blocks.get(p).is_some_and(|s| b < s));
    if went_down {
        return (Scan::All, next);
    }
    let mut days = BTreeSet::new();
    for p in parts {
        if p.block <= seen.blocks.get(&p.partition).copied().unwrap_or(0) {
            continue;
        }
        let (Some(first), Some(last)) = (parse_date(&p.first_day), parse_date(&p.last_day)) else {
            return (Scan::All, next);
        };
        if last < first || last - first >= MAX_PART_DAYS {
            return (Scan::All, next);
        }
        days.extend(first..=last);
    }
    (
        Scan::Days(days.into_iter().map(date_of_day).collect()),
        next,
    )
}

/// The parts mark a run of job `Days` commits after its days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NextMark {
    mark: PartsMark,
    /// It differs from the committed one.
    new: bool,
}

/// Which days job `Days` fingerprints this run, and the parts mark to commit after it. The
/// mutations are read before the parts: one that
/// starts between the two reads is new to the next run, which then fingerprints every day
/// once it is done, so parts it rewrites under a number below what this run saw are not
/// missed.
pub(super) async fn scan_plan(
    ch: &Client,
    force: bool,
) -> Result<(Scan, Option<NextMark>), clickhouse::error::Error> {
    let started: u64 = ch.query(queries::FINGERPRINT_SERVER).fetch_one().await?;
    let mutations: Mutations = ch.query(queries::FINGERPRINT_MUTATIONS).fetch_one().await?;
    let parts: Vec<Part> = ch.query(queries::FINGERPRINT_PARTS).fetch_all().await?;
    let seen = ch
        .query(queries::COMMITTED_FINGERPRINTS)
        .bind(JOB)
        .fetch_all::<(String, String, u64)>()
        .await?
        .into_iter()
        .find(|(bucket, _, _)| bucket == BUCKET)
        .and_then(|(_, fp, _)| PartsMark::parse(&fp));
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let due = PartsMark::full_scan_due(seen.as_ref(), now_s);
    let (scan, next) = plan_scan((started, &mutations, &parts), seen.as_ref(), force || due);
    let next = next.map(|mark| mark.scanned(&scan, seen.as_ref(), now_s));
    Ok((
        scan,
        next.map(|mark| NextMark {
            new: Some(&mark) != seen.as_ref(),
            mark,
        }),
    ))
}

/// The own part of every day's watermark (hits fingerprint, goals, output tag): fingerprinted
/// now for the days of `scan` (and any day whose committed mark is unreadable), carried from
/// the committed marks for the others. The number of days fingerprinted comes along (`None`:
/// all).
pub(super) async fn own_parts(
    ch: &Client,
    scan: Scan,
    committed: &BTreeMap<String, String>,
    suffix: &str,
) -> Result<(BTreeMap<String, String>, Option<usize>), clickhouse::error::Error> {
    let listed = match scan {
        Scan::All => None,
        Scan::Days(mut days) => {
            days.extend(unreadable_marks(committed));
            days.sort();
            days.dedup();
            Some(days)
        }
    };
    let fresh: BTreeMap<String, String> = if listed.as_ref().is_some_and(Vec::is_empty) {
        BTreeMap::new()
    } else {
        ch.query(queries::FINGERPRINT_DAYS)
            .bind(u8::from(listed.is_none()))
            .bind(listed.as_deref().unwrap_or_default())
            .fetch_all::<(String, String)>()
            .await?
            .into_iter()
            .map(|(day, hits)| (day, own_part(&hits, suffix)))
            .collect()
    };
    let own = with_carried(fresh, committed, listed.as_deref(), suffix);
    Ok((own, listed.map(|d| d.len())))
}

/// Commits the parts mark of a run of job `Days`, after its days (`None`: none to commit),
/// when it is new or the run wrote days (`wrote_days`). The latter even when the mark is the
/// committed one: versions are wall-clock time, so a run may commit days under a higher
/// version than a later run that saw more parts; its days win, and so must its mark, or the
/// later run's mark would claim hits those days lack and they would never be fingerprinted.
pub(super) async fn commit_parts_mark(
    ch: &Client,
    version: u64,
    next: Option<NextMark>,
    wrote_days: bool,
) -> Result<(), clickhouse::error::Error> {
    let Some(NextMark { mark, new }) = next else {
        return Ok(());
    };
    if !new && !wrote_days {
        return Ok(());
    }
    ch.query(queries::COMMIT_GENERATIONS)
        .bind(JOB)
        .bind(version)
        .bind(vec![BUCKET])
        .bind(vec![mark.encode()])
        .execute()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(partition: &str, block: u64, first: &str, last: &str) -> Part {
        Part {
            partition: partition.into(),
            block,
            first_day: first.into(),
            last_day: last.into(),
            engine: "ReplacingMergeTree".into(),
        }
    }

    /// When the test's server started.
    const T0: u64 = 1_767_225_600;

    const NONE: Mutations = Mutations {
        count: 0,
        running: 0,
        ids: 0,
    };

    /// A month merged into one part (blocks up to 10), plus what the test adds.
    fn month() -> Vec<Part> {
        vec![part("202601", 10, "2026-01-01", "2026-01-30")]
    }

    fn seen_month() -> PartsMark {
        PartsMark::of(&month(), &NONE, T0)
    }

    fn days(d: &[&str]) -> Scan {
        Scan::Days(d.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn only_the_days_of_newer_parts_are_fingerprinted() {
        let seen = seen_month();
        // Nothing new: no day.
        let (scan, next) = plan_scan((T0, &NONE, &month()), Some(&seen), false);
        assert_eq!(scan, days(&[]));
        assert_eq!(next.as_ref(), Some(&seen));
        // A minute of hits on the last day and a late replay into an old day, each its part.
        let mut parts = month();
        parts.push(part("202601", 11, "2026-01-30", "2026-01-30"));
        parts.push(part("202601", 12, "2026-01-03", "2026-01-03"));
        let (scan, next) = plan_scan((T0, &NONE, &parts), Some(&seen), false);
        assert_eq!(scan, days(&["2026-01-03", "2026-01-30"]));
        assert_eq!(next.map(|m| m.blocks["202601"]), Some(12));
        // Merged into the month's part: every day of it (same hits, more work, none missed).
        let merged = vec![part("202601", 12, "2026-01-01", "2026-01-30")];
        let (scan, _) = plan_scan((T0, &NONE, &merged), Some(&seen), false);
        assert_eq!(
            scan,
            Scan::Days((1..=30).map(|d| format!("2026-01-{d:02}")).collect())
        );
        // A late replay into a month seen before, and a new month: both found.
        let mut parts = month();
        parts.push(part("202512", 13, "2025-12-30", "2025-12-31"));
        parts.push(part("202602", 14, "2026-02-01", "2026-02-01"));
        let seen = PartsMark::of(
            &[month(), vec![part("202512", 9, "2025-12-01", "2025-12-31")]].concat(),
            &NONE,
            T0,
        );
        let (scan, _) = plan_scan((T0, &NONE, &parts), Some(&seen), false);
        assert_eq!(scan, days(&["2025-12-30", "2025-12-31", "2026-02-01"]));
    }

    #[test]
    fn every_day_is_fingerprinted_when_numbers_do_not_tell() {
        let seen = seen_month();
        let fresh = Some(seen.clone());
        assert_eq!(
            plan_scan((T0, &NONE, &month()), None, false),
            (Scan::All, fresh.clone())
        );
        assert_eq!(
            plan_scan((T0, &NONE, &month()), Some(&seen), true),
            (Scan::All, fresh)
        );
        // Cluster mode (no parts here) or a replicated table: nothing to commit either.
        assert_eq!(
            plan_scan((T0, &NONE, &[]), Some(&seen), false),
            (Scan::All, None)
        );
        let mut replicated = month();
        replicated[0].engine = "ReplicatedReplacingMergeTree".into();
        assert_eq!(
            plan_scan((T0, &NONE, &replicated), Some(&seen), false),
            (Scan::All, None)
        );
        // Numbers went down: recreated.
        let recreated = vec![part("202601", 3, "2026-01-01", "2026-01-02")];
        assert_eq!(
            plan_scan((T0, &NONE, &recreated), Some(&seen), false).0,
            Scan::All
        );
        // A part spanning more than any month, or days that do not parse.
        let mut odd = month();
        odd.push(part("202601", 11, "2025-01-01", "2026-01-30"));
        assert_eq!(
            plan_scan((T0, &NONE, &odd), Some(&seen), false).0,
            Scan::All
        );
        odd[1] = part("202601", 11, "0000-00-00", "2026-01-30");
        assert_eq!(
            plan_scan((T0, &NONE, &odd), Some(&seen), false).0,
            Scan::All
        );
    }

    #[test]
    fn a_mutation_fingerprints_every_day_once_it_is_done() {
        let seen = seen_month();
        // The erasure's mutation took number 11; an insert after it took 12; the month's part
        // is not rewritten yet. Nothing is committed while it runs.
        let running = Mutations {
            count: 1,
            running: 1,
            ids: 77,
        };
        let mut parts = month();
        parts.push(part("202601", 12, "2026-01-30", "2026-01-30"));
        assert_eq!(
            plan_scan((T0, &running, &parts), Some(&seen), false),
            (Scan::All, None)
        );
        // Done: the month's part now carries 11, below 12, which a block test alone would
        // skip if 12 had been committed; the new mutation id makes it a full scan.
        let done = Mutations {
            running: 0,
            ..running
        };
        parts[0].block = 11;
        let (scan, next) = plan_scan((T0, &done, &parts), Some(&seen), false);
        assert_eq!(scan, Scan::All);
        let next = next.unwrap_or_else(|| panic!("a mark once the mutation is done"));
        // After that, only new parts again.
        assert_eq!(
            plan_scan((T0, &done, &parts), Some(&next), false).0,
            days(&[])
        );
    }

    #[test]
    fn marks_round_trip_and_garbage_is_no_mark() {
        let mut parts = month();
        parts.push(part("202512", 4, "2025-12-01", "2025-12-31"));
        let m = PartsMark::of(&parts, &NONE, T0);
        assert_eq!(m.encode(), "s=1767225600;f=0;m=0:0;202512=4,202601=10");
        assert_eq!(PartsMark::parse(&m.encode()), Some(m));
        let empty = PartsMark::of(&[], &NONE, T0);
        assert_eq!(PartsMark::parse(&empty.encode()), Some(empty));
        for bad in [
            "",
            "1:2:3|g|out3|-|-",
            "m=0:0",
            "m=0:0;202601",
            "m=0:0;202601=x",
            "m=0:0;202601=10",
            "s=x;m=0:0;202601=10",
            "s=1;202601=10",
            "s=1;m=0:0;202601=10",
            "s=1;f=x;m=0:0;202601=10",
        ] {
            assert_eq!(PartsMark::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_restarted_server_has_every_day_fingerprinted_once() {
        let seen = seen_month();
        // The same start read a second later: the same server, and the mark keeps its start.
        let (scan, next) = plan_scan((T0 + 1, &NONE, &month()), Some(&seen), false);
        assert_eq!(scan, days(&[]));
        assert_eq!(next.as_ref(), Some(&seen));
        // Restarted after its newest parts went away: new inserts reuse numbers already seen
        // (blocks up to 10 again, other hits), which only a full scan finds.
        let reused = vec![part("202601", 10, "2026-01-05", "2026-01-05")];
        let (scan, next) = plan_scan((T0 + 3600, &NONE, &reused), Some(&seen), false);
        assert_eq!(scan, Scan::All);
        let next = next.expect("a mark to commit");
        assert_eq!(next.started, T0 + 3600);
        // The run after it compares with the new start again.
        let (scan, _) = plan_scan((T0 + 3601, &NONE, &reused), Some(&next), false);
        assert_eq!(scan, days(&[]));
    }
    #[test]
    fn every_day_is_fingerprinted_once_an_hour() {
        let seen = PartsMark {
            full_at: 1_000_000,
            ..seen_month()
        };
        let hour = FULL_SCAN_EVERY_S;
        assert!(!PartsMark::full_scan_due(None, 1_000_000));
        assert!(!PartsMark::full_scan_due(Some(&seen), 1_000_000 + hour - 1));
        assert!(PartsMark::full_scan_due(Some(&seen), 1_000_000 + hour));
        assert!(
            PartsMark::full_scan_due(Some(&seen), 1_000_000 - hour),
            "clock went back"
        );
        // A partial run keeps the time of the last full scan; a full one restarts the hour.
        let later = 1_000_000 + 60;
        let (scan, next) = plan_scan((T0, &NONE, &month()), Some(&seen), false);
        let next = next.expect("a mark").scanned(&scan, Some(&seen), later);
        assert_eq!((scan, next.full_at), (days(&[]), 1_000_000));
        let (scan, next) = plan_scan((T0, &NONE, &month()), Some(&seen), true);
        let next = next.expect("a mark").scanned(&scan, Some(&seen), later);
        assert_eq!((scan, next.full_at), (Scan::All, later));
        assert_eq!(PartsMark::parse(&next.encode()), Some(next));
    }
}
