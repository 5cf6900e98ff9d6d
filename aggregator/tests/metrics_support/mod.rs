//! Helpers of the metric tests: an aggregator on `127.0.0.1:0` over a fresh database, a tiny
//! HTTP client, hit insertion as the collector does it (RowBinary batches), and the reference
//! sessionizer the expected figures are computed with (plain Rust, independent of the SQL).
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

use aggregator::api::AppState;
use common::ch::ChSettings;
use common::hit::{hits_insert_sql, Hit};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bearer token of the test servers.
pub const TOKEN: &str = "metrics-test-token-0123456789";

/// A running aggregator (stops when dropped).
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its database.
    pub db: ChSettings,
    /// Its state.
    pub state: Arc<AppState>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// Starts an aggregator on a fresh database (no background refresh: tests call
/// `POST /api/refresh`).
pub async fn start(prefix: &str) -> Server {
    let db = testkit::shared_server().fresh_db(prefix).await;
    let m: HashMap<String, String> = [
        ("CLICKHOUSE_URL", db.url.as_str()),
        ("CLICKHOUSE_DATABASE", db.database.as_str()),
        ("LINK_KEYS", "k1:0123456789abcdef0123"),
        ("ADMIN_TOKEN", TOKEN),
        ("AGGREGATOR_LISTEN", "127.0.0.1:0"),
        ("AGGREGATOR_PUBLIC_URL", "https://t.example.com"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let config = aggregator::Config::from_source(&m).unwrap_or_else(|e| panic!("config: {e}"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let state = Arc::new(AppState::new(config));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let s = Arc::clone(&state);
    tokio::spawn(async move {
        let stop = async {
            let _ = rx.await;
        };
        let _ =
            aggregator::server::serve(s, listener, stop, std::time::Duration::from_secs(1)).await;
    });
    Server {
        addr,
        db,
        state,
        _stop: tx,
    }
}

impl Server {
    /// One request with the bearer token; returns (status, body as JSON or Null).
    pub async fn call(&self, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
        let (status, text) = self.call_text(method, path, body).await;
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        (status, json)
    }

    /// One request with the bearer token; returns (status, body text).
    pub async fn call_text(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let mut s = tokio::net::TcpStream::connect(self.addr)
            .await
            .unwrap_or_else(|e| panic!("connect: {e}"));
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {TOKEN}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("write: {e}"));
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)
            .await
            .unwrap_or_else(|e| panic!("read: {e}"));
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, body.to_string())
    }

    /// A GET that must answer 200.
    pub async fn get_ok(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.call("GET", path, "").await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// Runs a statement with bound string/number values (test data set-up).
    pub async fn exec(&self, sql: &str) {
        self.db
            .client()
            .query(sql)
            .execute()
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// Inserts hits as one RowBinary batch, the way the collector writes them.
pub async fn insert_hits(db: &ChSettings, hits: &[Hit]) {
    let mut insert = db.client().insert_formatted_with(hits_insert_sql());
    insert
        .send(Hit::encode_batch(hits))
        .await
        .unwrap_or_else(|e| panic!("send: {e}"));
    insert.end().await.unwrap_or_else(|e| panic!("end: {e}"));
}

/// A tiny deterministic generator (xorshift64*), so scenarios are the same on every run.
pub struct Rng(pub u64);

impl Rng {
    /// Next pseudo-random number.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// Shuffles in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

/// One pageview as the reference sessionizer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageFact {
    /// Site.
    pub site: String,
    /// Visitor.
    pub visitor: String,
    /// UTC day number (of received_at).
    pub day: u64,
    /// Session number among the sessions starting on `day`, from 1; 0 for a session that
    /// began the day before.
    pub session: u32,
    /// Time of the session's first hit: with site and visitor, the session's identity.
    pub start_ms: u64,
    /// Time of the session's last hit.
    pub end_ms: u64,
    /// The first person id seen in the session.
    pub person: String,
    /// Time.
    pub ts_ms: u64,
    /// Event id.
    pub event_id: String,
    /// Path.
    pub path: String,
    /// First pageview of its session.
    pub entrance: bool,
    /// Last pageview of its session.
    pub exit: bool,
    /// Only pageview of its session.
    pub bounce: bool,
    /// Time on page, when measurable.
    pub time_ms: Option<u64>,
    /// 1 mailing, 2 campaign, 0 other.
    pub source: u8,
    /// A goal is reached in the session at or after this pageview.
    pub converts_after: bool,
    /// First view of this path in its session.
    pub visit_first: bool,
    /// First view of this path by the visitor that day.
    pub day_first: bool,
}

const HALF_HOUR_MS: u64 = 1_800_000;
const DAY_MS: u64 = 86_400_000;

/// Received in the first 30 minutes of its UTC day.
fn early(h: &Hit) -> bool {
    h.ts_ms < day_of(h) * DAY_MS + HALF_HOUR_MS
}

/// Received in the last 30 minutes of its UTC day.
fn late(h: &Hit) -> bool {
    h.ts_ms + HALF_HOUR_MS >= (day_of(h) + 1) * DAY_MS
}

fn day_of(h: &Hit) -> u64 {
    u64::from(h.received_at) / 86_400
}

/// Reference sessionizer, written from the rules (job_pageviews.sql's header) without its
/// array tricks: distinct hits (by event_id) of web types, no bots, with a visitor; per
/// (site, visitor) ordered by (UTC day, ts_ms, event_id). A client retry (a non-empty
/// client_id seen before on the same day, or late the day before while this one is early)
/// is dropped. A new session starts after a gap of more than 30 minutes, and at a midnight
/// unless the hits on both sides are late/early and the day before was not covered (first
/// hit in its first 30 minutes and no gap over 30 minutes, all its hits counted).
pub fn sessionize(hits: &[Hit], goal_events: &[&str], goal_paths: &[&str]) -> Vec<PageFact> {
    let mut seen = std::collections::BTreeSet::new();
    let mut groups: BTreeMap<(String, String), Vec<&Hit>> = BTreeMap::new();
    for h in hits {
        let web = matches!(
            h.r#type.as_str(),
            "pageview" | "event" | "ping" | "outbound" | "download"
        );
        if !web || h.is_bot == 1 || h.visitor_id.is_empty() || !seen.insert(h.event_id) {
            continue;
        }
        groups
            .entry((h.site.clone(), h.visitor_id.clone()))
            .or_default()
            .push(h);
    }
    let mut out = Vec::new();
    for ((site, visitor), mut hs) in groups {
        hs.sort_by_key(|h| (day_of(h), h.ts_ms, h.event_id.to_string()));
        // Covered days, from every distinct hit.
        let mut by_day: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        for h in &hs {
            by_day.entry(day_of(h)).or_default().push(h.ts_ms);
        }
        let covered: BTreeMap<u64, bool> = by_day
            .iter()
            .map(|(&d, ts)| {
                let early_start = ts[0] < d * DAY_MS + HALF_HOUR_MS;
                (
                    d,
                    early_start && ts.windows(2).all(|w| w[1] - w[0] <= HALF_HOUR_MS),
                )
            })
            .collect();
        let kept: Vec<&Hit> = hs
            .iter()
            .enumerate()
            .filter(|(i, h)| {
                h.client_id.is_empty()
                    || !hs[..*i].iter().any(|e| {
                        e.client_id == h.client_id
                            && (day_of(e) == day_of(h)
                                || (day_of(e) + 1 == day_of(h) && late(e) && early(h)))
                    })
            })
            .map(|(_, h)| *h)
            .collect();
        let mut sessions: Vec<Vec<&Hit>> = Vec::new();
        for h in kept {
            let joins = sessions.last().is_some_and(|s| {
                let p = s[s.len() - 1];
                let close = h.ts_ms >= p.ts_ms && h.ts_ms - p.ts_ms <= HALF_HOUR_MS;
                let same_day = day_of(p) == day_of(h);
                let across =
                    day_of(p) + 1 == day_of(h) && late(p) && early(h) && !covered[&day_of(p)];
                close && (same_day || across)
            });
            match sessions.last_mut() {
                Some(s) if joins => s.push(h),
                _ => sessions.push(vec![h]),
            }
        }
        let is_goal = |h: &Hit| {
            (h.r#type == "event" && goal_events.contains(&h.event_name.as_str()))
                || (h.r#type == "pageview" && goal_paths.contains(&h.path.as_str()))
        };
        let mut numbers: BTreeMap<u64, u32> = BTreeMap::new();
        let mut day_paths = std::collections::BTreeSet::new();
        for s in &sessions {
            let start_day = day_of(s[0]);
            let n = numbers.entry(start_day).or_insert(0);
            *n += 1;
            let number = *n;
            let person = s
                .iter()
                .find(|h| !h.person_id.is_empty())
                .map(|h| h.person_id.clone())
                .unwrap_or_default();
            let pv: Vec<usize> = (0..s.len())
                .filter(|&j| s[j].r#type == "pageview")
                .collect();
            let end = s[s.len() - 1].ts_ms;
            let mut session_paths = std::collections::BTreeSet::new();
            for (k, &j) in pv.iter().enumerate() {
                let h = s[j];
                let next = pv.get(k + 1).map(|&n| s[n].ts_ms);
                let until = next.unwrap_or(end);
                let timed = next.is_some() || end > h.ts_ms;
                let source = if !h.mailing_id.is_empty()
                    || h.utm_medium == "email"
                    || h.referrer_kind == "email"
                {
                    1
                } else if !h.utm_campaign.is_empty() || h.referrer_kind == "campaign" {
                    2
                } else {
                    0
                };
                out.push(PageFact {
                    site: site.clone(),
                    visitor: visitor.clone(),
                    day: day_of(h),
                    session: if day_of(h) == start_day { number } else { 0 },
                    start_ms: s[0].ts_ms,
                    end_ms: end,
                    person: person.clone(),
                    ts_ms: h.ts_ms,
                    event_id: h.event_id.to_string(),
                    path: h.path.clone(),
                    entrance: k == 0,
                    exit: k + 1 == pv.len(),
                    bounce: pv.len() == 1,
                    time_ms: timed.then_some(until - h.ts_ms),
                    source,
                    converts_after: s[j..].iter().any(|x| is_goal(x)),
                    visit_first: session_paths.insert(h.path.as_str()),
                    day_first: day_paths.insert((day_of(h), h.path.clone())),
                });
            }
        }
    }
    out.sort_by(|a, b| {
        (&a.site, &a.visitor, a.day, a.ts_ms, &a.event_id).cmp(&(
            &b.site,
            &b.visitor,
            b.day,
            b.ts_ms,
            &b.event_id,
        ))
    });
    out
}

/// One stored row of r_pageviews_v2.
#[derive(Debug, clickhouse::Row, serde::Deserialize)]
struct PvRow {
    site: String,
    visitor_id: String,
    day: u16,
    session_no: u32,
    session_start_ms: u64,
    session_end_ms: u64,
    person_id: String,
    ts_ms: u64,
    event_id: String,
    path: String,
    is_entrance: u8,
    is_exit: u8,
    is_bounce: u8,
    timed: u8,
    time_ms: u64,
    from_mailing: u8,
    from_campaign: u8,
    converts_after: u8,
    visit_first: u8,
    day_first: u8,
}

/// Reads r_pageviews_v2 of the committed generations, in the reference order.
pub async fn stored_pageviews(db: &ChSettings) -> Vec<PageFact> {
    let rows: Vec<PvRow> = db
        .client()
        .query(
            "SELECT site, visitor_id, toUInt16(day), session_no, session_start_ms, session_end_ms, \
             person_id, ts_ms, event_id, path, \
             is_entrance, is_exit, is_bounce, timed, time_ms, from_mailing, from_campaign, \
             converts_after, visit_first, day_first FROM r_pageviews_v2 WHERE (toString(day), version) IN \
             (SELECT bucket, max(version) FROM r_generations WHERE job = 'days' GROUP BY bucket) \
             ORDER BY site, visitor_id, day, ts_ms, event_id",
        )
        .fetch_all()
        .await
        .unwrap_or_else(|e| panic!("r_pageviews_v2: {e}"));
    rows.into_iter()
        .map(|r| PageFact {
            site: r.site,
            visitor: r.visitor_id,
            day: u64::from(r.day),
            session: r.session_no,
            start_ms: r.session_start_ms,
            end_ms: r.session_end_ms,
            person: r.person_id,
            ts_ms: r.ts_ms,
            event_id: r.event_id,
            path: r.path,
            entrance: r.is_entrance == 1,
            exit: r.is_exit == 1,
            bounce: r.is_bounce == 1,
            time_ms: (r.timed == 1).then_some(r.time_ms),
            source: if r.from_mailing == 1 {
                1
            } else if r.from_campaign == 1 {
                2
            } else {
                0
            },
            converts_after: r.converts_after == 1,
            visit_first: r.visit_first == 1,
            day_first: r.day_first == 1,
        })
        .collect()
}
