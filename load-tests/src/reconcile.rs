//! After a run: wait (bounded) until ClickHouse holds this run's hits, then check that the rows
//! are exactly the accepted hits: `uniqExact(event_id)` and `count() ... FINAL` equal what the
//! collector acknowledged, and after `OPTIMIZE TABLE hits FINAL` no duplicate row is left.

use std::time::Duration;

use common::ch::ChSettings;
use serde::Serialize;
use tokio::time::Instant;

/// What the run says ClickHouse must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Expectation {
    /// Hits the collector acknowledged, minus the intentional drops it counted.
    pub accepted: u64,
    /// Hits whose request got no answer: each may or may not be stored.
    pub unknown: u64,
    /// Fewer rows than accepted is reported, not failed (the SIGKILL scenario measures this).
    pub allow_loss: bool,
}

/// What ClickHouse holds for the run's site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct Counts {
    /// `uniqExact(event_id)` over `hits FINAL`.
    pub distinct: u64,
    /// `count()` over `hits FINAL`.
    pub final_rows: u64,
    /// `count()` without FINAL before optimizing: physical rows, replays included.
    pub raw_rows: u64,
    /// `count()` without FINAL after `OPTIMIZE TABLE hits FINAL`.
    pub rows_after_optimize: u64,
}

/// The outcome of the check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// Whether every condition held.
    pub ok: bool,
    /// Accepted hits missing from ClickHouse (the loss window when `allow_loss`).
    pub lost: u64,
    /// Rows beyond the accepted hits (only unknown-outcome requests may explain these).
    pub extra: u64,
    /// Duplicate rows folded by the optimize (replays).
    pub duplicates_folded: u64,
    /// Every condition that failed, in words.
    pub problems: Vec<String>,
    /// The counts the verdict is based on.
    pub counts: Counts,
    /// How long ClickHouse took to hold the hits after the load ended.
    pub settle_ms: u64,
}

/// Judges counts against an expectation (pure, so it is tested without a server).
pub fn judge(e: &Expectation, c: &Counts, settle_ms: u64) -> Verdict {
    let mut problems = Vec::new();
    let lost = e.accepted.saturating_sub(c.distinct);
    let extra = c.distinct.saturating_sub(e.accepted);
    if lost > 0 && !e.allow_loss {
        problems.push(format!(
            "{lost} accepted hits are not in ClickHouse ({} of {})",
            c.distinct, e.accepted
        ));
    }
    if extra > e.unknown {
        problems.push(format!(
            "{extra} rows more than accepted, but only {} hits had an unknown outcome",
            e.unknown
        ));
    }
    if c.final_rows != c.distinct {
        problems.push(format!(
            "count() FINAL {} != uniqExact(event_id) {}",
            c.final_rows, c.distinct
        ));
    }
    if c.rows_after_optimize != c.distinct {
        problems.push(format!(
            "{} rows after OPTIMIZE FINAL but {} distinct event ids: duplicates remain",
            c.rows_after_optimize, c.distinct
        ));
    }
    Verdict {
        ok: problems.is_empty(),
        lost,
        extra,
        duplicates_folded: c.raw_rows.saturating_sub(c.rows_after_optimize),
        problems,
        counts: *c,
        settle_ms,
    }
}

/// Polls until the rows reach the expectation and stop changing, or `limit` passes; then
/// optimizes and counts. ClickHouse errors while polling (it may be restarting) are retried.
pub async fn settle_and_check(
    ch: &ChSettings,
    site: &str,
    e: &Expectation,
    limit: Duration,
) -> Result<Verdict, clickhouse::error::Error> {
    let client = ch.client();
    let start = Instant::now();
    let deadline = start + limit;
    // Rows that reached the target must also stay put for a moment (late unknown-outcome hits,
    // replays still arriving); with allowed loss we can only wait for the count to stop moving.
    let quiet = if e.allow_loss {
        Duration::from_secs(6)
    } else {
        Duration::from_secs(2)
    };
    let mut last = None;
    let mut since = Instant::now();
    let mut reached = None;
    while Instant::now() < deadline {
        if let Ok(n) = distinct(&client, site).await {
            if last != Some(n) {
                last = Some(n);
                since = Instant::now();
            }
            if n >= e.accepted && reached.is_none() {
                reached = Some(start.elapsed());
            }
            let stable = since.elapsed() >= quiet;
            if (n >= e.accepted && since.elapsed() >= Duration::from_secs(2))
                || (e.allow_loss && stable)
            {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let settle_ms = reached.unwrap_or_else(|| start.elapsed()).as_millis() as u64;
    let counts = count(&client, site).await?;
    Ok(judge(e, &counts, settle_ms))
}

async fn distinct(
    client: &clickhouse::Client,
    site: &str,
) -> Result<u64, clickhouse::error::Error> {
    client
        .query("SELECT uniqExact(event_id) FROM hits FINAL WHERE site = ?")
        .bind(site)
        .fetch_one::<u64>()
        .await
}

async fn count(
    client: &clickhouse::Client,
    site: &str,
) -> Result<Counts, clickhouse::error::Error> {
    let (distinct, final_rows) = client
        .query("SELECT uniqExact(event_id), count() FROM hits FINAL WHERE site = ?")
        .bind(site)
        .fetch_one::<(u64, u64)>()
        .await?;
    let raw_rows = rows(client, site).await?;
    let mut rows_after_optimize = raw_rows;
    // A merge already running makes OPTIMIZE a no-op, so try a few times.
    for _ in 0..5 {
        client.query("OPTIMIZE TABLE hits FINAL").execute().await?;
        rows_after_optimize = rows(client, site).await?;
        if rows_after_optimize == distinct {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(Counts {
        distinct,
        final_rows,
        raw_rows,
        rows_after_optimize,
    })
}

async fn rows(client: &clickhouse::Client, site: &str) -> Result<u64, clickhouse::error::Error> {
    client
        .query("SELECT count() FROM hits WHERE site = ?")
        .bind(site)
        .fetch_one::<u64>()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(distinct: u64, raw: u64, after: u64) -> Counts {
        Counts {
            distinct,
            final_rows: distinct,
            raw_rows: raw,
            rows_after_optimize: after,
        }
    }

    #[test]
    fn exact_match_passes_and_reports_folded_replays() {
        let e = Expectation {
            accepted: 100,
            unknown: 0,
            allow_loss: false,
        };
        let v = judge(&e, &counts(100, 130, 100), 5);
        assert!(v.ok, "{:?}", v.problems);
        assert_eq!(v.duplicates_folded, 30);
    }

    #[test]
    fn a_missing_hit_fails_unless_loss_is_measured() {
        let e = Expectation {
            accepted: 100,
            unknown: 0,
            allow_loss: false,
        };
        let v = judge(&e, &counts(97, 97, 97), 5);
        assert!(!v.ok);
        assert_eq!(v.lost, 3);
        let v = judge(
            &Expectation {
                allow_loss: true,
                ..e
            },
            &counts(97, 97, 97),
            5,
        );
        assert!(v.ok);
        assert_eq!(v.lost, 3);
    }

    #[test]
    fn extra_rows_need_unknown_outcomes() {
        let e = Expectation {
            accepted: 100,
            unknown: 2,
            allow_loss: false,
        };
        assert!(judge(&e, &counts(102, 102, 102), 0).ok);
        assert!(!judge(&e, &counts(103, 103, 103), 0).ok);
    }

    #[test]
    fn duplicates_left_after_optimize_fail() {
        let e = Expectation {
            accepted: 100,
            unknown: 0,
            allow_loss: false,
        };
        let v = judge(&e, &counts(100, 120, 101), 0);
        assert!(!v.ok);
        assert!(v.problems[0].contains("duplicates remain"));
        let c = Counts {
            final_rows: 99,
            ..counts(100, 100, 100)
        };
        assert!(!judge(&e, &c, 0).ok);
    }
}
