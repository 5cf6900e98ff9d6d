//! A fast, strict split of an absolute http(s) URL into host, path and query, and the
//! campaign parameters (utm_*, with the Matomo `mtm_*` / `pk_*` aliases) of its query.
//!
//! Hand-rolled rather than `url::Url::parse` because it runs for every hit twice (page and
//! referrer) and the hot path has a sub-microsecond budget; it only has to find the pieces
//! the hit row stores, not normalise the URL.

/// The pieces of an absolute http(s) URL, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlParts<'a> {
    /// Host as written (IPv6 literals keep their brackets); lower-case it before storing.
    pub host: &'a str,
    /// Path without query or fragment; `/` when the URL has none.
    pub path: &'a str,
    /// Query without the `?` and without the fragment; empty when absent.
    pub query: &'a str,
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Splits `url` if it is an absolute `http://` or `https://` URL with a non-empty host and
/// no whitespace, control characters or backslashes; `None` otherwise.
pub fn split_http_url(url: &str) -> Option<UrlParts<'_>> {
    // A branch-free fold the compiler vectorises: refuse what no URL may hold.
    let bad = url.bytes().fold(false, |acc, b| {
        acc | (b <= b' ') | (b == 0x7f) | (b == b'\\')
    });
    if bad {
        return None;
    }
    let hash = url.find('#').unwrap_or(url.len());
    let scheme_len = if strip_prefix_ci(url, "https://").is_some() {
        8
    } else if strip_prefix_ci(url, "http://").is_some() {
        7
    } else {
        return None;
    };
    let head = &url[..hash];
    let rest = &head[scheme_len..];
    let end = rest
        .bytes()
        .position(|b| b == b'/' || b == b'?')
        .unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    // Userinfo is never stored in host; the last '@' ends it (as browsers parse it).
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let host = if host_port.starts_with('[') {
        let close = host_port.find(']')?;
        let (h, port) = host_port.split_at(close + 1);
        valid_port(port)?;
        h
    } else {
        let (h, port) = host_port.split_once(':').unwrap_or((host_port, ""));
        if !port.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        h
    };
    if host.is_empty() || host.starts_with('.') || host.as_bytes().windows(2).any(|w| w == b"..") {
        return None;
    }
    let (path, query) = match tail.bytes().position(|b| b == b'?') {
        Some(q) => (&tail[..q], &tail[q + 1..]),
        None => (tail, ""),
    };
    let path = if path.is_empty() { "/" } else { path };
    Some(UrlParts { host, path, query })
}

fn valid_port(rest: &str) -> Option<()> {
    match rest.strip_prefix(':') {
        None if rest.is_empty() => Some(()),
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => Some(()),
        _ => None,
    }
}

/// The five campaign fields read from a page URL's query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Campaign {
    /// utm_source / mtm_source / pk_source.
    pub source: String,
    /// utm_medium / mtm_medium / pk_medium.
    pub medium: String,
    /// utm_campaign / mtm_campaign / pk_campaign (and short forms).
    pub campaign: String,
    /// utm_term / mtm_keyword / pk_kwd (and short forms).
    pub term: String,
    /// utm_content / mtm_content / pk_content.
    pub content: String,
}

impl Campaign {
    /// True when any campaign field is set, which makes the visit a `campaign` arrival.
    pub fn is_present(&self) -> bool {
        !(self.source.is_empty()
            && self.medium.is_empty()
            && self.campaign.is_empty()
            && self.term.is_empty()
            && self.content.is_empty())
    }
}

/// Longest campaign value kept, in bytes; longer ones are cut on a char boundary.
const MAX_CAMPAIGN_VALUE: usize = 256;

/// Which campaign slot a query key fills and how strong it is (0 = utm_, the standard, wins
/// over the Matomo aliases whatever their order in the URL).
fn slot(key: &str) -> Option<(usize, u8)> {
    Some(match key {
        "utm_source" => (0, 0),
        "mtm_source" | "pk_source" | "matomo_source" => (0, 1),
        "utm_medium" => (1, 0),
        "mtm_medium" | "pk_medium" | "matomo_medium" => (1, 1),
        "utm_campaign" => (2, 0),
        "mtm_campaign" | "pk_campaign" | "matomo_campaign" | "mtm_cpn" | "pk_cpn" | "mtm_c"
        | "pk_c" | "piwik_campaign" => (2, 1),
        "utm_term" => (3, 0),
        "mtm_keyword" | "mtm_kwd" | "pk_kwd" | "pk_keyword" | "mtm_k" | "pk_k" | "matomo_kwd"
        | "piwik_kwd" => (3, 1),
        "utm_content" => (4, 0),
        "mtm_content" | "pk_content" | "matomo_content" => (4, 1),
        _ => return None,
    })
}

/// Reads the campaign fields from a URL query (lenient decoding: a page URL with odd
/// encoding is still a valid hit, so bad escapes are kept as written). Pairs are looked at
/// raw first, and only a pair that is escaped or names a campaign key is decoded, so the
/// usual query costs no allocation beyond the kept values.
pub fn campaign(query: &str) -> Campaign {
    let mut values: [(String, u8); 5] = Default::default();
    if !query.contains('_') {
        return Campaign::default();
    }
    let escaped = |s: &str| s.bytes().any(|b| b == b'%' || b == b'+');
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let decoded;
        let (key, value): (&str, &str) = if escaped(pair) {
            // Rare: decode this pair exactly as form_urlencoded does (lossy UTF-8).
            let Some((k, v)) = form_urlencoded::parse(pair.as_bytes()).next() else {
                continue;
            };
            decoded = (k, v);
            (&decoded.0, &decoded.1)
        } else {
            (raw_key, raw_value)
        };
        let Some((i, rank)) = slot(key) else { continue };
        let (cur, cur_rank) = &mut values[i];
        if value.is_empty() || (!cur.is_empty() && *cur_rank <= rank) {
            continue;
        }
        *cur = cut(value, MAX_CAMPAIGN_VALUE).to_string();
        *cur_rank = rank;
    }
    let [source, medium, campaign, term, content] = values.map(|(v, _)| v);
    Campaign {
        source,
        medium,
        campaign,
        term,
        content,
    }
}

/// `s` cut to at most `max` bytes on a char boundary.
pub(crate) fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits() {
        type Parts<'a> = Option<(&'a str, &'a str, &'a str)>;
        let cases: &[(&str, Parts)] = &[
            ("https://Example.com", Some(("Example.com", "/", ""))),
            ("http://a.b/c/d?x=1#f", Some(("a.b", "/c/d", "x=1"))),
            ("HTTPS://a.b:8443/p#frag?no", Some(("a.b", "/p", ""))),
            ("https://u:pw@a.b/x", Some(("a.b", "/x", ""))),
            (
                "https://[2001:db8::1]:80/x?q",
                Some(("[2001:db8::1]", "/x", "q")),
            ),
            ("https://a.b?q=1", Some(("a.b", "/", "q=1"))),
            ("https://a.b/ö", Some(("a.b", "/ö", ""))),
            ("ftp://a.b/", None),
            ("javascript:alert(1)", None),
            ("//a.b/", None),
            ("https://", None),
            ("https:///x", None),
            ("https://a b/", None),
            ("https://a.b/\n", None),
            ("https://a.b:80x/", None),
            ("https:\\\\a.b", None),
            ("https://[::1/", None),
            ("https://..evil/", None),
            ("/relative", None),
            ("", None),
        ];
        for (url, want) in cases {
            let got = split_http_url(url).map(|p| (p.host, p.path, p.query));
            assert_eq!(got, *want, "{url}");
        }
    }

    #[test]
    fn campaign_fields_and_aliases() {
        let c = campaign("utm_source=news&utm_medium=email&utm_campaign=spring%20sale&x=1");
        assert_eq!(
            (c.source.as_str(), c.medium.as_str(), c.campaign.as_str()),
            ("news", "email", "spring sale")
        );
        assert!(c.is_present());
        let m = campaign("pk_campaign=c1&pk_kwd=shoes&mtm_source=nl&mtm_content=hero");
        assert_eq!(m.campaign, "c1");
        assert_eq!(m.term, "shoes");
        assert_eq!(m.source, "nl");
        assert_eq!(m.content, "hero");
        // utm_ wins over an alias whichever comes first.
        assert_eq!(campaign("pk_source=a&utm_source=b").source, "b");
        assert_eq!(campaign("utm_source=b&pk_source=a").source, "b");
        assert!(!campaign("q=1&page=2").is_present());
        assert!(!campaign("utm_source=").is_present());
        assert_eq!(campaign("utm_term=%ZZ").term, "%ZZ");
        assert_eq!(campaign("utm%5Fsource=a+b&utm_x=1").source, "a b");
        assert_eq!(campaign("utm_source&utm_medium=m=n").medium, "m=n");
        assert_eq!(campaign("&&utm_content=%C3%A9&").content, "é");
        assert_eq!(
            campaign(&format!("utm_term={}", "é".repeat(200)))
                .term
                .len(),
            256
        );
    }
}
