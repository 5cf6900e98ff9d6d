//! Sends the traffic: `connections` workers, each with one keep-alive connection, take numbered
//! tickets until the count or the time runs out. Open loop (`Pace::Rate`): ticket i is due at
//! start + i/rate and latency is measured from that due time, so a stalled server shows up as
//! latency instead of silently slowing the sender. Closed loop (`Pace::Max`): each worker sends
//! as fast as answers come back.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use serde::Serialize;
use tokio::time::Instant;

use crate::http::connect;
use crate::stats::Sample;
use crate::traffic::{Kind, Mix, Planned, Traffic};

/// How fast to send.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// Open loop: this many requests per second, whatever the answers do.
    Rate(f64),
    /// Closed loop: every worker sends its next request when the previous one is answered.
    Max,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The collector's public address (loopback, checked by the caller).
    pub target: SocketAddr,
    /// Open or closed loop.
    pub pace: Pace,
    /// Workers, each holding one connection.
    pub connections: usize,
    /// Upper bound on the run's length.
    pub duration: Duration,
    /// Upper bound on requests sent.
    pub max_requests: u64,
    /// Per-request bound; a request unanswered by then counts as `unknown`.
    pub timeout: Duration,
    /// The traffic mix.
    pub mix: Mix,
    /// Seed of the traffic (worker i uses seed + i).
    pub seed: u64,
}

/// Counts of what happened, by route and answer. `*_hits` count hits, the rest requests.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Tally {
    /// Requests that got any answer or error.
    pub requests: u64,
    /// Valid pixels answered 200 (stored unless counted as an intentional drop).
    pub pixel_ok: u64,
    /// Invalid pixels answered 200 (must not be stored).
    pub pixel_invalid_ok: u64,
    /// Pixels answered with anything but 200 (SPEC says always 200).
    pub pixel_other: u64,
    /// Beacons answered 202.
    pub beacon_accepted: u64,
    /// Hits the 202 answers said were accepted.
    pub beacon_accepted_hits: u64,
    /// Beacons answered 503 (overload).
    pub beacon_503: u64,
    /// Hits in beacons answered 503.
    pub beacon_503_hits: u64,
    /// 503s that lacked `Retry-After`.
    pub beacon_503_no_retry_after: u64,
    /// Beacons answered 400 (the generator sends only valid beacons, so this is a bug).
    pub beacon_400: u64,
    /// Beacons answered anything else.
    pub beacon_other: u64,
    /// Requests that never reached the collector (connect refused or timed out).
    pub connect_errors: u64,
    /// Requests sent whose answer never came (reset, timeout): stored or not, nobody knows.
    pub unknown: u64,
    /// Hits in those requests.
    pub unknown_hits: u64,
    /// Open loop only: requests due before the time ran out that were never sent because the
    /// workers were still busy with a backlog (the server could not keep up).
    pub not_sent: u64,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.requests += o.requests;
        self.pixel_ok += o.pixel_ok;
        self.pixel_invalid_ok += o.pixel_invalid_ok;
        self.pixel_other += o.pixel_other;
        self.beacon_accepted += o.beacon_accepted;
        self.beacon_accepted_hits += o.beacon_accepted_hits;
        self.beacon_503 += o.beacon_503;
        self.beacon_503_hits += o.beacon_503_hits;
        self.beacon_503_no_retry_after += o.beacon_503_no_retry_after;
        self.beacon_400 += o.beacon_400;
        self.beacon_other += o.beacon_other;
        self.connect_errors += o.connect_errors;
        self.unknown += o.unknown;
        self.unknown_hits += o.unknown_hits;
        self.not_sent += o.not_sent;
    }

    /// Hits the collector said it took (before subtracting counted intentional drops).
    pub fn answered_accepted_hits(&self) -> u64 {
        self.pixel_ok + self.beacon_accepted_hits
    }
}

/// Everything a run produced.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Counts.
    pub tally: Tally,
    /// Latency of every 2xx answer.
    pub ok_latency: Vec<Sample>,
    /// Latency of every 503 answer (overload must be answered fast).
    pub rejected_latency: Vec<Sample>,
    /// Wall time from the first ticket to the last answer.
    pub elapsed: Duration,
    /// Wall clock (ms since the Unix epoch) when ticket 0 was due, to line the samples' `at_ms`
    /// up with other logs (ClickHouse's query and part logs, the collector's).
    pub started_unix_ms: u64,
}

struct Shared {
    plan: Plan,
    next: AtomicU64,
    start: Instant,
    deadline: Instant,
}

impl Shared {
    /// The next ticket's due time, or None when the run is over.
    fn ticket(&self) -> Option<Instant> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        if i >= self.plan.max_requests {
            return None;
        }
        let due = match self.plan.pace {
            Pace::Rate(r) => self.start + Duration::from_secs_f64(i as f64 / r.max(0.001)),
            Pace::Max => Instant::now(),
        };
        // The time bound is hard: once it has passed, tickets still due from a backlog (open
        // loop against a server that fell behind, or is down) are not sent but counted.
        (due < self.deadline && Instant::now() < self.deadline).then_some(due)
    }

    /// Tickets that were due before the deadline (what the plan offered).
    fn offered(&self) -> u64 {
        let due = match self.plan.pace {
            Pace::Rate(r) => (self.plan.duration.as_secs_f64() * r).ceil() as u64,
            Pace::Max => 0,
        };
        due.min(self.plan.max_requests)
    }
}

/// Runs the plan to its end (time or count) and returns what happened.
pub async fn run(plan: Plan) -> Outcome {
    let start = Instant::now();
    let started_unix_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let shared = Arc::new(Shared {
        deadline: start + plan.duration,
        next: AtomicU64::new(0),
        start,
        plan: plan.clone(),
    });
    let workers: Vec<_> = (0..plan.connections.max(1))
        .map(|i| {
            let traffic = Traffic::new(plan.mix.clone(), plan.seed.wrapping_add(i as u64));
            tokio::spawn(worker(shared.clone(), traffic))
        })
        .collect();
    let mut out = Outcome {
        started_unix_ms,
        ..Outcome::default()
    };
    for w in workers {
        if let Ok(o) = w.await {
            out.tally.add(&o.tally);
            out.ok_latency.extend(o.ok_latency);
            out.rejected_latency.extend(o.rejected_latency);
        }
    }
    out.elapsed = start.elapsed();
    out.tally.not_sent = shared.offered().saturating_sub(out.tally.requests);
    out
}

async fn worker(shared: Arc<Shared>, mut traffic: Traffic) -> Outcome {
    let mut out = Outcome::default();
    let mut conn: Option<SendRequest<Full<Bytes>>> = None;
    while let Some(due) = shared.ticket() {
        let planned = traffic.next_request();
        // A worker still busy at the due time means the server held it up: latency counts
        // from the due time (no coordinated omission). A worker that had to wait counts from
        // when it woke, so the timer's millisecond granularity is not blamed on the server.
        let from = if Instant::now() >= due {
            due
        } else {
            tokio::time::sleep_until(due).await;
            Instant::now()
        };
        let answer = exchange(&shared.plan, &mut conn, &planned).await;
        let sample = Sample {
            at_ms: due.duration_since(shared.start).as_millis() as u32,
            micros: from.elapsed().as_micros().min(u128::from(u32::MAX)) as u32,
        };
        record(&mut out, &planned, answer, sample);
    }
    out
}

/// What came back for one request.
#[derive(Debug)]
enum Answer {
    Status {
        status: u16,
        retry_after: bool,
        body: Bytes,
    },
    ConnectError,
    Unknown,
}

async fn exchange(plan: &Plan, conn: &mut Option<SendRequest<Full<Bytes>>>, p: &Planned) -> Answer {
    // A kept-alive connection the server closed meanwhile hands the request back unsent; then
    // we reconnect and try again, so that case is never counted as an unknown outcome.
    for _ in 0..3 {
        let sender = match conn {
            Some(s) if !s.is_closed() => s,
            _ => match connect(plan.target, plan.timeout).await {
                Ok(s) => conn.insert(s),
                Err(_) => {
                    *conn = None;
                    // Back off a little so a down collector does not turn into a busy loop.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    return Answer::ConnectError;
                }
            },
        };
        let req = match build(plan, p) {
            Ok(r) => r,
            Err(_) => return Answer::Unknown,
        };
        let sent = tokio::time::timeout(plan.timeout, async {
            if sender.ready().await.is_err() {
                return Err(None);
            }
            match sender.try_send_request(req).await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = resp.headers().contains_key(http::header::RETRY_AFTER);
                    let body = resp
                        .into_body()
                        .collect()
                        .await
                        .map_err(|_| Some(()))?
                        .to_bytes();
                    Ok(Answer::Status {
                        status,
                        retry_after,
                        body,
                    })
                }
                Err(mut e) => Err(e.take_message().is_none().then_some(())),
            }
        })
        .await;
        match sent {
            Ok(Ok(a)) => return a,
            Ok(Err(None)) => *conn = None, // not sent: retry on a fresh connection
            Ok(Err(Some(()))) | Err(_) => {
                *conn = None;
                return Answer::Unknown;
            }
        }
    }
    Answer::ConnectError
}

fn build(plan: &Plan, p: &Planned) -> Result<http::Request<Full<Bytes>>, http::Error> {
    let b = http::Request::builder()
        .uri(p.path.as_str())
        .header(http::header::HOST, plan.target.to_string())
        .header(http::header::USER_AGENT, p.user_agent)
        .header("x-forwarded-for", p.forwarded_for.as_str());
    match p.kind {
        Kind::Pixel => b.method("GET").body(Full::new(Bytes::new())),
        Kind::Beacon => {
            // sendBeacon sends text/plain; fetch() sends application/json. Both must work.
            let ct = if p.hits.is_multiple_of(2) {
                "application/json"
            } else {
                "text/plain;charset=UTF-8"
            };
            b.method("POST")
                .header(http::header::CONTENT_TYPE, ct)
                .header(http::header::ORIGIN, "https://www.example.com")
                .body(Full::new(Bytes::from(p.body.clone())))
        }
    }
}

#[derive(serde::Deserialize)]
struct Accepted {
    accepted: u64,
}

fn record(out: &mut Outcome, p: &Planned, answer: Answer, sample: Sample) {
    let t = &mut out.tally;
    t.requests += 1;
    match answer {
        Answer::ConnectError => t.connect_errors += 1,
        Answer::Unknown => {
            t.unknown += 1;
            t.unknown_hits += u64::from(p.hits);
        }
        Answer::Status {
            status,
            retry_after,
            body,
        } => match (p.kind, status) {
            (Kind::Pixel, 200) => {
                if p.valid {
                    t.pixel_ok += 1;
                } else {
                    t.pixel_invalid_ok += 1;
                }
                out.ok_latency.push(sample);
            }
            (Kind::Pixel, _) => t.pixel_other += 1,
            (Kind::Beacon, 202) => match serde_json::from_slice::<Accepted>(&body) {
                Ok(a) => {
                    t.beacon_accepted += 1;
                    t.beacon_accepted_hits += a.accepted;
                    out.ok_latency.push(sample);
                }
                Err(_) => t.beacon_other += 1,
            },
            (Kind::Beacon, 503) => {
                t.beacon_503 += 1;
                t.beacon_503_hits += u64::from(p.hits);
                if !retry_after {
                    t.beacon_503_no_retry_after += 1;
                }
                out.rejected_latency.push(sample);
            }
            (Kind::Beacon, 400) => t.beacon_400 += 1,
            (Kind::Beacon, _) => t.beacon_other += 1,
        },
    }
}
