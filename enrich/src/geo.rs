//! Country, region and city of a client IP, behind [`GeoLookup`] so the hot path stays pure:
//! the real MaxMind adapter, one that knows nothing, and an in-memory fake for tests.

use crate::ip::truncate_ip;
use dashmap::DashMap;
use serde::Deserialize;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, LazyLock};

/// Where an IP is. Unknown parts are empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Geo {
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
    /// ISO code of the first (largest) subdivision, e.g. `ENG`, `WA`.
    pub region: String,
    /// English city name.
    pub city: String,
}

impl Geo {
    /// A location from its three parts.
    pub fn new(country: &str, region: &str, city: &str) -> Self {
        Self {
            country: country.into(),
            region: region.into(),
            city: city.into(),
        }
    }
}

/// Looks up the location of a full (untruncated) client IP. Must not do IO per call.
pub trait GeoLookup: Send + Sync {
    /// Where `ip` is; `Geo::default()` when unknown.
    fn lookup(&self, ip: IpAddr) -> Geo;

    /// Where `ip` is, shared: a cached answer comes without copying its strings (the
    /// collector's rows borrow from it). By default a fresh copy of [`GeoLookup::lookup`].
    fn lookup_shared(&self, ip: IpAddr) -> Arc<Geo> {
        Arc::new(self.lookup(ip))
    }
}

/// No database configured: every location is unknown.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoGeo;

impl GeoLookup for NoGeo {
    fn lookup(&self, _ip: IpAddr) -> Geo {
        Geo::default()
    }

    fn lookup_shared(&self, _ip: IpAddr) -> Arc<Geo> {
        static UNKNOWN: LazyLock<Arc<Geo>> = LazyLock::new(Arc::default);
        Arc::clone(&UNKNOWN)
    }
}

/// Why a MaxMind database could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open GeoIP database {path}: {reason}")]
pub struct GeoError {
    /// The file given.
    pub path: String,
    /// What the reader said.
    pub reason: String,
}

/// A MaxMind-format City (or Country) database held in memory.
pub struct MaxMindGeo {
    /// The whole database; lookups decode only the three fields used.
    reader: maxminddb::Reader<Vec<u8>>,
    /// Decoded records by their data offset. Millions of networks share a few hundred
    /// thousand records (one per city), and traffic is concentrated on far fewer, so the
    /// tree walk stays per hit while the decoding (most of a lookup's cost) is done once.
    records: DashMap<usize, Arc<Geo>, Hasher>,
    /// Answers by truncated address (/24, /48), kept only when the database network holding
    /// the address spans that whole block, so every address in it has the same answer. It
    /// saves the tree walk, whose reads miss the CPU cache on a 60 MB database.
    blocks: DashMap<IpAddr, Arc<Geo>, Hasher>,
}

/// The caches' hasher: SipHash (the default) was most of a cache hit's cost; foldhash with a
/// per-process random seed is several times faster and still seeded against crafted keys.
type Hasher = foldhash::quality::RandomState;

/// Most entries in each cache (a few MB); when full a cache is emptied and refills.
const CACHE_ENTRIES: usize = 50_000;

impl std::fmt::Debug for MaxMindGeo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = self.reader.metadata();
        f.debug_struct("MaxMindGeo")
            .field("database_type", &m.database_type)
            .field("build_epoch", &m.build_epoch)
            .finish()
    }
}

/// Only the parts of a GeoIP2 City record the hit row stores; decoding skips the rest
/// (the localized name maps are most of each record).
#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow, default)]
    country: Option<Iso<'a>>,
    #[serde(borrow, default)]
    subdivisions: Option<Vec<Iso<'a>>>,
    #[serde(borrow, default)]
    city: Option<City<'a>>,
}

#[derive(Deserialize)]
struct Iso<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct City<'a> {
    #[serde(borrow, default)]
    names: Option<Names<'a>>,
}

#[derive(Deserialize)]
struct Names<'a> {
    #[serde(borrow, default)]
    en: Option<&'a str>,
}

impl MaxMindGeo {
    /// Reads the database at `path` into memory and checks its metadata.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, GeoError> {
        let path = path.as_ref();
        let err = |reason: String| GeoError {
            path: path.display().to_string(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        let reader = maxminddb::Reader::from_source(bytes).map_err(|e| err(e.to_string()))?;
        Ok(Self {
            reader,
            records: DashMap::default(),
            blocks: DashMap::default(),
        })
    }

    /// A lookup that always decodes the record (bypassing the record cache), to measure
    /// the cold cost.
    pub fn lookup_uncached(&self, ip: IpAddr) -> Geo {
        match self.reader.lookup(ip.to_canonical()) {
            Ok(found) => decode(found.decode::<Record<'_>>().ok().flatten()),
            Err(_) => Geo::default(),
        }
    }

    /// The database type from its metadata (e.g. `GeoLite2-City`).
    pub fn database_type(&self) -> &str {
        &self.reader.metadata().database_type
    }
}

impl GeoLookup for MaxMindGeo {
    fn lookup(&self, ip: IpAddr) -> Geo {
        Geo::clone(&self.lookup_shared(ip))
    }

    fn lookup_shared(&self, ip: IpAddr) -> Arc<Geo> {
        let ip = ip.to_canonical();
        let block = truncate_ip(ip);
        if let Some(geo) = self.blocks.get(&block) {
            return Arc::clone(geo.value());
        }
        let Ok(found) = self.reader.lookup(ip) else {
            return Arc::default();
        };
        let geo = match found.offset() {
            None => Arc::default(),
            Some(offset) => match self.records.get(&offset) {
                Some(geo) => Arc::clone(geo.value()),
                None => {
                    let geo = Arc::new(decode(found.decode::<Record<'_>>().ok().flatten()));
                    bounded_insert(&self.records, offset, Arc::clone(&geo));
                    geo
                }
            },
        };
        let spans_block = match (ip, found.network()) {
            (IpAddr::V4(_), Ok(net)) if net.is_ipv4() => net.prefix() <= 24,
            // Matched above the IPv4 subtree: the network holds all of IPv4.
            (IpAddr::V4(_), Ok(_)) => true,
            (IpAddr::V6(_), Ok(net)) => net.prefix() <= 48,
            (_, Err(_)) => false,
        };
        if spans_block {
            bounded_insert(&self.blocks, block, Arc::clone(&geo));
        }
        geo
    }
}

fn bounded_insert<K: std::hash::Hash + Eq>(
    map: &DashMap<K, Arc<Geo>, Hasher>,
    key: K,
    geo: Arc<Geo>,
) {
    if map.len() >= CACHE_ENTRIES {
        map.clear();
    }
    map.insert(key, geo);
}

/// The stored fields of a decoded record (all empty when it could not be decoded).
fn decode(record: Option<Record<'_>>) -> Geo {
    let Some(r) = record else {
        return Geo::default();
    };
    let iso = |i: Option<&Iso<'_>>| i.and_then(|i| i.iso_code).unwrap_or("").to_owned();
    Geo {
        country: iso(r.country.as_ref()),
        region: iso(r.subdivisions.as_ref().and_then(|s| s.first())),
        city: r
            .city
            .and_then(|c| c.names)
            .and_then(|n| n.en)
            .unwrap_or("")
            .to_owned(),
    }
}

/// An in-memory table of networks for tests; the longest matching prefix wins.
#[derive(Debug, Clone, Default)]
pub struct StaticGeo {
    /// (network address, prefix length, location).
    nets: Vec<(IpAddr, u8, Geo)>,
}

impl StaticGeo {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a network, e.g. `with("81.2.69.0/24", Geo::new("GB", "ENG", "London"))`.
    /// A malformed CIDR is a bug in the test that wrote it, so it panics.
    #[allow(clippy::expect_used)]
    pub fn with(mut self, cidr: &str, geo: Geo) -> Self {
        let (addr, len) = cidr.split_once('/').expect("CIDR like 10.0.0.0/8");
        let addr: IpAddr = addr.parse().expect("network address");
        let len: u8 = len.parse().expect("prefix length");
        self.nets.push((addr, len, geo));
        self
    }
}

fn bits(ip: IpAddr) -> (u128, u8) {
    match ip.to_canonical() {
        IpAddr::V4(v4) => (u128::from(v4.to_bits()) << 96, 32),
        IpAddr::V6(v6) => (v6.to_bits(), 128),
    }
}

impl GeoLookup for StaticGeo {
    fn lookup(&self, ip: IpAddr) -> Geo {
        let (ip_bits, width) = bits(ip);
        self.nets
            .iter()
            .filter(|(net, len, _)| {
                let (net_bits, net_width) = bits(*net);
                let mask = if *len == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from((*len).min(net_width)))
                };
                net_width == width && (ip_bits & mask) == (net_bits & mask)
            })
            .max_by_key(|(_, len, _)| *len)
            .map(|(_, _, g)| g.clone())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn static_geo_longest_prefix() {
        let g = StaticGeo::new()
            .with("81.2.0.0/16", Geo::new("GB", "", ""))
            .with("81.2.69.0/24", Geo::new("GB", "ENG", "London"))
            .with("2001:db8:1::/48", Geo::new("DE", "BE", "Berlin"));
        assert_eq!(g.lookup(ip("81.2.69.1")).city, "London");
        assert_eq!(g.lookup(ip("81.2.70.1")), Geo::new("GB", "", ""));
        assert_eq!(g.lookup(ip("::ffff:81.2.69.1")).city, "London");
        assert_eq!(g.lookup(ip("2001:db8:1:ffff::1")).city, "Berlin");
        assert_eq!(g.lookup(ip("2001:db8:2::1")), Geo::default());
        assert_eq!(g.lookup(ip("8.8.8.8")), Geo::default());
    }

    #[test]
    fn maxmind_fixture() {
        let db = MaxMindGeo::open(crate::testdata::TEST_MMDB).unwrap_or_else(|e| panic!("{e}"));
        let cases = [
            ("81.2.69.142", Geo::new("GB", "ENG", "London")),
            ("89.160.20.112", Geo::new("SE", "E", "Linköping")),
            ("216.160.83.56", Geo::new("US", "WA", "Milton")),
            ("2001:db8:1:2::9", Geo::new("DE", "BE", "Berlin")),
            ("::ffff:81.2.69.1", Geo::new("GB", "ENG", "London")),
            ("8.8.8.8", Geo::default()),
            ("2001:db8:2::1", Geo::default()),
        ];
        // Twice: the second round is answered from the record cache.
        for _ in 0..2 {
            for (addr, want) in &cases {
                assert_eq!(db.lookup(ip(addr)), *want, "{addr}");
            }
        }
    }

    #[test]
    fn networks_narrower_than_a_block_are_not_answered_from_the_block_cache() {
        let db = MaxMindGeo::open(crate::testdata::TEST_MMDB).unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..3 {
            assert_eq!(db.lookup(ip("2.125.161.10")).city, "Boxford");
            assert_eq!(db.lookup(ip("2.125.161.200")).city, "Oxford");
            assert_eq!(db.lookup(ip("2.125.160.200")).city, "Boxford");
        }
        assert!(db.blocks.contains_key(&ip("2.125.160.0")));
        assert!(!db.blocks.contains_key(&ip("2.125.161.0")));
    }

    #[test]
    fn open_errors_name_the_file() {
        let e = MaxMindGeo::open("/nonexistent/x.mmdb")
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|m| m.contains("/nonexistent/x.mmdb")));
        let not_db = MaxMindGeo::open(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"));
        assert!(not_db.is_err());
    }
}
