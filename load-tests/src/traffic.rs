//! Realistic hits: pixel URLs and beacon bodies with the committed user-agent list, client IPs
//! for `X-Forwarded-For`, page URLs with utm parameters, and referrers. Seeded, so a run can
//! be repeated exactly.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const USER_AGENTS: &str = include_str!("../data/user-agents.txt");

const HOSTS: &[&str] = &[
    "https://www.example.com",
    "https://shop.example.com",
    "https://docs.example.org",
];
const PATHS: &[&str] = &[
    "/",
    "/pricing",
    "/features",
    "/blog",
    "/blog/clickhouse-at-scale",
    "/blog/consent-first",
    "/products/42",
    "/products/7",
    "/signup",
    "/thank-you",
    "/contact",
    "/docs/getting-started",
];
const TITLES: &[&str] = &[
    "Home",
    "Pricing",
    "Features",
    "Blog",
    "Sign up",
    "Thank you",
    "Docs",
];
const CAMPAIGNS: &[(&str, &str, &str)] = &[
    ("newsletter", "email", "spring-launch"),
    ("google", "cpc", "brand"),
    ("linkedin", "social", "webinar-may"),
    ("partner", "referral", "reseller-q2"),
];
const REFERRERS: &[&str] = &[
    "https://www.google.com/",
    "https://www.bing.com/search?q=web+analytics",
    "https://duckduckgo.com/",
    "https://t.co/abc123",
    "https://www.linkedin.com/feed/",
    "https://news.ycombinator.com/item?id=1",
    "https://www.example.com/blog",
    "android-app://com.google.android.gm/",
];
const LANGS: &[&str] = &["en-US", "de-DE", "fr-FR", "en-GB", "nl-NL", "sv-SE"];
const SCREENS: &[(u16, u16)] = &[
    (1920, 1080),
    (1440, 900),
    (390, 844),
    (412, 915),
    (2560, 1440),
];
/// First octets of address space that is really allocated and routed (so GeoIP finds most of
/// them), biased towards Europe and North America like the sites we track.
const FIRST_OCTETS: &[u8] = &[
    2, 5, 24, 31, 37, 46, 62, 66, 67, 71, 73, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89,
    90, 91, 92, 93, 94, 95, 98, 109, 151, 176, 178, 185, 188, 193, 194, 195, 212, 213, 217,
];

/// One request the generator will send.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    /// Pixel or beacon.
    pub kind: Kind,
    /// Path and query (`/p.gif?...` or `/e`).
    pub path: String,
    /// JSON body of a beacon, empty for a pixel.
    pub body: String,
    /// The visitor's browser.
    pub user_agent: &'static str,
    /// Client IP sent as `X-Forwarded-For` (the collector trusts 127.0.0.1 in these runs).
    pub forwarded_for: String,
    /// Hits carried: 1 for a pixel, the array length for a beacon.
    pub hits: u32,
    /// False for a hit built to be rejected (it must never be stored).
    pub valid: bool,
}

/// The two public ingestion routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `GET /p.gif?...`
    Pixel,
    /// `POST /e` with a JSON array.
    Beacon,
}

/// The shape of the traffic.
#[derive(Debug, Clone)]
pub struct Mix {
    /// Run id sent as `s`, so this run's rows can be counted apart from everything else.
    pub site: String,
    /// Fraction of requests that are beacons (the rest are pixels).
    pub beacon_share: f64,
    /// Largest beacon array (1..=20 is what the tracker sends).
    pub max_batch: u32,
    /// Fraction of pixels made invalid on purpose (a non-http `u`): they must not be stored.
    pub invalid_share: f64,
}

/// Makes requests from a seeded generator.
pub struct Traffic {
    mix: Mix,
    rng: StdRng,
    user_agents: Vec<&'static str>,
}

/// The committed user agents (comments and blank lines skipped).
pub fn user_agents() -> Vec<&'static str> {
    USER_AGENTS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

impl Traffic {
    /// A generator for this mix; the same seed gives the same requests.
    pub fn new(mix: Mix, seed: u64) -> Self {
        Self {
            mix,
            rng: StdRng::seed_from_u64(seed),
            user_agents: user_agents(),
        }
    }

    /// The next request.
    pub fn next_request(&mut self) -> Planned {
        let user_agent = self.user_agent();
        let forwarded_for = self.client_ip();
        if self.rng.random::<f64>() < self.mix.beacon_share {
            let n = self.rng.random_range(1..=self.mix.max_batch.max(1));
            let items: Vec<Value> = (0..n).map(|_| self.beacon_item()).collect();
            Planned {
                kind: Kind::Beacon,
                path: "/e".into(),
                body: Value::Array(items).to_string(),
                user_agent,
                forwarded_for,
                hits: n,
                valid: true,
            }
        } else {
            let valid = self.rng.random::<f64>() >= self.mix.invalid_share;
            Planned {
                kind: Kind::Pixel,
                path: self.pixel_path(valid),
                body: String::new(),
                user_agent,
                forwarded_for,
                hits: 1,
                valid,
            }
        }
    }

    /// Skewed towards the top of the list, where the common browsers are.
    fn user_agent(&mut self) -> &'static str {
        let u: f64 = self.rng.random();
        let i = ((u * u) * self.user_agents.len() as f64) as usize;
        self.user_agents.get(i).copied().unwrap_or("Mozilla/5.0")
    }

    fn client_ip(&mut self) -> String {
        if self.rng.random_range(0..20) == 0 {
            let a: u16 = self.rng.random_range(0x2001..0x2a10);
            let b: u16 = self.rng.random();
            let c: u16 = self.rng.random();
            return format!("{a:x}:{b:x}:{c:x}::{:x}", self.rng.random::<u16>());
        }
        let first = pick(&mut self.rng, FIRST_OCTETS);
        let [b, c, d]: [u8; 3] = self.rng.random();
        format!("{first}.{b}.{c}.{}", d.max(1))
    }

    fn page_url(&mut self) -> String {
        let host = pick(&mut self.rng, HOSTS);
        let path = pick(&mut self.rng, PATHS);
        if self.rng.random_range(0..3) == 0 {
            let (s, m, c) = pick(&mut self.rng, CAMPAIGNS);
            format!("{host}{path}?utm_source={s}&utm_medium={m}&utm_campaign={c}")
        } else {
            format!("{host}{path}")
        }
    }

    fn referrer(&mut self) -> &'static str {
        if self.rng.random_range(0..3) == 0 {
            ""
        } else {
            pick(&mut self.rng, REFERRERS)
        }
    }

    fn pixel_path(&mut self, valid: bool) -> String {
        let url = if valid {
            self.page_url()
        } else {
            "ftp://files.example.com/x".to_string()
        };
        let (sw, sh) = pick(&mut self.rng, SCREENS);
        let mut q = form_urlencoded::Serializer::new(String::with_capacity(256));
        q.append_pair("s", &self.mix.site)
            .append_pair("e", "pageview")
            .append_pair("u", &url)
            .append_pair("r", self.referrer())
            .append_pair("t", pick(&mut self.rng, TITLES))
            .append_pair("sw", &sw.to_string())
            .append_pair("sh", &sh.to_string())
            .append_pair("lang", pick(&mut self.rng, LANGS))
            .append_pair("id", &uuid::Uuid::from_u128(self.rng.random()).to_string());
        format!("/p.gif?{}", q.finish())
    }

    fn beacon_item(&mut self) -> Value {
        let id = uuid::Uuid::from_u128(self.rng.random()).to_string();
        let u = self.page_url();
        let r = self.referrer();
        let lang = pick(&mut self.rng, LANGS);
        match self.rng.random_range(0..10) {
            0..=5 => json!({"s": self.mix.site, "e": "pageview", "u": u, "r": r,
                            "t": pick(&mut self.rng, TITLES), "lang": lang, "id": id}),
            6 | 7 => json!({"s": self.mix.site, "e": "event", "u": u, "n": "signup",
                            "p": {"plan": "pro", "seats": 5}, "id": id}),
            8 => json!({"s": self.mix.site, "e": "ping", "u": u, "id": id}),
            _ => json!({"s": self.mix.site, "e": "outbound", "u": u,
                        "n": "https://partner.example.net/offer", "id": id}),
        }
    }
}

fn pick<T: Copy>(rng: &mut StdRng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mix(beacon_share: f64, invalid_share: f64) -> Mix {
        Mix {
            site: "run-1".into(),
            beacon_share,
            max_batch: 20,
            invalid_share,
        }
    }

    #[test]
    fn same_seed_same_requests() {
        let a: Vec<_> = {
            let mut t = Traffic::new(mix(0.3, 0.0), 7);
            (0..50).map(|_| t.next_request()).collect()
        };
        let b: Vec<_> = {
            let mut t = Traffic::new(mix(0.3, 0.0), 7);
            (0..50).map(|_| t.next_request()).collect()
        };
        assert_eq!(a, b);
    }

    #[test]
    fn pixels_carry_the_required_fields() {
        let mut t = Traffic::new(mix(0.0, 0.0), 1);
        for _ in 0..200 {
            let p = t.next_request();
            assert_eq!(p.kind, Kind::Pixel);
            let url = url::Url::parse(&format!("http://127.0.0.1{}", p.path)).expect("valid url");
            let q: std::collections::HashMap<_, _> = url.query_pairs().collect();
            assert_eq!(q.get("s").map(|s| s.as_ref()), Some("run-1"));
            let u = q.get("u").expect("u present");
            assert!(u.starts_with("https://"), "{u}");
            assert!(uuid::Uuid::parse_str(q.get("id").expect("id")).is_ok());
            assert!(!p.user_agent.is_empty());
            assert!(
                p.forwarded_for.parse::<std::net::IpAddr>().is_ok(),
                "{}",
                p.forwarded_for
            );
        }
    }

    #[test]
    fn beacons_are_arrays_of_1_to_20_with_unique_ids() {
        let mut t = Traffic::new(mix(1.0, 0.0), 2);
        let mut ids = std::collections::HashSet::new();
        let mut sizes = std::collections::HashSet::new();
        for _ in 0..300 {
            let p = t.next_request();
            assert_eq!(p.kind, Kind::Beacon);
            let v: Value = serde_json::from_str(&p.body).expect("json");
            let arr = v.as_array().expect("array");
            assert_eq!(arr.len() as u32, p.hits);
            sizes.insert(arr.len());
            for item in arr {
                assert_eq!(item["s"], "run-1");
                assert!(ids.insert(item["id"].as_str().expect("id").to_string()));
            }
        }
        assert!(
            sizes.contains(&1) && sizes.contains(&20) && sizes.iter().all(|s| (1..=20).contains(s))
        );
    }

    #[test]
    fn invalid_share_makes_non_http_pixels_only() {
        let mut t = Traffic::new(mix(0.5, 0.5), 3);
        let (mut bad, mut n) = (0, 0);
        for _ in 0..1000 {
            let p = t.next_request();
            n += 1;
            if !p.valid {
                bad += 1;
                assert_eq!(p.kind, Kind::Pixel);
                assert!(p.path.contains("u=ftp%3A%2F%2F"));
            }
        }
        assert!(bad > n / 8 && bad < n / 2, "{bad} of {n}");
    }

    #[test]
    fn user_agent_list_has_browsers_and_bots() {
        let uas = user_agents();
        assert!(uas.len() >= 30);
        assert!(uas.iter().any(|u| u.contains("Googlebot")));
        assert!(uas.iter().any(|u| u.contains("iPhone")));
        assert!(uas.iter().all(|u| !u.starts_with('#')));
    }
}
