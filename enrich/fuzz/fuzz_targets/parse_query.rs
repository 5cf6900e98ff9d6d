//! Fuzzes the pixel query parser: any text must give a hit or a rejection, never a panic,
//! and an accepted hit must satisfy the field rules.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(hit) = enrich::parse_query(query) {
        assert!(!hit.site.is_empty() && hit.site.len() <= enrich::MAX_SITE);
        assert!(enrich::url::split_http_url(&hit.url).is_some());
        assert!(hit.url.len() <= enrich::MAX_URL);
        assert!(hit.props.len() <= enrich::MAX_PROPS);
    }
});
