//! Properties of the parsers, checked with proptest on every `cargo test`: no input makes
//! them panic, and every valid hit survives a trip through a query string or a beacon body.

use enrich::{parse_beacon, parse_query, HitKind, RawHit};
use proptest::prelude::*;
use std::collections::BTreeMap;

fn kind() -> impl Strategy<Value = HitKind> {
    prop_oneof![
        Just(HitKind::Pageview),
        Just(HitKind::Event),
        Just(HitKind::Ping),
        Just(HitKind::Outbound),
        Just(HitKind::Download),
    ]
}

fn url() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("http"), Just("https"), Just("HTTPS")],
        "[a-z0-9-]{1,20}(\\.[a-z]{2,6}){1,2}",
        "(/[a-zA-Z0-9._~%-]{0,12}){0,4}",
        proptest::option::of("[a-z_]{1,8}=[a-zA-Z0-9 äö&=+%]{0,12}"),
    )
        .prop_map(|(scheme, host, path, query)| {
            let mut u = format!("{scheme}://{host}{path}");
            if let Some(q) = query {
                u.push('?');
                u.extend(form_urlencoded::byte_serialize(q.as_bytes()));
            }
            u
        })
}

fn props() -> impl Strategy<Value = String> {
    proptest::collection::btree_map(
        "[a-zA-Z_]{1,10}",
        prop_oneof![
            any::<i32>().prop_map(serde_json::Value::from),
            any::<bool>().prop_map(serde_json::Value::from),
            "\\PC{0,20}".prop_map(serde_json::Value::from),
        ],
        0..6,
    )
    .prop_map(|m: BTreeMap<String, serde_json::Value>| {
        if m.is_empty() {
            String::new()
        } else {
            serde_json::to_string(&m).unwrap_or_default()
        }
    })
}

prop_compose! {
    fn valid_hit()(
        site in "[A-Za-z0-9._-]{1,64}",
        kind in kind(),
        url in url(),
        referrer in proptest::option::of(url()),
        title in "\\PC{0,100}",
        visitor in proptest::option::of("[A-Za-z0-9_-]{8,64}"),
        person_token in proptest::option::of("[A-Za-z0-9_-]{10,80}"),
        event_name in "[a-z][a-z_ ]{0,30}",
        props in props(),
        client_id in proptest::option::of(any::<u128>()),
        screen_w in any::<u16>(),
        screen_h in any::<u16>(),
        lang in proptest::option::of("[a-z]{2}(-[A-Z]{2})?"),
    ) -> RawHit {
        RawHit {
            site,
            kind,
            url,
            referrer: referrer.unwrap_or_default(),
            title,
            visitor: visitor.unwrap_or_default(),
            person_token: person_token.unwrap_or_default(),
            event_name: if kind == HitKind::Event { event_name.trim().to_string() + "x" } else { String::new() },
            props,
            client_id: client_id
                .map(|n| uuid::Uuid::from_u128(n).hyphenated().to_string())
                .unwrap_or_default(),
            screen_w,
            screen_h,
            lang: lang.unwrap_or_default(),
        }
    }
}

/// The hit's fields as (key, value) pairs, skipping absent ones like the tracker does.
fn pairs(h: &RawHit) -> Vec<(&'static str, String)> {
    let mut v = vec![
        ("s", h.site.clone()),
        ("e", h.kind.as_str().to_owned()),
        ("u", h.url.clone()),
    ];
    for (k, s) in [
        ("r", &h.referrer),
        ("t", &h.title),
        ("v", &h.visitor),
        ("pt", &h.person_token),
        ("n", &h.event_name),
        ("p", &h.props),
        ("id", &h.client_id),
        ("lang", &h.lang),
    ] {
        if !s.is_empty() {
            v.push((k, s.clone()));
        }
    }
    v.push(("sw", h.screen_w.to_string()));
    v.push(("sh", h.screen_h.to_string()));
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn query_parser_never_panics(q in "\\PC{0,400}") {
        let _ = parse_query(&q);
    }

    #[test]
    fn query_parser_never_panics_on_query_like_text(
        q in "([a-z]{1,4}(=[a-zA-Z0-9%+:/._-]{0,30})?&?){0,20}"
    ) {
        let _ = parse_query(&q);
    }

    #[test]
    fn beacon_parser_never_panics_on_bytes(body in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_beacon(&body);
    }

    #[test]
    fn beacon_parser_never_panics_on_json_like_text(body in "[\\[\\]{}\",:0-9a-z ]{0,400}") {
        if let Err(e) = parse_beacon(body.as_bytes()) {
            prop_assert!(e.status == 400 || e.status == 413);
        }
    }

    #[test]
    fn valid_hits_round_trip_through_a_query(h in valid_hit()) {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs(&h) {
            ser.append_pair(k, &v);
        }
        let q = ser.finish();
        prop_assert_eq!(parse_query(&q), Ok(h));
    }

    #[test]
    fn valid_hits_round_trip_through_a_beacon(hits in proptest::collection::vec(valid_hit(), 1..5)) {
        let body: Vec<serde_json::Map<String, serde_json::Value>> = hits
            .iter()
            .map(|h| pairs(h).into_iter().map(|(k, v)| (k.to_owned(), v.into())).collect())
            .collect();
        let text = serde_json::to_string(&body).unwrap_or_default();
        prop_assert_eq!(parse_beacon(text.as_bytes()), Ok(hits));
    }
}

fn enricher() -> enrich::Enricher {
    enrich::Enricher::new(enrich::EnricherConfig {
        geo: std::sync::Arc::new(enrich::NoGeo),
        directory: std::sync::Arc::new(enrich::NoDirectory),
        keys: common::token::Keyring::parse("k1:0123456789abcdef0123"),
        replica: "r".into(),
        ua_cache_capacity: 16,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn enrich_accepts_every_parsed_hit_and_never_stores_a_full_ip(
        h in valid_hit(),
        ua in "\\PC{0,200}",
        ip_bits in any::<u128>(),
        v4 in any::<bool>(),
        anonymous in any::<bool>(),
    ) {
        let ip: std::net::IpAddr = if v4 {
            std::net::Ipv4Addr::from(ip_bits as u32).into()
        } else {
            std::net::Ipv6Addr::from(ip_bits).into()
        };
        let req = enrich::RequestInfo { ip, user_agent: &ua, anonymous, method_head: false };
        let stamp = enrich::Stamp { event_id: uuid::Uuid::nil(), now_ms: 1_000, salt: [1; 32] };
        let row = enricher().enrich(h.clone(), &req, &stamp);
        prop_assert!(row.is_ok(), "{:?}", row);
        let row = row.unwrap_or_default();
        prop_assert_eq!(&row.ip, &enrich::truncate_ip(ip).to_string());
        prop_assert!(row.is_bot <= 1 && row.consent == 0);
        prop_assert!(["desktop", "mobile", "tablet", "bot", "other"].contains(&row.device.as_str()));
        if anonymous || h.visitor.is_empty() {
            prop_assert_eq!(row.visitor_id.len(), 32);
        } else {
            prop_assert_eq!(&row.visitor_id, &h.visitor);
        }
    }
}
