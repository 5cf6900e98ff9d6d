//! The collector's pure hot path: parsing and enrichment of hits, with no IO and no clock.
//!
//! `parse_query` / `parse_beacon` turn a pixel query or beacon body into [`RawHit`]s;
//! [`Enricher::enrich`] turns one into the stored [`common::hit::Hit`], with geo, user agent,
//! bot verdict, referrer kind, campaign fields, truncated IP, visitor id and person.
#![forbid(unsafe_code)]

mod beacon;
pub mod bot;
mod directory;
mod enriched;
mod enricher;
mod error;
mod geo;
mod ip;
mod props;
mod query;
mod raw;
pub mod referrer;
pub mod testdata;
pub mod ua;
pub mod url;
pub mod verdict;
mod visitor;

pub use beacon::{parse_beacon, MAX_BEACON_BYTES, MAX_BEACON_HITS};
pub use directory::{Directory, MapDirectory, NoDirectory};
pub use enriched::Enriched;
pub use enricher::{Enricher, EnricherConfig, RequestInfo, Stamp};
pub use error::{BeaconError, Rejection, REASONS};
pub use geo::{Geo, GeoError, GeoLookup, MaxMindGeo, NoGeo, StaticGeo};
pub use ip::truncate_ip;
pub use query::{parse_query, MAX_QUERY};
pub use raw::{
    HitKind, RawHit, MAX_EVENT_NAME_CHARS, MAX_LANG, MAX_PROPS, MAX_SITE, MAX_TITLE_CHARS, MAX_URL,
    VISITOR_LEN,
};
pub use visitor::anonymous_visitor_id;
