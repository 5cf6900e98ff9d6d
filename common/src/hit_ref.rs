//! The hit row borrowed: the same columns as [`Hit`] as `&str`s, so the collector can encode a
//! row straight from the parsed request, the cached user-agent and GeoIP entries and a few
//! stack-sized strings, with no allocation per field. [`Hit::encode`] goes through it, so the
//! owned and the borrowed row can never encode differently.

use crate::hit::{put_str, put_uuid, Hit};
use bytes::{BufMut, BytesMut};
use uuid::Uuid;

/// One row of `hits`, borrowing its strings. Field meanings as in [`Hit`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(missing_docs)] // documented on `Hit`, field for field
pub struct HitRef<'a> {
    pub event_id: Uuid,
    pub received_at: u32,
    pub ts_ms: u64,
    pub site: &'a str,
    pub r#type: &'a str,
    pub url: &'a str,
    pub host: &'a str,
    pub path: &'a str,
    pub title: &'a str,
    pub referrer: &'a str,
    pub referrer_host: &'a str,
    pub referrer_kind: &'a str,
    pub utm_source: &'a str,
    pub utm_medium: &'a str,
    pub utm_campaign: &'a str,
    pub utm_term: &'a str,
    pub utm_content: &'a str,
    pub country: &'a str,
    pub region: &'a str,
    pub city: &'a str,
    pub browser: &'a str,
    pub browser_version: &'a str,
    pub os: &'a str,
    pub device: &'a str,
    pub is_bot: u8,
    pub bot_reason: &'a str,
    pub ip: &'a str,
    pub visitor_id: &'a str,
    pub person_id: &'a str,
    pub account_id: &'a str,
    pub consent: u8,
    pub mailing_id: &'a str,
    pub link_id: &'a str,
    pub verdict: &'a str,
    pub event_name: &'a str,
    pub props: &'a str,
    pub client_id: &'a str,
    pub screen_w: u16,
    pub screen_h: u16,
    pub lang: &'a str,
    pub replica: &'a str,
}

impl Hit {
    /// This row, borrowed.
    pub fn row(&self) -> HitRef<'_> {
        HitRef {
            event_id: self.event_id,
            received_at: self.received_at,
            ts_ms: self.ts_ms,
            site: &self.site,
            r#type: &self.r#type,
            url: &self.url,
            host: &self.host,
            path: &self.path,
            title: &self.title,
            referrer: &self.referrer,
            referrer_host: &self.referrer_host,
            referrer_kind: &self.referrer_kind,
            utm_source: &self.utm_source,
            utm_medium: &self.utm_medium,
            utm_campaign: &self.utm_campaign,
            utm_term: &self.utm_term,
            utm_content: &self.utm_content,
            country: &self.country,
            region: &self.region,
            city: &self.city,
            browser: &self.browser,
            browser_version: &self.browser_version,
            os: &self.os,
            device: &self.device,
            is_bot: self.is_bot,
            bot_reason: &self.bot_reason,
            ip: &self.ip,
            visitor_id: &self.visitor_id,
            person_id: &self.person_id,
            account_id: &self.account_id,
            consent: self.consent,
            mailing_id: &self.mailing_id,
            link_id: &self.link_id,
            verdict: &self.verdict,
            event_name: &self.event_name,
            props: &self.props,
            client_id: &self.client_id,
            screen_w: self.screen_w,
            screen_h: self.screen_h,
            lang: &self.lang,
            replica: &self.replica,
        }
    }
}

impl HitRef<'_> {
    /// An owned copy, for callers that keep the row.
    pub fn to_hit(&self) -> Hit {
        Hit {
            event_id: self.event_id,
            received_at: self.received_at,
            ts_ms: self.ts_ms,
            site: self.site.to_owned(),
            r#type: self.r#type.to_owned(),
            url: self.url.to_owned(),
            host: self.host.to_owned(),
            path: self.path.to_owned(),
            title: self.title.to_owned(),
            referrer: self.referrer.to_owned(),
            referrer_host: self.referrer_host.to_owned(),
            referrer_kind: self.referrer_kind.to_owned(),
            utm_source: self.utm_source.to_owned(),
            utm_medium: self.utm_medium.to_owned(),
            utm_campaign: self.utm_campaign.to_owned(),
            utm_term: self.utm_term.to_owned(),
            utm_content: self.utm_content.to_owned(),
            country: self.country.to_owned(),
            region: self.region.to_owned(),
            city: self.city.to_owned(),
            browser: self.browser.to_owned(),
            browser_version: self.browser_version.to_owned(),
            os: self.os.to_owned(),
            device: self.device.to_owned(),
            is_bot: self.is_bot,
            bot_reason: self.bot_reason.to_owned(),
            ip: self.ip.to_owned(),
            visitor_id: self.visitor_id.to_owned(),
            person_id: self.person_id.to_owned(),
            account_id: self.account_id.to_owned(),
            consent: self.consent,
            mailing_id: self.mailing_id.to_owned(),
            link_id: self.link_id.to_owned(),
            verdict: self.verdict.to_owned(),
            event_name: self.event_name.to_owned(),
            props: self.props.to_owned(),
            client_id: self.client_id.to_owned(),
            screen_w: self.screen_w,
            screen_h: self.screen_h,
            lang: self.lang.to_owned(),
            replica: self.replica.to_owned(),
        }
    }

    /// Appends this row in RowBinary, columns as in [`crate::hit::HIT_COLUMNS`].
    pub fn encode(&self, buf: &mut BytesMut) {
        put_uuid(buf, &self.event_id);
        buf.put_u32_le(self.received_at);
        buf.put_u64_le(self.ts_ms);
        for s in [
            self.site,
            self.r#type,
            self.url,
            self.host,
            self.path,
            self.title,
            self.referrer,
            self.referrer_host,
            self.referrer_kind,
            self.utm_source,
            self.utm_medium,
            self.utm_campaign,
            self.utm_term,
            self.utm_content,
            self.country,
            self.region,
            self.city,
            self.browser,
            self.browser_version,
            self.os,
            self.device,
        ] {
            put_str(buf, s);
        }
        buf.put_u8(self.is_bot);
        for s in [
            self.bot_reason,
            self.ip,
            self.visitor_id,
            self.person_id,
            self.account_id,
        ] {
            put_str(buf, s);
        }
        buf.put_u8(self.consent);
        for s in [
            self.mailing_id,
            self.link_id,
            self.verdict,
            self.event_name,
            self.props,
            self.client_id,
        ] {
            put_str(buf, s);
        }
        buf.put_u16_le(self.screen_w);
        buf.put_u16_le(self.screen_h);
        put_str(buf, self.lang);
        put_str(buf, self.replica);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(i: u16) -> Hit {
        let s = |name: &str| format!("{name}-{i}-é");
        Hit {
            event_id: Uuid::from_u128(0x1234_5678_9abc_def0_0fed_cba9_8765_4321 + u128::from(i)),
            received_at: 1_700_000_000 + u32::from(i),
            ts_ms: 1_700_000_000_123 + u64::from(i),
            site: s("site"),
            r#type: s("type"),
            url: s("url"),
            host: s("host"),
            path: s("path"),
            title: s("title"),
            referrer: s("referrer"),
            referrer_host: s("referrer_host"),
            referrer_kind: s("referrer_kind"),
            utm_source: s("utm_source"),
            utm_medium: s("utm_medium"),
            utm_campaign: s("utm_campaign"),
            utm_term: s("utm_term"),
            utm_content: s("utm_content"),
            country: s("country"),
            region: s("region"),
            city: s("city"),
            browser: s("browser"),
            browser_version: s("browser_version"),
            os: s("os"),
            device: s("device"),
            is_bot: (i % 2) as u8,
            bot_reason: s("bot_reason"),
            ip: s("ip"),
            visitor_id: s("visitor_id"),
            person_id: s("person_id"),
            account_id: s("account_id"),
            consent: (i % 2) as u8,
            mailing_id: s("mailing_id"),
            link_id: s("link_id"),
            verdict: s("verdict"),
            event_name: s("event_name"),
            props: s("props"),
            client_id: s("client_id"),
            screen_w: 300 + i,
            screen_h: 300 + i,
            lang: s("lang"),
            replica: s("replica"),
        }
    }

    #[test]
    fn borrowed_row_round_trips_every_field() {
        for i in 0..4 {
            let hit = sample(i);
            assert_eq!(hit.row().to_hit(), hit);
        }
        assert_eq!(Hit::default().row(), HitRef::default());
    }

    #[test]
    fn every_string_column_is_encoded_in_column_order() {
        let hit = sample(7);
        let mut buf = BytesMut::new();
        hit.row().encode(&mut buf);
        let text = String::from_utf8_lossy(&buf);
        let mut at = 0;
        for col in crate::hit::HIT_COLUMNS.split(',').map(str::trim) {
            let value = format!("{col}-7-é");
            if let Some(pos) = text[at..].find(&value) {
                at += pos + value.len();
            } else {
                assert!(
                    [
                        "event_id",
                        "received_at",
                        "ts_ms",
                        "is_bot",
                        "consent",
                        "screen_w",
                        "screen_h"
                    ]
                    .contains(&col),
                    "{col} missing or out of order"
                );
            }
        }
    }
}
