//! The generator against the bare GIF server (the real `bare` binary on a free loopback port):
//! counts are exact, both loops respect their bounds, and beacons answered with something
//! other than 202 are counted as contract violations rather than accepted hits.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use load_tests::drive::{self, Pace, Plan};
use load_tests::traffic::Mix;

struct Bare(Child, std::net::SocketAddr);

impl Drop for Bare {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_bare() -> Bare {
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", testkit::free_port())
        .parse()
        .expect("addr");
    // Owned by the guard at once, so a failed start below still kills and reaps it.
    let bare = Bare(
        Command::new(env!("CARGO_BIN_EXE_bare"))
            .env("BARE_LISTEN", addr.to_string())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn bare"),
        addr,
    );
    for _ in 0..100 {
        if std::net::TcpStream::connect(addr).is_ok() {
            return bare;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("bare did not listen on {addr}");
}

fn plan(target: std::net::SocketAddr, pace: Pace, max_requests: u64, beacon_share: f64) -> Plan {
    Plan {
        target,
        pace,
        connections: 4,
        duration: Duration::from_secs(30),
        max_requests,
        timeout: Duration::from_secs(5),
        mix: Mix {
            site: "t-bare".into(),
            beacon_share,
            max_batch: 20,
            invalid_share: 0.0,
        },
        seed: 9,
    }
}

#[tokio::test]
async fn closed_loop_sends_exactly_the_count_and_every_pixel_is_a_gif() {
    let bare = start_bare();
    let out = drive::run(plan(bare.1, Pace::Max, 500, 0.0)).await;
    let t = &out.tally;
    assert_eq!(t.requests, 500);
    assert_eq!(t.pixel_ok, 500);
    assert_eq!(t.connect_errors + t.unknown + t.pixel_other, 0);
    assert_eq!(out.ok_latency.len(), 500);
}

#[tokio::test]
async fn open_loop_sends_the_rate_times_the_duration() {
    let bare = start_bare();
    let mut p = plan(bare.1, Pace::Rate(400.0), 1_000_000, 0.0);
    p.duration = Duration::from_millis(500);
    let out = drive::run(p).await;
    // Tickets due before the deadline: 0, 1/400 s, ... < 0.5 s.
    assert_eq!(out.tally.requests, 200);
    assert_eq!(out.tally.pixel_ok, 200);
    assert_eq!(out.tally.not_sent, 0);
}

#[tokio::test]
async fn beacons_not_answered_202_are_not_accepted() {
    let bare = start_bare();
    let out = drive::run(plan(bare.1, Pace::Max, 300, 1.0)).await;
    let t = &out.tally;
    assert_eq!(
        t.beacon_other, 300,
        "bare answers 200 + GIF, not 202 + accepted"
    );
    assert_eq!(t.answered_accepted_hits(), 0);
}

#[tokio::test]
async fn a_closed_port_counts_connect_errors_and_stops_at_the_bound() {
    let port = testkit::free_port();
    let target = format!("127.0.0.1:{port}").parse().expect("addr");
    let out = drive::run(plan(target, Pace::Max, 40, 0.5)).await;
    assert_eq!(out.tally.requests, 40);
    assert_eq!(out.tally.connect_errors, 40);
    assert_eq!(out.tally.answered_accepted_hits(), 0);
}

#[tokio::test]
async fn the_time_bound_holds_when_the_server_is_down() {
    // Open loop at 5000 req/s for 1 s against a closed port: connect errors back off, so a
    // backlog builds; the run must stop sending at its deadline (not drain the backlog) and
    // count what it never sent.
    let port = testkit::free_port();
    let target = format!("127.0.0.1:{port}").parse().expect("addr");
    let mut p = plan(target, Pace::Rate(5000.0), 1_000_000, 0.0);
    p.duration = Duration::from_secs(1);
    let out = drive::run(p).await;
    assert_eq!(out.tally.requests, out.tally.connect_errors);
    assert!(out.tally.not_sent > 0);
    assert_eq!(out.tally.requests + out.tally.not_sent, 5000);
}
