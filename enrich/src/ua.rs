//! Browser, version, OS, device category and bot verdict of a user agent, from woothee plus
//! [`crate::bot`], behind a bounded cache keyed by the UA string: parsing costs microseconds,
//! while real traffic repeats a few thousand UA strings.

use dashmap::DashMap;
use std::sync::Arc;

/// What a user agent says about the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UaInfo {
    /// Browser name (e.g. `Chrome`, `Safari`), empty when unknown.
    pub browser: String,
    /// Browser version as reported.
    pub browser_version: String,
    /// Operating system (e.g. `Windows 10`, `iPhone`, `Android`).
    pub os: String,
    /// desktop, mobile, tablet, bot or other.
    pub device: &'static str,
    /// Why the client looks automated; empty for a person.
    pub bot_reason: &'static str,
    /// SHA-256 of the UA string, an input of the anonymous visitor id.
    pub digest: [u8; 32],
}

impl UaInfo {
    /// True when [`UaInfo::bot_reason`] is set.
    pub fn is_bot(&self) -> bool {
        !self.bot_reason.is_empty()
    }
}

/// UAs longer than this are classified but not cached, so one entry's memory is bounded.
const MAX_CACHED_UA: usize = 512;

fn known(s: &str) -> &str {
    if s == "UNKNOWN" {
        ""
    } else {
        s
    }
}

/// Classifies a user agent without the cache.
pub fn classify(user_agent: &str) -> UaInfo {
    let parsed = woothee::parser::Parser::new().parse(user_agent);
    let (name, category, os, version) = parsed
        .as_ref()
        .map_or(("", "", "", ""), |r| (r.name, r.category, r.os, r.version));
    let bot_reason = crate::bot::bot_reason(user_agent, category).unwrap_or("");
    let device = if !bot_reason.is_empty() {
        "bot"
    } else {
        device(category, os, user_agent)
    };
    UaInfo {
        browser: known(name).to_owned(),
        browser_version: known(version).to_owned(),
        os: known(os).to_owned(),
        device,
        bot_reason,
        digest: crate::visitor::ua_digest(user_agent),
    }
}

/// woothee says `smartphone` for phones and tablets alike; the UA tells them apart
/// (iPads and Android devices without `Mobile` are tablets).
fn device(category: &str, os: &str, ua: &str) -> &'static str {
    match category {
        "pc" => "desktop",
        "smartphone" | "mobilephone" => {
            let android_tablet = os == "Android" && !ua.contains("Mobile");
            if os == "iPad" || android_tablet || ua.contains("Tablet") {
                "tablet"
            } else {
                "mobile"
            }
        }
        "crawler" => "bot",
        _ => "other",
    }
}

/// A bounded, concurrent cache of [`classify`] results keyed by the UA string. Hashed with
/// foldhash (randomly seeded): SipHash over a 120-byte UA was most of a cache hit.
#[derive(Debug)]
pub struct UaCache {
    /// UA string -> its classification.
    map: DashMap<Box<str>, Arc<UaInfo>, foldhash::quality::RandomState>,
    /// Most entries held. When full the cache is emptied and refills with the current mix,
    /// which keeps memory bounded and lets a flood of one-off UAs (bots, attacks) pass
    /// through without pinning out the UAs real visitors send.
    capacity: usize,
}

impl UaCache {
    /// A cache of at most `capacity` entries (0 disables caching).
    pub fn new(capacity: usize) -> Self {
        Self {
            map: DashMap::with_capacity_and_hasher(capacity.min(1 << 16), Default::default()),
            capacity,
        }
    }

    /// The classification of `user_agent`, from the cache when present.
    pub fn get(&self, user_agent: &str) -> Arc<UaInfo> {
        if let Some(hit) = self.map.get(user_agent) {
            return Arc::clone(hit.value());
        }
        let info = Arc::new(classify(user_agent));
        if self.capacity > 0 && user_agent.len() <= MAX_CACHED_UA {
            if self.map.len() >= self.capacity {
                self.map.clear();
            }
            self.map.insert(user_agent.into(), Arc::clone(&info));
        }
        info
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_is_bounded_and_consistent() {
        let cache = UaCache::new(8);
        for i in 0..100 {
            let ua = format!("Mozilla/5.0 (Windows NT 10.0) Chrome/{i}.0 Safari/537.36");
            let a = cache.get(&ua);
            assert_eq!(*a, classify(&ua));
            assert!(cache.len() <= 8, "{} entries", cache.len());
        }
        let long = "x".repeat(MAX_CACHED_UA + 1);
        let before = cache.len();
        cache.get(&long);
        assert!(cache.len() <= before);
        let off = UaCache::new(0);
        off.get("curl/8.0");
        assert!(off.is_empty());
    }

    #[test]
    fn cached_value_is_reused() {
        let cache = UaCache::new(4);
        let a = cache.get("curl/8.0");
        let b = cache.get("curl/8.0");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.bot_reason, "tool");
        assert_eq!(a.device, "bot");
    }
}
