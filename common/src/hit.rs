//! The hit row: one accepted hit as stored in `hits`, and its RowBinary encoding.
//!
//! The collector encodes batches itself (rather than through the crate's `Inserter`) so that
//! it owns the exact bytes of each batch: the same bytes are retried, spooled to disk and
//! replayed, and a replay can never differ from the first attempt.

pub use crate::hit_ref::HitRef;
use bytes::{BufMut, BytesMut};
use serde::Serialize;
use uuid::Uuid;

/// Hit types accepted from the tracker (`e`), plus the mailing events `open` and `click`.
pub const HIT_TYPES: &[&str] = &[
    "pageview", "event", "ping", "outbound", "download", "open", "click",
];

/// One row of `hits`. Unknown strings are empty, never absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Hit {
    /// Unique id given at acceptance; replays carry the same id.
    pub event_id: Uuid,
    /// Acceptance time, Unix seconds (UTC).
    pub received_at: u32,
    /// Acceptance time, Unix milliseconds, for ordering and time on page.
    pub ts_ms: u64,
    /// Site id (`s`).
    pub site: String,
    /// One of [`HIT_TYPES`].
    pub r#type: String,
    /// Page URL as sent (`u`).
    pub url: String,
    /// Host of the page URL, lower-case.
    pub host: String,
    /// Path of the page URL without query or fragment.
    pub path: String,
    /// Page title (`t`).
    pub title: String,
    /// Referrer URL (`r`).
    pub referrer: String,
    /// Host of the referrer.
    pub referrer_host: String,
    /// direct, internal, search, social, email, campaign or other.
    pub referrer_kind: String,
    /// utm_source (or mtm_/pk_ alias) from the page URL.
    pub utm_source: String,
    /// utm_medium.
    pub utm_medium: String,
    /// utm_campaign.
    pub utm_campaign: String,
    /// utm_term.
    pub utm_term: String,
    /// utm_content.
    pub utm_content: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
    /// First subdivision ISO code.
    pub region: String,
    /// City, English name.
    pub city: String,
    /// Browser name from the user agent.
    pub browser: String,
    /// Browser version.
    pub browser_version: String,
    /// Operating system.
    pub os: String,
    /// desktop, mobile, tablet, bot or other.
    pub device: String,
    /// 1 when the hit looks automated.
    pub is_bot: u8,
    /// Why it looks automated (crawler, headless, monitor, ...).
    pub bot_reason: String,
    /// Client IP, truncated (v4 /24, v6 /48) before it gets here.
    pub ip: String,
    /// Consented visitor id, or the daily-salted anonymous hash.
    pub visitor_id: String,
    /// Known person, only through a valid token while consent stands.
    pub person_id: String,
    /// The person's account.
    pub account_id: String,
    /// Consent state the hit was taken under: 0 anonymous, 1 person-level consent.
    pub consent: u8,
    /// Mailing of an open/click (or of the click that identified the visitor).
    pub mailing_id: String,
    /// Link of a click.
    pub link_id: String,
    /// Machine verdict of a mailing event: human, apple_mpp, scanner, unknown.
    pub verdict: String,
    /// Custom event name (`n`).
    pub event_name: String,
    /// Custom event properties, flat JSON object (`p`).
    pub props: String,
    /// Event id chosen by the client (`id`), for de-duplication of client retries.
    pub client_id: String,
    /// Screen width.
    pub screen_w: u16,
    /// Screen height.
    pub screen_h: u16,
    /// Browser language.
    pub lang: String,
    /// Which collector replica accepted the hit.
    pub replica: String,
}

/// Column list of `hits`, in RowBinary order.
pub const HIT_COLUMNS: &str = "event_id, received_at, ts_ms, site, type, url, host, path, title, \
referrer, referrer_host, referrer_kind, utm_source, utm_medium, utm_campaign, utm_term, \
utm_content, country, region, city, browser, browser_version, os, device, is_bot, bot_reason, \
ip, visitor_id, person_id, account_id, consent, mailing_id, link_id, verdict, event_name, props, \
client_id, screen_w, screen_h, lang, replica";

/// The INSERT statement a batch of encoded hits is sent with.
pub fn hits_insert_sql() -> String {
    format!("INSERT INTO hits ({HIT_COLUMNS}) FORMAT RowBinary")
}

pub(crate) fn put_str(buf: &mut BytesMut, s: &str) {
    let mut len = s.len() as u64;
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            buf.put_u8(byte);
            break;
        }
        buf.put_u8(byte | 0x80);
    }
    buf.put_slice(s.as_bytes());
}

/// ClickHouse stores a UUID as two little-endian u64 halves, high half first.
pub(crate) fn put_uuid(buf: &mut BytesMut, id: &Uuid) {
    let (hi, lo) = id.as_u64_pair();
    buf.put_u64_le(hi);
    buf.put_u64_le(lo);
}

impl Hit {
    /// Appends this row in RowBinary, columns as in [`HIT_COLUMNS`] (through [`HitRef`], so
    /// the owned and the borrowed row encode alike).
    pub fn encode(&self, buf: &mut BytesMut) {
        self.row().encode(buf);
    }

    /// A batch of rows as one RowBinary body.
    pub fn encode_batch(hits: &[Hit]) -> bytes::Bytes {
        let mut buf = BytesMut::with_capacity(hits.len() * 384);
        for h in hits {
            h.encode(&mut buf);
        }
        buf.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_count_matches_encoder() {
        let cols = HIT_COLUMNS.split(',').count();
        assert_eq!(cols, 41);
        // 1 uuid + 2 times + 21 strings + is_bot + 5 strings + consent + 6 strings + 2 u16 + 2 strings
        assert_eq!(1 + 2 + 21 + 1 + 5 + 1 + 6 + 2 + 2, cols);
    }

    #[test]
    fn varint_lengths() {
        let mut b = BytesMut::new();
        put_str(&mut b, &"x".repeat(300));
        assert_eq!(&b[..2], &[0xac, 0x02]);
        assert_eq!(b.len(), 302);
    }

    #[test]
    fn uuid_halves_high_first() {
        let id = Uuid::from_u128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10);
        let mut b = BytesMut::new();
        put_uuid(&mut b, &id);
        assert_eq!(&b[..8], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(&b[8..], &[0x10, 0x0f, 0x0e, 0x0d, 0x0c, 0x0b, 0x0a, 9]);
    }
}
