//! CPU time (not wall time) per parse + enrich, for a figure that holds on a busy machine:
//! criterion measures wall time, which on a shared 2-core box includes time spent waiting
//! for a core. Reads this thread's user+system ticks from /proc (USER_HZ = 100 on Linux),
//! so it runs for several seconds to make the 10 ms tick negligible.
//! Run: cargo run --release -p benches --example cpu_per_hit

use benches::{client_ips, enricher, pixel_queries, real_geo, stamp, user_agents};
use enrich::{GeoLookup, NoGeo, RequestInfo};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

/// The collector binary's allocator, so the figure is the production one.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const MIX: usize = 4096;
/// Hits per measured loop; `CPU_PER_HIT_ROUNDS` lowers it for a run under callgrind.
fn rounds() -> usize {
    std::env::var("CPU_PER_HIT_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000_000)
}

/// This thread's CPU time so far, in seconds; None off Linux.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

fn main() {
    let queries = pixel_queries(MIX);
    let ips = client_ips(MIX);
    let uas = user_agents();
    let (cpu0, wall0) = (cpu_seconds(), Instant::now());
    for i in 0..rounds() {
        black_box(enrich::parse_query(black_box(&queries[i % MIX])).ok());
    }
    report("parse_query", cpu0, wall0);
    let mut geos: Vec<(&str, Arc<dyn GeoLookup>)> = vec![("no_geo", Arc::new(NoGeo))];
    if let Some(db) = real_geo() {
        geos.push(("geolite2", Arc::new(db)));
    }
    for (name, geo) in geos {
        let e = enricher(geo);
        let mut buf = bytes::BytesMut::with_capacity(1 << 20);
        // `encode`: also append the row's RowBinary, as the collector's queue does.
        let mut run = |n: usize, encode: bool| {
            for i in 0..n {
                let k = i % MIX;
                let req = RequestInfo {
                    ip: ips[k],
                    user_agent: &uas[k % uas.len()],
                    anonymous: false,
                    method_head: false,
                };
                // The collector's path: the row borrows from the parsed hit and the caches.
                let Ok(raw) = enrich::parse_query(&queries[k]) else {
                    continue;
                };
                let Ok(hit) = e.enrich_row(raw, &req, &stamp(i as u64)) else {
                    continue;
                };
                if encode {
                    if buf.len() > (1 << 20) - 4096 {
                        buf.clear();
                    }
                    hit.row().encode(&mut buf);
                }
                black_box(&hit);
            }
        };
        run(MIX * 4, true); // warm the caches
        for (what, encode) in [("parse_enrich", false), ("parse_enrich_encode", true)] {
            let (cpu0, wall0) = (cpu_seconds(), Instant::now());
            run(rounds(), encode);
            report(&format!("{what}/{name}"), cpu0, wall0);
        }
    }
}

fn report(what: &str, cpu0: Option<f64>, wall0: Instant) {
    let wall = wall0.elapsed().as_secs_f64();
    let n = rounds();
    match (cpu0, cpu_seconds()) {
        (Some(a), Some(b)) => println!(
            "{what}: {:.0} ns CPU per hit ({:.0} ns wall) over {n} hits",
            (b - a) * 1e9 / n as f64,
            wall * 1e9 / n as f64
        ),
        _ => println!("{what}: {:.0} ns wall per hit", wall * 1e9 / n as f64),
    }
}
