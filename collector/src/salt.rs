//! The daily salt of anonymous visitor ids: random per UTC day, the same on every replica,
//! forgotten once the day is over.
//!
//! Replicas agree through the `daily_salts` table (migration 0002): each proposes a random salt
//! for today and every replica uses `min(salt)` of today's rows, so they converge within one
//! sync interval without a leader. Past days' rows are deleted at the first sync of a new day
//! and only today's salt is ever held in memory.
//!
//! In cluster mode (`sql/cluster/`) `daily_salts` is a Distributed table over every shard's
//! `daily_salts_local`: a replica proposes into the local table of the node it talks to and
//! reads `min(salt)` through the Distributed table, so replicas writing to different shards
//! still agree on one salt per day. Past days are deleted from the node's local table (a
//! Distributed table refuses mutations) at every sync that finds some, so a node keeps an old
//! salt only until a replica next syncs through it. While ClickHouse cannot be reached a replica
//! uses its own proposal; the visitor ids of that window then differ between replicas (counted
//! as more visitors, never merged wrongly), which we accept over blocking hits on ClickHouse.

use std::sync::RwLock;
use std::time::Duration;

use clickhouse::sql::Identifier;
use common::ch::ChSettings;
use rand::RngCore;
use tokio::sync::watch;

/// How often replicas re-read the winning salt.
const SYNC_EVERY: Duration = Duration::from_secs(30);
const DAY_MS: u64 = 86_400_000;
/// A sync slower than this is abandoned until the next round.
const SYNC_TIMEOUT: Duration = Duration::from_secs(5);

/// Today's salt, as held in memory.
#[derive(Debug)]
pub struct Salts {
    /// (UTC day number, salt) — only one day is ever held.
    current: RwLock<(u32, [u8; 32])>,
}

fn random_salt() -> [u8; 32] {
    let mut s = [0u8; 32];
    rand::rng().fill_bytes(&mut s);
    s
}

/// UTC day number of a Unix-milliseconds time.
pub fn day_of(now_ms: u64) -> u32 {
    (now_ms / DAY_MS) as u32
}

fn to_hex(s: &[u8; 32]) -> String {
    s.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(h: &str) -> Option<[u8; 32]> {
    if h.len() != 64 || !h.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&h[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(out)
}

impl Salts {
    /// A fresh random proposal for the day of `now_ms`.
    pub fn new(now_ms: u64) -> Self {
        Self {
            current: RwLock::new((day_of(now_ms), random_salt())),
        }
    }

    /// The salt for the day of `now_ms`. On a new day the old salt is replaced (forgotten) by
    /// a fresh proposal until the next sync adopts the shared winner.
    pub fn for_time(&self, now_ms: u64) -> [u8; 32] {
        let day = day_of(now_ms);
        {
            let cur = self.current.read().unwrap_or_else(|p| p.into_inner());
            if cur.0 == day {
                return cur.1;
            }
        }
        let mut cur = self.current.write().unwrap_or_else(|p| p.into_inner());
        if cur.0 != day {
            *cur = (day, random_salt());
        }
        cur.1
    }

    /// Adopts the agreed salt for `day` (ignored if the day has moved on meanwhile).
    fn adopt(&self, day: u32, salt: [u8; 32]) {
        let mut cur = self.current.write().unwrap_or_else(|p| p.into_inner());
        if cur.0 == day {
            cur.1 = salt;
        }
    }

    /// Proposes our salt for today if none is stored, adopts the winner, deletes past days.
    pub async fn sync(
        &self,
        settings: &ChSettings,
        now_ms: u64,
    ) -> Result<(), clickhouse::error::Error> {
        let day = day_of(now_ms);
        let client = settings.client();
        let local = local_table(&client).await?;
        let winner = |c: &clickhouse::Client| {
            c.query("SELECT min(salt) FROM daily_salts WHERE day = ?")
                .bind(day)
                .fetch_one::<String>()
        };
        let mut stored = winner(&client).await?;
        if stored.is_empty() {
            let mine = to_hex(&self.for_time(now_ms));
            client
                .query("INSERT INTO ? (day, salt, created_at) SELECT ?, ?, now()")
                .bind(Identifier(local))
                .bind(day)
                .bind(mine)
                .execute()
                .await?;
            stored = winner(&client).await?;
        }
        if let Some(salt) = from_hex(&stored) {
            self.adopt(day, salt);
        }
        // A failure here only delays forgetting to the next sync; it must not cost today's salt.
        if let Err(e) = forget_past_days(&client, local, day).await {
            tracing::warn!(error = %e, "cannot delete past daily salts");
        }
        Ok(())
    }
}

/// The table this node keeps proposals in: `daily_salts_local` in cluster mode (its
/// `daily_salts` is then the Distributed table over every shard), else `daily_salts`.
async fn local_table(
    client: &clickhouse::Client,
) -> Result<&'static str, clickhouse::error::Error> {
    let cluster: u64 = client
        .query(
            "SELECT count() FROM system.tables \
             WHERE database = currentDatabase() AND name = 'daily_salts_local'",
        )
        .fetch_one()
        .await?;
    Ok(if cluster > 0 {
        "daily_salts_local"
    } else {
        "daily_salts"
    })
}

/// Deletes days before `day` from `table` when some are left and no deletion is under way.
async fn forget_past_days(
    client: &clickhouse::Client,
    table: &str,
    day: u32,
) -> Result<(), clickhouse::error::Error> {
    let past: u64 = client
        .query("SELECT count() FROM ? WHERE day < ?")
        .bind(Identifier(table))
        .bind(day)
        .fetch_one()
        .await?;
    if past == 0 {
        return Ok(());
    }
    let running: u64 = client
        .query(
            "SELECT count() FROM system.mutations \
             WHERE database = currentDatabase() AND table = ? AND is_done = 0",
        )
        .bind(table)
        .fetch_one()
        .await?;
    if running == 0 {
        client
            .query("ALTER TABLE ? DELETE WHERE day < ?")
            .bind(Identifier(table))
            .bind(day)
            .execute()
            .await?;
    }
    Ok(())
}

/// Syncs every [`SYNC_EVERY`] until `stop` turns true.
pub async fn sync_loop(
    salts: std::sync::Arc<Salts>,
    settings: ChSettings,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let sync = tokio::time::timeout(SYNC_TIMEOUT, salts.sync(&settings, crate::now_ms()));
        tokio::select! {
            r = sync => match r {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "cannot sync the daily salt; using this replica's own until ClickHouse answers"),
                Err(_) => tracing::warn!("daily salt sync timed out; using this replica's own until ClickHouse answers"),
            },
            _ = stop.changed() => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(SYNC_EVERY) => {}
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_daily_and_forgets() {
        let s = Salts::new(0);
        let a = s.for_time(1_000);
        assert_eq!(a, s.for_time(DAY_MS - 1));
        let b = s.for_time(DAY_MS);
        assert_ne!(a, b);
        // The old day's salt is gone: asking for it again yields a new one, not `a`.
        assert_ne!(s.for_time(1_000), a);
    }

    #[test]
    fn adopt_only_for_the_current_day() {
        let s = Salts::new(0);
        s.adopt(0, [7; 32]);
        assert_eq!(s.for_time(5), [7; 32]);
        s.adopt(1, [9; 32]);
        assert_eq!(s.for_time(5), [7; 32]);
    }

    #[test]
    fn hex_round_trip() {
        let x = random_salt();
        assert_eq!(from_hex(&to_hex(&x)), Some(x));
        assert_eq!(from_hex("zz"), None);
        assert_eq!(from_hex(&"g".repeat(64)), None);
    }
}
