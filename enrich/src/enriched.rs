//! A tracker hit after enrichment, holding what its row borrows: the parsed hit, the cached
//! user-agent and GeoIP entries (shared, not copied), and the few derived strings on the
//! stack. The collector encodes [`Enriched::row`] straight into its batch buffer, so a hit
//! costs no allocation per column; [`Enriched::to_hit`] is the owned row for everyone else.

use crate::geo::Geo;
use crate::ip::IpText;
use crate::raw::RawHit;
use crate::ua::UaInfo;
use crate::url::Campaign;
use crate::visitor::visitor_text;
use common::hit::{Hit, HitRef};
use std::sync::Arc;

/// A known person and their account.
#[derive(Debug, Clone)]
pub(crate) struct Person {
    pub(crate) person_id: String,
    pub(crate) account_id: String,
}

/// A part of a request string, or a copy when it cannot be borrowed: a host that was not
/// lower-case already (hosts almost always are), or a text that is not in the string at all
/// (the `/` path of a URL without one).
#[derive(Debug, Clone)]
pub(crate) enum Part {
    /// Byte range into the string it was cut from.
    At(usize, usize),
    /// A copy.
    Copy(String),
}

impl Part {
    /// `inner` (a slice of `outer`) lower-cased, borrowed from `outer` when it already is.
    pub(crate) fn lowered(outer: &str, inner: &str) -> Self {
        if inner.bytes().any(|b| b.is_ascii_uppercase()) {
            Self::Copy(inner.to_ascii_lowercase())
        } else {
            Self::at(outer, inner)
        }
    }

    /// `inner` as its range in `outer` when it is a slice of it, else a copy.
    pub(crate) fn at(outer: &str, inner: &str) -> Self {
        let start = (inner.as_ptr() as usize).wrapping_sub(outer.as_ptr() as usize);
        let end = start.wrapping_add(inner.len());
        if start <= outer.len() && end <= outer.len() && start <= end {
            Self::At(start, end)
        } else {
            Self::Copy(inner.to_owned())
        }
    }

    pub(crate) fn get<'a>(&'a self, outer: &'a str) -> &'a str {
        match self {
            Self::At(start, end) => outer.get(*start..*end).unwrap_or(""),
            Self::Copy(s) => s,
        }
    }
}

/// One enriched tracker hit; see the module docs.
#[derive(Debug, Clone)]
pub struct Enriched<'e> {
    pub(crate) raw: RawHit,
    pub(crate) event_id: uuid::Uuid,
    pub(crate) now_ms: u64,
    pub(crate) host: Part,
    pub(crate) path: Part,
    pub(crate) referrer_host: Part,
    pub(crate) referrer_kind: &'static str,
    pub(crate) utm: Campaign,
    pub(crate) geo: Arc<Geo>,
    pub(crate) ua: Arc<UaInfo>,
    pub(crate) ip: IpText,
    /// The anonymous id's hex digits; None = the hit's own (consented) visitor id.
    pub(crate) visitor_hex: Option<[u8; 32]>,
    pub(crate) person: Option<Person>,
    pub(crate) replica: &'e str,
}

impl Enriched<'_> {
    /// The stored row, borrowing from this hit.
    pub fn row(&self) -> HitRef<'_> {
        let raw = &self.raw;
        let (person_id, account_id, consent) = match &self.person {
            Some(p) => (p.person_id.as_str(), p.account_id.as_str(), 1),
            None => ("", "", 0),
        };
        HitRef {
            event_id: self.event_id,
            received_at: u32::try_from(self.now_ms / 1000).unwrap_or(u32::MAX),
            ts_ms: self.now_ms,
            site: &raw.site,
            r#type: raw.kind.as_str(),
            url: &raw.url,
            host: self.host.get(&raw.url),
            path: self.path.get(&raw.url),
            title: &raw.title,
            referrer: &raw.referrer,
            referrer_host: self.referrer_host.get(&raw.referrer),
            referrer_kind: self.referrer_kind,
            utm_source: &self.utm.source,
            utm_medium: &self.utm.medium,
            utm_campaign: &self.utm.campaign,
            utm_term: &self.utm.term,
            utm_content: &self.utm.content,
            country: &self.geo.country,
            region: &self.geo.region,
            city: &self.geo.city,
            browser: &self.ua.browser,
            browser_version: &self.ua.browser_version,
            os: &self.ua.os,
            device: self.ua.device,
            is_bot: u8::from(self.ua.is_bot()),
            bot_reason: self.ua.bot_reason,
            ip: self.ip.as_str(),
            visitor_id: match &self.visitor_hex {
                Some(hex) => visitor_text(hex),
                None => &raw.visitor,
            },
            person_id,
            account_id,
            consent,
            mailing_id: "",
            link_id: "",
            verdict: "",
            event_name: &raw.event_name,
            props: &raw.props,
            client_id: &raw.client_id,
            screen_w: raw.screen_w,
            screen_h: raw.screen_h,
            lang: &raw.lang,
            replica: self.replica,
        }
    }

    /// The stored row, owned.
    pub fn to_hit(&self) -> Hit {
        self.row().to_hit()
    }

    /// The parsed hit it was enriched from.
    pub fn raw(&self) -> &RawHit {
        &self.raw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_borrow_unless_lowered() {
        let url = "https://Example.COM/Path?q";
        let host = &url[8..19];
        let lowered = Part::lowered(url, host);
        assert!(matches!(lowered, Part::Copy(_)));
        assert_eq!(lowered.get(url), "example.com");
        let path = Part::at(url, &url[19..24]);
        assert!(matches!(path, Part::At(19, 24)));
        assert_eq!(path.get(url), "/Path");
        let lower = "https://example.com/";
        assert!(matches!(
            Part::lowered(lower, &lower[8..19]),
            Part::At(8, 19)
        ));
        assert_eq!(Part::At(5, 99).get(lower), "");
        // Not a slice of the URL (the path of a URL without one): copied, not a bogus range.
        let elsewhere = Part::at(lower, "/");
        assert!(matches!(elsewhere, Part::Copy(_)));
        assert_eq!(elsewhere.get(lower), "/");
    }

    #[test]
    fn url_without_path_stores_slash() {
        let e = crate::Enricher::new(crate::EnricherConfig {
            geo: Arc::new(crate::NoGeo),
            directory: Arc::new(crate::NoDirectory),
            keys: None,
            replica: "r".into(),
            ua_cache_capacity: 4,
        });
        let req = crate::RequestInfo {
            ip: std::net::IpAddr::from([81, 2, 69, 142]),
            user_agent: "curl/8.0",
            anonymous: false,
            method_head: false,
        };
        let stamp = crate::Stamp {
            event_id: uuid::Uuid::nil(),
            now_ms: 1,
            salt: [0; 32],
        };
        for (url, host, path) in [
            ("https%3A%2F%2FExample.com", "example.com", "/"),
            ("https%3A%2F%2Fexample.com%3Fa%3D1", "example.com", "/"),
            ("https%3A%2F%2Fexample.com%2Fx%2FY", "example.com", "/x/Y"),
        ] {
            let raw = crate::parse_query(&format!("s=shop&u={url}"));
            let hit = raw.and_then(|raw| e.enrich_row(raw, &req, &stamp));
            let row = hit.as_ref().map(|h| h.row());
            assert_eq!(row.map(|r| (r.host, r.path)), Ok((host, path)), "{url}");
        }
    }
}
