//! Helpers shared by the benchmarks: a realistic, deterministic mix of pixel queries, client
//! IPs and user agents, and the real GeoLite2 database when `scripts/setup` has fetched it.

use enrich::{
    Enricher, EnricherConfig, GeoLookup, MaxMindGeo, NoDirectory, NoGeo, RequestInfo, Stamp,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::Arc;

/// Where `scripts/setup` puts the GeoLite2 City database (or `GEOIP_CITY_DB` when set).
pub fn geolite_path() -> PathBuf {
    match std::env::var_os("GEOIP_CITY_DB") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.data/geoip/GeoLite2-City.mmdb"),
    }
}

/// The real GeoLite2 database, or None with a message saying how to get it.
pub fn real_geo() -> Option<MaxMindGeo> {
    let path = geolite_path();
    match MaxMindGeo::open(&path) {
        Ok(db) => Some(db),
        Err(e) => {
            eprintln!("SKIPPING the GeoLite2 benches: {e}. Run scripts/setup to fetch it.");
            None
        }
    }
}

/// A small deterministic generator (xorshift), so every run benches the same mix.
#[derive(Debug, Clone)]
pub struct Mix(u64);

impl Mix {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    /// The next pseudo-random number.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next_u64() % items.len() as u64) as usize]
    }
}

/// `n` client IPs: 85 % public IPv4 spread over the address space, 15 % IPv6 in 2a00::/12
/// (European allocations), so most resolve to a city in GeoLite2.
pub fn client_ips(n: usize) -> Vec<IpAddr> {
    let mut m = Mix::new(7);
    (0..n)
        .map(|_| {
            let r = m.next_u64();
            if r % 100 < 85 {
                let first = 1 + (r >> 8) % 223;
                let first = if first == 10 || first == 127 {
                    first + 1
                } else {
                    first
                };
                let rest = (r >> 16) as u32 & 0x00ff_ffff;
                IpAddr::V4(Ipv4Addr::from(((first as u32) << 24) | rest))
            } else {
                let bits = (0x2a00u128 << 112) | (u128::from(m.next_u64()) << 48);
                IpAddr::V6(Ipv6Addr::from(bits))
            }
        })
        .collect()
}

/// The user agents of the committed corpus.
pub fn user_agents() -> Vec<String> {
    let text = std::fs::read_to_string(enrich::testdata::UA_CORPUS).unwrap_or_default();
    enrich::testdata::parse_ua_corpus(&text)
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.user_agent)
        .collect()
}

/// `n` pixel query strings as the tracker sends them: page URLs with and without campaign
/// parameters, referrers from search, social, internal and none, titles, screen and language.
pub fn pixel_queries(n: usize) -> Vec<String> {
    let mut m = Mix::new(11);
    let paths = [
        "/",
        "/pricing",
        "/blog/why-we-track-less",
        "/docs/getting-started/install",
        "/shop/cart",
        "/thank-you",
    ];
    let qs = [
        "",
        "?utm_source=newsletter&utm_medium=email&utm_campaign=spring",
        "?q=shoes&page=2",
        "?pk_campaign=retargeting&pk_kwd=boots",
    ];
    let refs = [
        "",
        "",
        "https%3A%2F%2Fwww.google.com%2F",
        "https%3A%2F%2Fshop.example.com%2Fpricing",
        "https%3A%2F%2Ft.co%2Fx1y2",
        "https%3A%2F%2Fnews.ycombinator.com%2Fitem%3Fid%3D1",
    ];
    let langs = ["en-US", "de-DE", "en-GB", "fr-FR", "sv-SE"];
    let screens = ["1920&sh=1080", "390&sh=844", "1440&sh=900", "820&sh=1180"];
    (0..n)
        .map(|_| {
            let url = format!("https://shop.example.com{}{}", m.pick(&paths), m.pick(&qs));
            let mut q = String::from("s=shop-example&u=");
            q.extend(percent(&url));
            let r = m.pick(&refs);
            if !r.is_empty() {
                q.push_str("&r=");
                q.push_str(r);
            }
            q.push_str("&t=Shop+Example+%E2%80%93+Pricing&sw=");
            q.push_str(m.pick(&screens));
            q.push_str("&lang=");
            q.push_str(m.pick(&langs));
            if m.next_u64().is_multiple_of(3) {
                q.push_str("&v=v_8fK2mQ0pLx3n");
            }
            q
        })
        .collect()
}

fn percent(s: &str) -> impl Iterator<Item = char> + '_ {
    s.chars().flat_map(|c| match c {
        ':' => "%3A".chars().collect::<Vec<_>>(),
        '/' => "%2F".chars().collect(),
        '?' => "%3F".chars().collect(),
        '&' => "%26".chars().collect(),
        '=' => "%3D".chars().collect(),
        c => vec![c],
    })
}

/// An enricher over `geo` with no consent directory, as a collector without CRM data runs.
pub fn enricher(geo: Arc<dyn GeoLookup>) -> Enricher {
    Enricher::new(EnricherConfig {
        geo,
        directory: Arc::new(NoDirectory),
        keys: common::token::Keyring::parse("k1:0123456789abcdef0123"),
        replica: "bench".into(),
        ua_cache_capacity: 10_000,
    })
}

/// A stamp for hit `i`.
pub fn stamp(i: u64) -> Stamp {
    Stamp {
        event_id: uuid::Uuid::from_u128(u128::from(i) | (0x4000 << 64)),
        now_ms: 1_764_000_000_000 + i,
        salt: [3; 32],
    }
}

/// `n` enriched rows from the realistic mix (no geo database needed).
pub fn sample_hits(n: usize) -> Vec<common::hit::Hit> {
    let e = enricher(Arc::new(NoGeo));
    let queries = pixel_queries(n.min(4096));
    let ips = client_ips(n.min(4096));
    let uas = user_agents();
    (0..n)
        .filter_map(|i| {
            let raw = enrich::parse_query(&queries[i % queries.len()]).ok()?;
            let req = RequestInfo {
                ip: ips[i % ips.len()],
                user_agent: uas.get(i % uas.len().max(1)).map_or("", String::as_str),
                anonymous: false,
                method_head: false,
            };
            e.enrich(raw, &req, &stamp(i as u64)).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_is_valid_and_varied() {
        let qs = pixel_queries(200);
        for q in &qs {
            assert!(enrich::parse_query(q).is_ok(), "{q}");
        }
        let distinct: std::collections::BTreeSet<&String> = qs.iter().collect();
        assert!(distinct.len() > 50);
        assert!(user_agents().len() >= 40);
        let ips = client_ips(1000);
        assert!(ips.iter().any(IpAddr::is_ipv6) && ips.iter().any(IpAddr::is_ipv4));
        let hits = sample_hits(300);
        assert_eq!(hits.len(), 300);
        assert!(hits.iter().any(|h| h.referrer_kind == "search"));
        assert!(hits.iter().any(|h| h.referrer_kind == "campaign"));
    }
}
