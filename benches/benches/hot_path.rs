//! Parse + enrich per hit with the real GeoLite2 database and the UA corpus, cache warm
//! (target: under 1 µs per hit), and its parts.

use benches::{client_ips, enricher, pixel_queries, real_geo, stamp, user_agents};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use enrich::{GeoLookup, NoGeo, RequestInfo};
use std::hint::black_box;
use std::sync::Arc;

const MIX: usize = 4096;

fn hot_path(c: &mut Criterion) {
    let queries = pixel_queries(MIX);
    let ips = client_ips(MIX);
    let uas = user_agents();
    let mut g = c.benchmark_group("hot_path");
    g.throughput(Throughput::Elements(1));

    let mut i = 0usize;
    g.bench_function("parse_query", |b| {
        b.iter(|| {
            i = (i + 1) % MIX;
            black_box(enrich::parse_query(black_box(&queries[i])))
        })
    });

    let mut geos: Vec<(&str, Arc<dyn GeoLookup>)> = vec![("no_geo", Arc::new(NoGeo))];
    if let Some(db) = real_geo() {
        let mut i = 0usize;
        g.bench_function("geo_lookup_uncached/geolite2", |b| {
            b.iter(|| {
                i = (i + 1) % MIX;
                black_box(db.lookup_uncached(ips[i]))
            })
        });
        geos.push(("geolite2", Arc::new(db)));
    }
    for (name, geo) in geos {
        let e = enricher(Arc::clone(&geo));
        for ua in &uas {
            e.user_agent(ua); // warm the UA cache, as steady traffic does
        }
        let mut i = 0usize;
        g.bench_function(format!("parse_enrich/{name}"), |b| {
            b.iter(|| {
                i = (i + 1) % MIX;
                let req = RequestInfo {
                    ip: ips[i],
                    user_agent: &uas[i % uas.len()],
                    anonymous: false,
                    method_head: false,
                };
                // The collector's path: the row borrows from the parsed hit and the caches.
                let raw = enrich::parse_query(&queries[i]).ok()?;
                e.enrich_row(raw, &req, &stamp(i as u64)).ok()
            })
        });
        let mut i = 0usize;
        g.bench_function(format!("geo_lookup/{name}"), |b| {
            b.iter(|| {
                i = (i + 1) % MIX;
                black_box(geo.lookup(ips[i]))
            })
        });
    }

    let e = enricher(Arc::new(NoGeo));
    let mut i = 0usize;
    g.bench_function("ua_cached", |b| {
        b.iter(|| {
            i = (i + 1) % uas.len();
            black_box(e.user_agent(&uas[i]))
        })
    });
    let mut i = 0usize;
    g.bench_function("ua_uncached_woothee", |b| {
        b.iter(|| {
            i = (i + 1) % uas.len();
            black_box(enrich::ua::classify(&uas[i]))
        })
    });
    g.finish();
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
