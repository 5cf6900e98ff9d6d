//! Fuzzes the beacon body parser: any bytes must give hits or a 400/413, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match enrich::parse_beacon(data) {
        Ok(hits) => {
            assert!(hits.len() <= enrich::MAX_BEACON_HITS);
            for h in hits {
                assert!(!h.site.is_empty() && !h.url.is_empty());
            }
        }
        Err(e) => assert!(e.status == 400 || e.status == 413),
    }
});
