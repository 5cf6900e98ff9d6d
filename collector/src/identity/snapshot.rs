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

/// Latest `tracking` event per person: a withdrawal wins a tie with a grant in the same
/// second. Only granted persons come back, with their account (latest person version).
const CONSENTED_SQL: &str = "\
SELECT person_id, account_id FROM ( \
    SELECT person_id, argMax(granted, toUInt64(at) * 2 + (1 - granted)) AS g \
    FROM consents WHERE purpose = 'tracking' GROUP BY person_id HAVING g = 1 \
) ANY LEFT JOIN ( \
    SELECT person_id, argMax(account_id, version) AS account_id FROM persons GROUP BY person_id \
) USING person_id";

/// The latest version of each (visitor, person) pair decides whether it is revoked; of a
/// visitor's live links on a site the newest wins.
const LINKS_SQL: &str = "\
SELECT site, visitor_id, argMax(person_id, v) AS person_id FROM ( \
    SELECT site, visitor_id, person_id, max(version) AS v, argMax(revoked, version) AS r \
    FROM identity_links GROUP BY site, visitor_id, person_id HAVING r = 0 \
) GROUP BY site, visitor_id";

const SENDS_SQL: &str = "\
SELECT mailing_id, person_id, toUInt32(max(sent_at)) FROM mailing_sends \
WHERE sent_at >= now() - ? * 86400 GROUP BY mailing_id, person_id";

const MAILINGS_SQL: &str =
    "SELECT mailing_id, toUInt32(argMax(sent_at, version)) FROM mailings GROUP BY mailing_id";

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
