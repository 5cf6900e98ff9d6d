//! Enrichment, table-driven over the public API: geo from the committed test database, the
//! truncated IP, user agent, referrer and campaign, visitor id and person linking.

use common::token::{Claims, Keyring, TokenKind};
use enrich::{parse_query, Enricher, EnricherConfig, MapDirectory, MaxMindGeo, RequestInfo, Stamp};
use std::net::IpAddr;
use std::sync::Arc;

const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";
const NOW_MS: u64 = 1_764_000_000_123;

fn keys() -> Keyring {
    Keyring::parse("k1:0123456789abcdef0123").unwrap_or_else(|| panic!("test keys"))
}

fn enricher() -> Enricher {
    let geo = MaxMindGeo::open(enrich::testdata::TEST_MMDB).unwrap_or_else(|e| panic!("{e}"));
    let directory = MapDirectory::new()
        .consent("p-consented", "acc-1")
        .link("shop", "visitor-linked-1", "p-consented")
        .link("shop", "visitor-withdrawn", "p-no-consent");
    Enricher::new(EnricherConfig {
        geo: Arc::new(geo),
        directory: Arc::new(directory),
        keys: Some(keys()),
        replica: "replica-a".into(),
        ua_cache_capacity: 64,
    })
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn req<'a>(addr: &str, ua: &'a str, anonymous: bool) -> RequestInfo<'a> {
    RequestInfo {
        ip: ip(addr),
        user_agent: ua,
        anonymous,
        method_head: false,
    }
}

fn stamp() -> Stamp {
    Stamp {
        event_id: uuid::Uuid::from_u128(42),
        now_ms: NOW_MS,
        salt: [9; 32],
    }
}

fn hit(e: &Enricher, query: &str, r: &RequestInfo<'_>) -> common::hit::Hit {
    let raw = parse_query(query).unwrap_or_else(|x| panic!("{query}: {x}"));
    e.enrich(raw, r, &stamp())
        .unwrap_or_else(|x| panic!("{query}: {x}"))
}

fn person_token(person: &str, kind: TokenKind, expires_at: u32) -> String {
    let claims = Claims {
        kind,
        kid: String::new(),
        expires_at,
        mailing_id: String::new(),
        person_id: person.into(),
        link_id: String::new(),
        url: if kind == TokenKind::Click {
            "https://shop.example/".into()
        } else {
            String::new()
        },
    };
    keys().sign(&claims).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn geo_comes_from_the_full_ip_and_only_the_truncated_ip_is_stored() {
    let e = enricher();
    let cases = [
        ("81.2.69.142", ("GB", "ENG", "London"), "81.2.69.0"),
        ("89.160.20.112", ("SE", "E", "Linköping"), "89.160.20.0"),
        ("216.160.83.56", ("US", "WA", "Milton"), "216.160.83.0"),
        ("2001:db8:1:2:3::7", ("DE", "BE", "Berlin"), "2001:db8:1::"),
        ("::ffff:81.2.69.9", ("GB", "ENG", "London"), "81.2.69.0"),
        ("8.8.8.8", ("", "", ""), "8.8.8.0"),
    ];
    for (addr, (country, region, city), stored) in cases {
        let h = hit(
            &e,
            "s=shop&u=https://shop.example/",
            &req(addr, CHROME, false),
        );
        assert_eq!(
            (h.country.as_str(), h.region.as_str(), h.city.as_str()),
            (country, region, city),
            "{addr}"
        );
        assert_eq!(h.ip, stored, "{addr}");
    }
}

#[test]
fn page_url_referrer_and_campaign() {
    let e = enricher();
    let r = req("81.2.69.142", CHROME, false);
    type Want<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str, &'a str);
    let cases: &[(&str, Want)] = &[
        // (query, (host, path, referrer_host, referrer_kind, utm_source, utm_term))
        ("s=shop&u=https://WWW.Shop.Example/a/b?x=1#top", ("www.shop.example", "/a/b", "", "direct", "", "")),
        ("s=shop&u=https://shop.example/&r=https://www.google.de/search", ("shop.example", "/", "www.google.de", "search", "", "")),
        ("s=shop&u=https://shop.example/p&r=https://blog.shop.example/x", ("shop.example", "/p", "blog.shop.example", "internal", "", "")),
        ("s=shop&u=https://shop.example/&r=https://t.co/abc", ("shop.example", "/", "t.co", "social", "", "")),
        ("s=shop&u=https://shop.example/&r=https://mail.google.com/", ("shop.example", "/", "mail.google.com", "email", "", "")),
        ("s=shop&u=https://shop.example/&r=https://elsewhere.example/", ("shop.example", "/", "elsewhere.example", "other", "", "")),
        ("s=shop&u=https://shop.example/&r=android-app://com.slack", ("shop.example", "/", "", "other", "", "")),
        (
            "s=shop&u=https%3A%2F%2Fshop.example%2Fl%3Futm_source%3Dnl%26utm_medium%3Demail%26pk_kwd%3Dshoes",
            ("shop.example", "/l", "", "campaign", "nl", "shoes"),
        ),
    ];
    for (q, (host, path, rhost, kind, source, term)) in cases {
        let h = hit(&e, q, &r);
        let got = (
            h.host.as_str(),
            h.path.as_str(),
            h.referrer_host.as_str(),
            h.referrer_kind.as_str(),
            h.utm_source.as_str(),
            h.utm_term.as_str(),
        );
        assert_eq!(got, (*host, *path, *rhost, *kind, *source, *term), "{q}");
    }
}

#[test]
fn row_carries_stamp_request_and_hit_fields() {
    let e = enricher();
    let h = hit(
        &e,
        "s=shop&e=event&n=signup&p=%7B%22plan%22%3A%22pro%22%7D&u=https://shop.example/&t=Home\
         &sw=390&sh=844&lang=en-GB&id=67e55044-10b1-426f-9247-bb680e5fe0c8",
        &req("81.2.69.142", IPHONE, false),
    );
    assert_eq!(h.event_id, uuid::Uuid::from_u128(42));
    assert_eq!(h.received_at, 1_764_000_000);
    assert_eq!(h.ts_ms, NOW_MS);
    assert_eq!(h.replica, "replica-a");
    assert_eq!((h.site.as_str(), h.r#type.as_str()), ("shop", "event"));
    assert_eq!(
        (h.event_name.as_str(), h.props.as_str()),
        ("signup", r#"{"plan":"pro"}"#)
    );
    assert_eq!(
        (h.screen_w, h.screen_h, h.lang.as_str()),
        (390, 844, "en-GB")
    );
    assert_eq!(h.client_id, "67e55044-10b1-426f-9247-bb680e5fe0c8");
    assert_eq!(
        (
            h.browser.as_str(),
            h.os.as_str(),
            h.device.as_str(),
            h.is_bot
        ),
        ("Safari", "iPhone", "mobile", 0)
    );
    assert_eq!(h.title, "Home");
    assert_eq!((h.mailing_id.as_str(), h.verdict.as_str()), ("", ""));
}

#[test]
fn bots_are_stored_with_a_reason() {
    let e = enricher();
    for (ua, reason) in [
        ("", "empty_ua"),
        ("curl/8.5.0", "tool"),
        ("Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)", "monitor"),
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36", "headless"),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "crawler"),
    ] {
        let h = hit(&e, "s=shop&u=https://shop.example/", &req("81.2.69.142", ua, false));
        assert_eq!((h.is_bot, h.bot_reason.as_str(), h.device.as_str()), (1, reason, "bot"), "{ua}");
    }
}

#[test]
fn visitor_id_is_the_consented_v_else_a_salted_hash() {
    let e = enricher();
    let base = "s=shop&u=https://shop.example/";
    let with_v = format!("{base}&v=abcdefgh1234");
    let named = hit(&e, &with_v, &req("81.2.69.142", CHROME, false));
    assert_eq!(named.visitor_id, "abcdefgh1234");
    let dnt = hit(&e, &with_v, &req("81.2.69.142", CHROME, true));
    let anon = hit(&e, base, &req("81.2.69.142", CHROME, false));
    assert_eq!(
        dnt.visitor_id, anon.visitor_id,
        "DNT ignores v and hashes like no v"
    );
    assert_eq!(anon.visitor_id.len(), 32);
    assert_eq!(
        anon.visitor_id,
        enrich::anonymous_visitor_id(&[9; 32], "shop", ip("81.2.69.142"), CHROME)
    );
    let other_ip = hit(&e, base, &req("81.2.69.143", CHROME, false));
    let other_ua = hit(&e, base, &req("81.2.69.142", IPHONE, false));
    assert_ne!(anon.visitor_id, other_ip.visitor_id);
    assert_ne!(anon.visitor_id, other_ua.visitor_id);
    let raw = parse_query(base).unwrap_or_else(|x| panic!("{x}"));
    let next_day = Stamp {
        salt: [10; 32],
        ..stamp()
    };
    let rotated = e
        .enrich(raw, &req("81.2.69.142", CHROME, false), &next_day)
        .unwrap_or_else(|x| panic!("{x}"));
    assert_ne!(
        anon.visitor_id, rotated.visitor_id,
        "the salt rotates the id"
    );
}

#[test]
fn person_only_through_a_valid_token_or_link_with_consent() {
    let e = enricher();
    let now_s = (NOW_MS / 1000) as u32;
    let good = person_token("p-consented", TokenKind::Person, 0);
    let no_consent = person_token("p-no-consent", TokenKind::Person, 0);
    let expired = person_token("p-consented", TokenKind::Person, now_s - 1);
    let wrong_kind = person_token("p-consented", TokenKind::Click, 0);
    let mut tampered = good.clone();
    tampered.pop();
    tampered.push(if good.ends_with('A') { 'B' } else { 'A' });
    let u = "s=shop&u=https://shop.example/";
    let cases: &[(String, bool, (&str, &str, u8))] = &[
        (format!("{u}&pt={good}"), false, ("p-consented", "acc-1", 1)),
        (format!("{u}&pt={good}"), true, ("", "", 0)),
        (format!("{u}&pt={no_consent}"), false, ("", "", 0)),
        (format!("{u}&pt={expired}"), false, ("", "", 0)),
        (format!("{u}&pt={wrong_kind}"), false, ("", "", 0)),
        (format!("{u}&pt={tampered}"), false, ("", "", 0)),
        (format!("{u}&pt=garbage"), false, ("", "", 0)),
        (
            format!("{u}&v=visitor-linked-1"),
            false,
            ("p-consented", "acc-1", 1),
        ),
        (format!("{u}&v=visitor-linked-1"), true, ("", "", 0)),
        (format!("{u}&v=visitor-withdrawn"), false, ("", "", 0)),
        (format!("{u}&v=visitor-unknown"), false, ("", "", 0)),
        (
            format!("{u}&pt=garbage&v=visitor-linked-1"),
            false,
            ("p-consented", "acc-1", 1),
        ),
        (u.to_string(), false, ("", "", 0)),
    ];
    for (q, anonymous, want) in cases {
        let h = hit(&e, q, &req("81.2.69.142", CHROME, *anonymous));
        assert_eq!(
            (h.person_id.as_str(), h.account_id.as_str(), h.consent),
            *want,
            "{q} anonymous={anonymous}"
        );
    }
}

#[test]
fn without_keys_no_token_is_trusted() {
    let e = Enricher::new(EnricherConfig {
        geo: Arc::new(enrich::NoGeo),
        directory: Arc::new(MapDirectory::new().consent("p-consented", "acc-1")),
        keys: None,
        replica: String::new(),
        ua_cache_capacity: 0,
    });
    let q = format!(
        "s=shop&u=https://shop.example/&pt={}",
        person_token("p-consented", TokenKind::Person, 0)
    );
    let h = hit(&e, &q, &req("81.2.69.142", CHROME, false));
    assert_eq!(
        (h.person_id.as_str(), h.consent, h.country.as_str()),
        ("", 0, "")
    );
}

#[test]
fn mailing_events() {
    let e = enricher();
    let click = Claims {
        kind: TokenKind::Click,
        kid: "k1".into(),
        expires_at: 0,
        mailing_id: "m-1".into(),
        person_id: "p-consented".into(),
        link_id: "l-7".into(),
        url: "https://Shop.Example/offer?utm_source=nl".into(),
    };
    let h = e.mailing_event(&click, &req("89.160.20.112", CHROME, false), &stamp());
    assert_eq!(
        (h.r#type.as_str(), h.mailing_id.as_str(), h.link_id.as_str()),
        ("click", "m-1", "l-7")
    );
    assert_eq!(
        (h.url.as_str(), h.host.as_str(), h.path.as_str()),
        (click.url.as_str(), "shop.example", "/offer")
    );
    assert_eq!(
        (h.person_id.as_str(), h.account_id.as_str(), h.consent),
        ("p-consented", "acc-1", 1)
    );
    assert_eq!(
        (h.city.as_str(), h.ip.as_str(), h.verdict.as_str()),
        ("Linköping", "89.160.20.0", "unknown")
    );
    assert_eq!(
        (h.event_id, h.ts_ms, h.replica.as_str()),
        (uuid::Uuid::from_u128(42), NOW_MS, "replica-a")
    );

    let open = Claims {
        kind: TokenKind::Open,
        link_id: String::new(),
        url: String::new(),
        person_id: "p-no-consent".into(),
        ..click.clone()
    };
    let h = e.mailing_event(&open, &req("81.2.69.142", "", false), &stamp());
    assert_eq!(
        (h.r#type.as_str(), h.url.as_str(), h.mailing_id.as_str()),
        ("open", "", "m-1")
    );
    assert_eq!(
        (h.person_id.as_str(), h.consent),
        ("", 0),
        "no consent, no person"
    );
    let h = e.mailing_event(&click, &req("81.2.69.142", CHROME, true), &stamp());
    assert_eq!((h.person_id.as_str(), h.consent), ("", 0), "DNT, no person");
}

#[test]
fn enriched_rows_encode() {
    let e = enricher();
    let h = hit(
        &e,
        "s=shop&u=https://shop.example/",
        &req("81.2.69.142", CHROME, false),
    );
    let one = common::hit::Hit::encode_batch(std::slice::from_ref(&h));
    let two = common::hit::Hit::encode_batch(&[h.clone(), h]);
    assert_eq!(two.len(), 2 * one.len());
}
