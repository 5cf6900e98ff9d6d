//! Row types of the back-office tables (columns in table order, RowBinary through the
//! `clickhouse` crate) and the one-INSERT writer that makes a request all or nothing.

use clickhouse::Row;
use serde::{Deserialize, Serialize};

/// `accounts`.
#[derive(Debug, Clone, Row, Serialize, Deserialize)]
pub struct AccountRow {
    /// CRM account id.
    pub account_id: String,
    /// Display name.
    pub name: String,
    /// Web domain of the account.
    pub domain: String,
    /// Further CRM attributes, a JSON object.
    pub attributes: String,
    /// When the row was received (Unix s).
    pub updated_at: u32,
    /// Upsert version: the highest wins.
    pub version: u64,
}

/// `persons`.
#[derive(Debug, Clone, Row, Serialize, Deserialize)]
pub struct PersonRow {
    /// CRM person id.
    pub person_id: String,
    /// The person's account ('' when none).
    pub account_id: String,
    /// E-mail address, if the CRM sends it.
    pub email: String,
    /// Further CRM attributes, a JSON object.
    pub attributes: String,
    /// When the row was received (Unix s).
    pub updated_at: u32,
    /// Upsert version: the highest wins.
    pub version: u64,
}

/// `mailings`.
#[derive(Debug, Clone, Row, Serialize, Deserialize)]
pub struct MailingRow {
    /// Mailing id of the mailing tool.
    pub mailing_id: String,
    /// Internal name.
    pub name: String,
    /// Subject line.
    pub subject: String,
    /// When it went out (Unix s).
    pub sent_at: u32,
    /// Further attributes, a JSON object.
    pub attributes: String,
    /// Upsert version: the highest wins.
    pub version: u64,
}

/// `mailing_sends`.
#[derive(Debug, Clone, Row, Serialize, Deserialize)]
pub struct SendRow {
    /// The mailing.
    pub mailing_id: String,
    /// The recipient.
    pub person_id: String,
    /// When this recipient's copy went out (Unix s).
    pub sent_at: u32,
}

/// `consents`: one event of the append-only ledger.
#[derive(Debug, Clone, Row, Serialize, Deserialize)]
pub struct ConsentRow {
    /// Hash of the event's content, so the same event posted twice folds.
    pub consent_id: String,
    /// Whose consent.
    pub person_id: String,
    /// What for (`tracking` is the one the collector enforces).
    pub purpose: String,
    /// 1 granted, 0 withdrawn.
    pub granted: u8,
    /// Where it was given (form, CRM, preference centre, ...).
    pub source: String,
    /// Version of the consent text the person saw.
    pub text_version: String,
    /// When the person gave or withdrew it (Unix s).
    pub at: u32,
    /// Who recorded it.
    pub recorded_by: String,
    /// When we received it (Unix s).
    pub recorded_at: u32,
}

/// `identity_links`.
#[derive(Debug, Clone, Row, Serialize, Deserialize)]
pub struct IdentityLinkRow {
    /// First-party visitor id.
    pub visitor_id: String,
    /// The person it was linked to.
    pub person_id: String,
    /// Site of the visitor id.
    pub site: String,
    /// What made the link (click, pt).
    pub source: String,
    /// When (Unix s).
    pub linked_at: u32,
    /// 1 when the link no longer counts.
    pub revoked: u8,
    /// The highest version of a (visitor, person) pair wins.
    pub version: u64,
}

/// `erasures`.
#[derive(Debug, Clone, Row, Serialize, Deserialize)]
pub struct ErasureRow {
    /// The erased person.
    pub person_id: String,
    /// When (Unix s).
    pub at: u32,
    /// Who asked (from the request).
    pub requested_by: String,
    /// The receipt as JSON.
    pub receipt: String,
}

/// Writes `rows` to `table` in one INSERT, so either all of them are stored or none.
pub async fn insert_all<T>(
    ch: &clickhouse::Client,
    table: &str,
    rows: &[T],
) -> Result<(), clickhouse::error::Error>
where
    T: clickhouse::RowOwned + clickhouse::RowWrite,
{
    if rows.is_empty() {
        return Ok(());
    }
    let mut insert = ch.insert::<T>(table).await?;
    for row in rows {
        insert.write(row).await?;
    }
    insert.end().await
}
