//! CRM and mailing-tool intake: accounts, persons, mailings, send logs and consent events.
//! Every row is checked before anything is written, and the rows of a request go to
//! ClickHouse in one INSERT: a request is stored whole or not at all. Repeating a request
//! stores nothing new as far as readers are concerned (ReplacingMergeTree keys, read FINAL).

use std::sync::Arc;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::validate::{self, Row};
use super::{ok_json, ApiError, ApiResult, AppState, Req};
use crate::store::now_s;
use crate::store::rows::{insert_all, AccountRow, ConsentRow, MailingRow, PersonRow, SendRow};
use crate::telemetry;

/// Stores rows and answers `{"accepted": n}`.
async fn store<T>(state: &AppState, table: &'static str, rows: Vec<T>) -> ApiResult
where
    T: clickhouse::RowOwned + clickhouse::RowWrite,
{
    insert_all(&state.ch, table, &rows).await?;
    metrics::counter!(telemetry::INTAKE_ROWS, "table" => table).increment(rows.len() as u64);
    ok_json(&json!({ "accepted": rows.len() }))
}

/// Checks every row with `check`; the first bad row refuses the whole request.
fn check_all<T>(
    table: &'static str,
    body: &Value,
    check: impl Fn(&Row<'_>) -> Result<T, ApiError>,
) -> Result<Vec<T>, ApiError> {
    let result = validate::rows(body).and_then(|rows| {
        rows.into_iter()
            .enumerate()
            .map(|(i, fields)| check(&Row::new(i, fields)))
            .collect()
    });
    if result.is_err() {
        metrics::counter!(telemetry::INTAKE_REJECTED, "table" => table).increment(1);
    }
    result
}

/// `POST /api/accounts`: upsert accounts; the latest version of an account wins.
pub async fn accounts(state: Arc<AppState>, req: Req) -> ApiResult {
    let body: Value = req.json()?;
    let now = now_s();
    let rows = check_all("accounts", &body, |r| {
        r.only(&["account_id", "name", "domain", "attributes"])?;
        Ok(AccountRow {
            account_id: r.id("account_id")?,
            name: r.text("name")?,
            domain: r.text("domain")?,
            attributes: r.attributes("attributes")?,
            updated_at: now,
            version: 0,
        })
    })?;
    let base = state.versions.next(rows.len() as u64);
    let rows = number(rows, base, |r, v| r.version = v);
    store(&state, "accounts", rows).await
}

/// `POST /api/persons`: upsert persons; the latest version of a person wins.
pub async fn persons(state: Arc<AppState>, req: Req) -> ApiResult {
    let body: Value = req.json()?;
    let now = now_s();
    let rows = check_all("persons", &body, |r| {
        r.only(&["person_id", "account_id", "email", "attributes"])?;
        Ok(PersonRow {
            person_id: r.id("person_id")?,
            account_id: r.optional_id("account_id")?,
            email: r.text("email")?,
            attributes: r.attributes("attributes")?,
            updated_at: now,
            version: 0,
        })
    })?;
    let base = state.versions.next(rows.len() as u64);
    let rows = number(rows, base, |r, v| r.version = v);
    store(&state, "persons", rows).await
}

/// `POST /api/mailings`: register mailings (`sent_at` required: the scanner verdict and the
/// send log default to it).
pub async fn mailings(state: Arc<AppState>, req: Req) -> ApiResult {
    let body: Value = req.json()?;
    let rows = check_all("mailings", &body, |r| {
        r.only(&["mailing_id", "name", "subject", "sent_at", "attributes"])?;
        Ok(MailingRow {
            mailing_id: r.id("mailing_id")?,
            name: r.text("name")?,
            subject: r.text("subject")?,
            sent_at: r.required_time("sent_at")?,
            attributes: r.attributes("attributes")?,
            version: 0,
        })
    })?;
    let base = state.versions.next(rows.len() as u64);
    let rows = number(rows, base, |r, v| r.version = v);
    store(&state, "mailings", rows).await
}

/// `POST /api/mailings/{id}/sends`: the send log, an array of person ids or of
/// `{"person_id", "sent_at"}` objects (`sent_at` defaults to the mailing's).
pub async fn sends(state: Arc<AppState>, req: Req) -> ApiResult {
    let mailing_id = validate::check_id(req.param("id")).map_err(|m| ApiError::field("id", m))?;
    let body: Value = req.json()?;
    let items = match &body {
        Value::Array(a) if a.len() <= validate::MAX_ROWS => a,
        Value::Array(_) => {
            return Err(ApiError::body(format!(
                "at most {} rows per request",
                validate::MAX_ROWS
            )))
        }
        _ => return Err(ApiError::body("expected an array of person ids or objects")),
    };
    let default_sent_at: Option<u32> = state
        .ch
        .query("SELECT sent_at FROM mailings FINAL WHERE mailing_id = ?")
        .bind(&mailing_id)
        .fetch_optional()
        .await?;
    let Some(default_sent_at) = default_sent_at else {
        return Err(ApiError::Missing(format!(
            "unknown mailing {mailing_id:?}: register it with POST /api/mailings first"
        )));
    };
    let mut rows = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let row = match item {
            Value::String(p) => SendRow {
                mailing_id: mailing_id.clone(),
                person_id: validate::check_id(p).map_err(|m| ApiError::row(i, "person_id", m))?,
                sent_at: default_sent_at,
            },
            Value::Object(fields) => {
                let r = Row::new(i, fields);
                r.only(&["person_id", "sent_at"])?;
                SendRow {
                    mailing_id: mailing_id.clone(),
                    person_id: r.id("person_id")?,
                    sent_at: r.time("sent_at")?.unwrap_or(default_sent_at),
                }
            }
            _ => {
                metrics::counter!(telemetry::INTAKE_REJECTED, "table" => "mailing_sends")
                    .increment(1);
                return Err(ApiError::row(
                    i,
                    "person_id",
                    "expected a person id or an object",
                ));
            }
        };
        rows.push(row);
    }
    store(&state, "mailing_sends", rows).await
}

/// `POST /api/consents`: append consent events to the ledger. The ledger is never
/// rewritten; the same event posted twice has the same `consent_id` and folds into one row.
pub async fn consents(state: Arc<AppState>, req: Req) -> ApiResult {
    let body: Value = req.json()?;
    let now = now_s();
    let rows = check_all("consents", &body, |r| {
        r.only(&[
            "person_id",
            "purpose",
            "granted",
            "source",
            "text_version",
            "at",
            "recorded_by",
        ])?;
        let purpose = r.id("purpose")?;
        let purpose_ok = purpose.len() <= 64
            && purpose
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !purpose_ok {
            return Err(ApiError::row(
                r.index,
                "purpose",
                "expected 1-64 of [a-z0-9_-], like tracking",
            ));
        }
        let mut row = ConsentRow {
            consent_id: String::new(),
            person_id: r.id("person_id")?,
            purpose,
            granted: u8::from(r.boolean("granted")?),
            source: r.text("source")?,
            text_version: r.text("text_version")?,
            at: r.required_time("at")?,
            recorded_by: r.text("recorded_by")?,
            recorded_at: now,
        };
        if row.recorded_by.is_empty() {
            row.recorded_by = "api".into();
        }
        row.consent_id = consent_id(&row);
        Ok(row)
    })?;
    let withdrawn: Vec<String> = rows
        .iter()
        .filter(|r| r.purpose == TRACKING && r.granted == 0)
        .map(|r| r.person_id.clone())
        .collect();
    let answer = store(&state, "consents", rows).await?;
    revoke_links_of_withdrawn(&state.ch, &withdrawn).await?;
    Ok(answer)
}

/// The purpose the collector enforces.
const TRACKING: &str = "tracking";

/// Visitor links are kept only while consent stands: for each person whose latest `tracking`
/// event is now a withdrawal, their live links get a revoking row. Versions are Unix ms, the
/// unit the collector links with, so a link made after a later re-consent wins again.
/// Repeating this is harmless (the same revocation again).
async fn revoke_links_of_withdrawn(
    ch: &clickhouse::Client,
    persons: &[String],
) -> Result<(), ApiError> {
    if persons.is_empty() {
        return Ok(());
    }
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    ch.query(include_str!("../../../sql/identity/revoke_links.sql"))
        .bind(now_ms)
        .bind(persons)
        .bind(persons)
        .execute()
        .await?;
    Ok(())
}

/// Hash of everything that makes a consent event what it is (not when we received it).
pub fn consent_id(r: &ConsentRow) -> String {
    let mut h = Sha256::new();
    for part in [
        r.person_id.as_str(),
        r.purpose.as_str(),
        if r.granted == 1 { "1" } else { "0" },
        r.source.as_str(),
        r.text_version.as_str(),
        &r.at.to_string(),
        r.recorded_by.as_str(),
    ] {
        // Length-prefixed, so ("ab","c") and ("a","bc") differ.
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Gives rows consecutive versions from `base`, in request order (a later row of the same
/// request wins over an earlier one).
fn number<T>(mut rows: Vec<T>, base: u64, set: impl Fn(&mut T, u64)) -> Vec<T> {
    for (i, r) in rows.iter_mut().enumerate() {
        set(r, base + i as u64);
    }
    rows
}
