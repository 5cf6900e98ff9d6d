//! The collector's pure hot path: parsing and enrichment of hits, with no IO and no clock.
#![forbid(unsafe_code)]
