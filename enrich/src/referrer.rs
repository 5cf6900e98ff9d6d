//! Referrer kind: direct, internal, search, social, email, campaign or other, from the host
//! lists in `data/referrers.txt`.

use std::collections::HashMap;
use std::sync::LazyLock;

/// Host lists, parsed once.
struct Lists {
    /// Exact host (and its subdomains) -> kind.
    hosts: HashMap<&'static str, &'static str>,
    /// `name.*` entries: name -> kind.
    any_tld: HashMap<&'static str, &'static str>,
}

static LISTS: LazyLock<Lists> = LazyLock::new(|| parse(include_str!("../data/referrers.txt")));

fn parse(text: &'static str) -> Lists {
    let mut lists = Lists {
        hosts: HashMap::new(),
        any_tld: HashMap::new(),
    };
    let mut kind = "other";
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(k) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            kind = match k {
                "search" => "search",
                "social" => "social",
                "email" => "email",
                _ => "other",
            };
            continue;
        }
        match line.strip_suffix(".*") {
            Some(name) => lists.any_tld.insert(name, kind),
            None => lists.hosts.insert(line, kind),
        };
    }
    lists
}

/// True for the tail of a host that looks like a (country) TLD: one or two short labels,
/// as in `de`, `com`, `co.uk`, `com.br`.
fn tld_like(tail: &str) -> bool {
    let mut n = 0;
    for label in tail.split('.') {
        n += 1;
        if label.is_empty() || label.len() > 3 || n > 2 {
            return false;
        }
    }
    true
}

/// The kind a known referrer host has in the lists, or None. `host` is lower-case.
fn listed(host: &str) -> Option<&'static str> {
    let lists = &*LISTS;
    let mut suffix = host;
    loop {
        if let Some(kind) = lists.hosts.get(suffix) {
            return Some(kind);
        }
        if let Some((name, tail)) = suffix.split_once('.') {
            if tld_like(tail) {
                if let Some(kind) = lists.any_tld.get(name) {
                    return Some(kind);
                }
            }
            suffix = tail;
        } else {
            return None;
        }
    }
}

/// True when `referrer_host` is the page's host or a subdomain of it (a leading `www.` of the
/// page host is ignored, so `blog.example.com` is internal to `www.example.com`).
fn internal(referrer_host: &str, page_host: &str) -> bool {
    let base = page_host.strip_prefix("www.").unwrap_or(page_host);
    referrer_host == page_host
        || referrer_host == base
        || referrer_host
            .strip_suffix(base)
            .is_some_and(|head| head.ends_with('.'))
}

/// The kind of a visit's referrer. Hosts are lower-case; `referrer_host` is empty when there
/// is no referrer or it is not an http(s) URL (`referrer_present` tells those apart).
/// Order: internal navigation first (so a utm-tagged internal link does not start a new
/// campaign visit), then campaign parameters, then no referrer = direct, then the lists.
pub fn referrer_kind(
    referrer_present: bool,
    referrer_host: &str,
    page_host: &str,
    has_campaign: bool,
) -> &'static str {
    if !referrer_host.is_empty() && internal(referrer_host, page_host) {
        return "internal";
    }
    if has_campaign {
        return "campaign";
    }
    if !referrer_present {
        return "direct";
    }
    listed(referrer_host).unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let page = "www.shop.example";
        let cases: &[(bool, &str, bool, &str)] = &[
            (false, "", false, "direct"),
            (false, "", true, "campaign"),
            (true, "www.shop.example", false, "internal"),
            (true, "shop.example", false, "internal"),
            (true, "blog.shop.example", true, "internal"),
            (true, "notshop.example", false, "other"),
            (true, "www.google.com", false, "search"),
            (true, "www.google.co.uk", false, "search"),
            (true, "google.de", false, "search"),
            (true, "www.google.com", true, "campaign"),
            (true, "mail.google.com", false, "email"),
            (true, "outlook.live.com", false, "email"),
            (true, "duckduckgo.com", false, "search"),
            (true, "search.yahoo.com", false, "search"),
            (true, "de.search.yahoo.com", false, "search"),
            (true, "t.co", false, "social"),
            (true, "l.facebook.com", false, "social"),
            (true, "www.linkedin.com", false, "social"),
            (true, "news.ycombinator.com", false, "social"),
            (true, "google.evil.example.com", false, "other"),
            (true, "example.org", false, "other"),
            (true, "", false, "other"),
        ];
        for (present, host, campaign, want) in cases {
            assert_eq!(
                referrer_kind(*present, host, page, *campaign),
                *want,
                "{host} campaign={campaign}"
            );
        }
    }

    #[test]
    fn every_list_line_is_lower_case_and_in_a_section() {
        let lists = &*LISTS;
        assert!(lists.hosts.len() > 50);
        for (h, k) in lists.hosts.iter().chain(lists.any_tld.iter()) {
            assert_eq!(*h, h.to_ascii_lowercase());
            assert_ne!(*k, "other", "{h} outside a known section");
        }
    }
}
