//! Enrichment: a parsed hit plus what the request says (IP, UA, privacy signals) plus the
//! caller's stamp (id, time, salt) becomes a stored row. Pure: lookups come in behind traits
//! and the clock and randomness come from the caller.

use crate::directory::Directory;
use crate::enriched::{Enriched, Part, Person};
use crate::error::Rejection;
use crate::geo::GeoLookup;
use crate::ip::{ip_text, truncate_ip, IpText};
use crate::raw::RawHit;
use crate::referrer::referrer_kind;
use crate::ua::{UaCache, UaInfo};
use crate::url::{campaign, split_http_url};
use crate::visitor::{visitor_hex, visitor_id_with_ua_digest};
use common::hit::Hit;
use common::token::{Claims, Keyring, TokenKind};
use std::net::IpAddr;
use std::sync::Arc;

/// What the request (not the hit) tells about the client.
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'a> {
    /// Full client IP, already resolved from the socket / trusted `X-Forwarded-For`.
    pub ip: IpAddr,
    /// `User-Agent` header, empty when absent.
    pub user_agent: &'a str,
    /// `DNT: 1` or `Sec-GPC: 1`: count the hit anonymously whatever it carries.
    pub anonymous: bool,
    /// The request was a HEAD (link scanners often probe that way).
    pub method_head: bool,
}

/// What the caller decides for each hit: its id, the time, and today's salt.
#[derive(Debug, Clone, Copy)]
pub struct Stamp {
    /// The hit's `event_id`.
    pub event_id: uuid::Uuid,
    /// Acceptance time, Unix milliseconds.
    pub now_ms: u64,
    /// Today's visitor-hash salt; the caller rotates it daily and forgets old ones.
    pub salt: [u8; 32],
}

/// What an [`Enricher`] is built from.
pub struct EnricherConfig {
    /// Location of a full IP.
    pub geo: Arc<dyn GeoLookup>,
    /// Consent and visitor links.
    pub directory: Arc<dyn Directory>,
    /// `LINK_KEYS`, to verify person tokens; None = `pt` is never trusted.
    pub keys: Option<Keyring>,
    /// Name of this collector replica, stored on every hit.
    pub replica: String,
    /// Most user agents kept in the parse cache.
    pub ua_cache_capacity: usize,
}

/// Turns parsed hits into rows. Shared by all request handlers (`Send + Sync`).
pub struct Enricher {
    /// Location of a full IP.
    geo: Arc<dyn GeoLookup>,
    /// Consent and visitor links.
    directory: Arc<dyn Directory>,
    /// Verifies `pt`.
    keys: Option<Keyring>,
    /// Stored on every hit.
    replica: String,
    /// Parsed user agents.
    ua: UaCache,
}

impl std::fmt::Debug for Enricher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enricher")
            .field("replica", &self.replica)
            .field("keys", &self.keys)
            .field("ua_cached", &self.ua.len())
            .finish_non_exhaustive()
    }
}

impl Enricher {
    /// An enricher over the given lookups.
    pub fn new(config: EnricherConfig) -> Self {
        Self {
            geo: config.geo,
            directory: config.directory,
            keys: config.keys,
            replica: config.replica,
            ua: UaCache::new(config.ua_cache_capacity),
        }
    }

    /// The user-agent classification (cached), for callers that need it without a hit.
    pub fn user_agent(&self, user_agent: &str) -> Arc<UaInfo> {
        self.ua.get(user_agent)
    }

    /// Enriches a parsed tracker hit into an owned row (the collector encodes
    /// [`Enricher::enrich_row`]'s borrowed row instead; both give the same row).
    pub fn enrich(
        &self,
        raw: RawHit,
        req: &RequestInfo<'_>,
        stamp: &Stamp,
    ) -> Result<Hit, Rejection> {
        self.enrich_row(raw, req, stamp).map(|e| e.to_hit())
    }

    /// Enriches a parsed tracker hit, keeping what its row borrows (see [`Enriched`]).
    pub fn enrich_row(
        &self,
        raw: RawHit,
        req: &RequestInfo<'_>,
        stamp: &Stamp,
    ) -> Result<Enriched<'_>, Rejection> {
        let page = split_http_url(&raw.url)
            .ok_or_else(|| Rejection::new("u", "bad_url", "`u` must be an absolute http(s) URL"))?;
        let host = Part::lowered(&raw.url, page.host);
        let path = Part::at(&raw.url, page.path);
        let utm = campaign(page.query);
        let referrer_host = match split_http_url(&raw.referrer) {
            Some(r) => Part::lowered(&raw.referrer, r.host),
            None => Part::At(0, 0),
        };
        let kind = referrer_kind(
            !raw.referrer.is_empty(),
            referrer_host.get(&raw.referrer),
            host.get(&raw.url),
            utm.is_present(),
        );
        let person = self.person(&raw, req, stamp);
        let ua = self.ua.get(req.user_agent);
        let visitor_hex = (raw.visitor.is_empty() || req.anonymous)
            .then(|| visitor_hex(&stamp.salt, &raw.site, req.ip, &ua.digest));
        Ok(Enriched {
            event_id: stamp.event_id,
            now_ms: stamp.now_ms,
            host,
            path,
            referrer_host,
            referrer_kind: kind,
            utm,
            geo: self.geo.lookup_shared(req.ip),
            ua,
            ip: IpText::new(truncate_ip(req.ip)),
            visitor_hex,
            person,
            replica: &self.replica,
            raw,
        })
    }

    /// A mailing open or click from verified claims (kind Open or Click; a Person token is
    /// recorded as an open). The person is kept only while their consent stands and the
    /// request does not ask for anonymity; the mailing and link always are.
    pub fn mailing_event(&self, claims: &Claims, req: &RequestInfo<'_>, stamp: &Stamp) -> Hit {
        let (mut hit, ua) = self.base(req, stamp);
        hit.r#type = match claims.kind {
            TokenKind::Click => "click",
            TokenKind::Open | TokenKind::Person => "open",
        }
        .to_owned();
        hit.mailing_id = claims.mailing_id.clone();
        hit.link_id = claims.link_id.clone();
        if claims.kind == TokenKind::Click {
            hit.url = claims.url.clone();
            if let Some(parts) = split_http_url(&claims.url) {
                hit.host = parts.host.to_ascii_lowercase();
                hit.path = parts.path.to_owned();
            }
        }
        hit.referrer_kind = "email".to_owned();
        let account = (!req.anonymous)
            .then(|| self.directory.consented_person(&claims.person_id))
            .flatten();
        if let Some(account_id) = account {
            hit.person_id = claims.person_id.clone();
            hit.account_id = account_id;
            hit.consent = 1;
        }
        hit.visitor_id = visitor_id_with_ua_digest(&stamp.salt, "", req.ip, &ua.digest);
        // The machine-open / scanner verdict is decided by later work; until then say so.
        hit.verdict = "unknown".to_owned();
        hit
    }

    /// The fields every row gets from the request and the stamp: id, times, replica, geo
    /// (from the full IP), the truncated IP, and the user-agent fields; and the UA's entry.
    fn base(&self, req: &RequestInfo<'_>, stamp: &Stamp) -> (Hit, Arc<UaInfo>) {
        let geo = self.geo.lookup(req.ip);
        let ua = self.ua.get(req.user_agent);
        let hit = Hit {
            event_id: stamp.event_id,
            received_at: u32::try_from(stamp.now_ms / 1000).unwrap_or(u32::MAX),
            ts_ms: stamp.now_ms,
            country: geo.country,
            region: geo.region,
            city: geo.city,
            browser: ua.browser.clone(),
            browser_version: ua.browser_version.clone(),
            os: ua.os.clone(),
            device: ua.device.to_owned(),
            is_bot: u8::from(ua.is_bot()),
            bot_reason: ua.bot_reason.to_owned(),
            ip: ip_text(truncate_ip(req.ip)),
            replica: self.replica.clone(),
            ..Hit::default()
        };
        (hit, ua)
    }

    /// The person a hit belongs to: through a valid `pt` of a consented person, else through
    /// a consented visitor link; never when the request asks for anonymity. A bad `pt` is
    /// ignored, not refused: the page view itself is still worth counting.
    fn person(&self, raw: &RawHit, req: &RequestInfo<'_>, stamp: &Stamp) -> Option<Person> {
        if req.anonymous {
            return None;
        }
        if let (Some(keys), false) = (&self.keys, raw.person_token.is_empty()) {
            let now_s = u32::try_from(stamp.now_ms / 1000).unwrap_or(u32::MAX);
            if let Ok(claims) = keys.verify_kind(&raw.person_token, TokenKind::Person, now_s) {
                if let Some(account_id) = self.directory.consented_person(&claims.person_id) {
                    return Some(Person {
                        person_id: claims.person_id,
                        account_id,
                    });
                }
            }
        }
        if raw.visitor.is_empty() {
            return None;
        }
        let (person_id, account_id) = self.directory.person_of_visitor(&raw.site, &raw.visitor)?;
        Some(Person {
            person_id,
            account_id,
        })
    }
}
