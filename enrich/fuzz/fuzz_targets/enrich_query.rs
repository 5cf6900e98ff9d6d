//! Fuzzes the whole pixel path: query text and user agent through parse and enrich; an
//! accepted hit must enrich without panicking and store only the truncated IP.
#![no_main]

use enrich::{Enricher, EnricherConfig, NoDirectory, NoGeo, RequestInfo, Stamp};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, LazyLock};

static ENRICHER: LazyLock<Enricher> = LazyLock::new(|| {
    Enricher::new(EnricherConfig {
        geo: Arc::new(NoGeo),
        directory: Arc::new(NoDirectory),
        keys: common::token::Keyring::parse("k1:0123456789abcdef0123"),
        replica: "fuzz".into(),
        ua_cache_capacity: 1024,
    })
});

fuzz_target!(|input: (&str, &str, [u8; 4])| {
    let (query, ua, ip) = input;
    let Ok(raw) = enrich::parse_query(query) else {
        return;
    };
    let req = RequestInfo {
        ip: ip.into(),
        user_agent: ua,
        anonymous: false,
        method_head: false,
    };
    let stamp = Stamp {
        event_id: uuid::Uuid::nil(),
        now_ms: 0,
        salt: [0; 32],
    };
    let hit = ENRICHER.enrich(raw, &req, &stamp);
    assert!(hit.is_ok_and(|h| h.ip.ends_with(".0")));
});

