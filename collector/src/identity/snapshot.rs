//! An immutable picture of consent, persons, identity links and recent sends, loaded from
//! ClickHouse in one go and swapped in whole, so the request path reads memory only.

use std::collections::HashMap;

use clickhouse::Row;
use serde::Deserialize;

/// Sends older than this are not loaded: the send-time scanner rule only matters in the
/// first seconds after a send, and older mailings fall back to the mailing's own time.
pub const SENDS_HORIZON_DAYS: u32 = 2;

/// What the collector knows about people at one moment.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Persons whose latest `tracking` consent event is a grant → their account ('' if none).
    pub consented: HashMap<String, String>,
    /// site → visitor id → person of the latest link that is not revoked.
    pub links: HashMap<String, HashMap<String, String>>,
    /// mailing → person → when that person's copy went out (Unix s), recent mailings only.
    pub sends: HashMap<String, HashMap<String, u32>>,
    /// mailing → when it went out (Unix s).
    pub mailings: HashMap<String, u32>,
}

impl Snapshot {
    /// The account of a person whose consent stands.
    pub fn consented_account(&self, person_id: &str) -> Option<&str> {
        self.consented.get(person_id).map(String::as_str)
    }

    /// The person a visitor of a site is linked to (consent not checked).
    pub fn linked_person(&self, site: &str, visitor_id: &str) -> Option<&str> {
        self.links
            .get(site)
            .and_then(|m| m.get(visitor_id))
            .map(String::as_str)
    }

    /// When the mail went to this person: their send, else the mailing's time.
    pub fn sent_at(&self, mailing_id: &str, person_id: &str) -> Option<u32> {
        self.sends
            .get(mailing_id)
            .and_then(|m| m.get(person_id))
            .or_else(|| self.mailings.get(mailing_id))
            .copied()
    }
}

#[derive(Row, Deserialize)]
struct ConsentRow {
    person_id: String,
    account_id: String,
}

#[derive(Row, Deserialize)]
struct LinkRow {
    site: String,
    visitor_id: String,
    person_id: String,
}

#[derive(Row, Deserialize)]
struct SendRow {
    mailing_id: String,
    person_id: String,
    sent_at: u32,
}

#[derive(Row, Deserialize)]
struct MailingRow {
    mailing_id: String,
    sent_at: u32,
}

/// The queries live under `sql/identity/` (checked on 18.16 and current ClickHouse by
/// `tests/python/test_identity_sql.py`).
const CONSENTED_SQL: &str = include_str!("../../../sql/identity/directory_consented.sql");
const LINKS_SQL: &str = include_str!("../../../sql/identity/directory_links.sql");
const SENDS_SQL: &str = include_str!("../../../sql/identity/directory_sends.sql");
const MAILINGS_SQL: &str = include_str!("../../../sql/identity/directory_mailings.sql");

/// Reads a fresh snapshot.
pub async fn load(ch: &clickhouse::Client) -> Result<Snapshot, clickhouse::error::Error> {
    let mut s = Snapshot::default();
    for r in ch.query(CONSENTED_SQL).fetch_all::<ConsentRow>().await? {
        s.consented.insert(r.person_id, r.account_id);
    }
    for r in ch.query(LINKS_SQL).fetch_all::<LinkRow>().await? {
        s.links
            .entry(r.site)
            .or_default()
            .insert(r.visitor_id, r.person_id);
    }
    let sends = ch
        .query(SENDS_SQL)
        .bind(SENDS_HORIZON_DAYS)
        .fetch_all::<SendRow>()
        .await?;
    for r in sends {
        s.sends
            .entry(r.mailing_id)
            .or_default()
            .insert(r.person_id, r.sent_at);
    }
    for r in ch.query(MAILINGS_SQL).fetch_all::<MailingRow>().await? {
        s.mailings.insert(r.mailing_id, r.sent_at);
    }
    Ok(s)
}
