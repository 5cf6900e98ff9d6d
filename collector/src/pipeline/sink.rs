//! One INSERT of an encoded batch into `hits`, and the Vector-style classification of its
//! failure: bad data is never retried, everything else is.

use std::time::{Duration, Instant};

use common::ch::ChSettings;
use common::hit::hits_insert_sql;

use super::Batch;
use crate::telemetry::{self, InsertClass};

/// ClickHouse error codes that mean the rows themselves are unacceptable, so retrying the
/// same bytes can never succeed: type mismatch (53), cannot parse text/number/date/UUID (6,
/// 26, 27, 38, 41, 72, 376), bad RowBinary (33 cannot read all data, 117 incorrect data,
/// 131 too large string), too large array (128). Schema problems (unknown table or column)
/// are left transient on purpose: an operator fixes the schema and the replay succeeds.
const BAD_DATA_CODES: &[u32] = &[6, 26, 27, 33, 38, 41, 53, 72, 117, 128, 131, 376];

/// Why an insert failed.
#[derive(Debug, thiserror::Error)]
#[error("{class:?}: {message}")]
pub struct InsertError {
    /// Retry or quarantine.
    pub class: InsertClass,
    /// The server's or client's words, for the log.
    pub message: String,
}

/// The `Code: N` a ClickHouse error message starts with, if any.
fn error_code(message: &str) -> Option<u32> {
    let rest = &message[message.find("Code: ")? + 6..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Sorts a client error into bad data (never retry) or transient (retry).
pub fn classify(err: &clickhouse::error::Error) -> InsertClass {
    match err {
        clickhouse::error::Error::TimedOut => InsertClass::Timeout,
        clickhouse::error::Error::BadResponse(m) => match error_code(m) {
            Some(code) if BAD_DATA_CODES.contains(&code) => InsertClass::BadData,
            _ => InsertClass::Transient,
        },
        _ => InsertClass::Transient,
    }
}

/// True when `url` points at this host. Client-side LZ4 pays where bandwidth is scarce; to a
/// server on the same host it is pure CPU on both ends (about 3% of the collector's CPU at
/// full rate, and a 30k-row batch compressed on an async worker held requests up for
/// milliseconds), so inserts over loopback go uncompressed.
fn is_loopback_url(url: &str) -> bool {
    let Ok(uri) = url.parse::<http::Uri>() else {
        return false;
    };
    let Some(host) = uri.host() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Writes batches to ClickHouse.
#[derive(Clone)]
pub struct Sink {
    /// Client bound to the hits database.
    client: clickhouse::Client,
    /// Longest an INSERT may take before its batch counts as not written.
    timeout: Duration,
}

impl Sink {
    /// A sink for `settings`, giving up on an INSERT after `timeout`.
    pub fn new(settings: &ChSettings, timeout: Duration) -> Self {
        let mut client = settings.client();
        if is_loopback_url(&settings.url) {
            client = client.with_compression(clickhouse::Compression::None);
        }
        Self { client, timeout }
    }

    /// Inserts the batch's bytes as they are. The caller keeps the batch until this says Ok.
    pub async fn insert(&self, batch: &Batch) -> Result<(), InsertError> {
        let started = Instant::now();
        let result = tokio::time::timeout(self.timeout, self.send(batch)).await;
        let result = match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(InsertError {
                class: classify(&e),
                message: e.to_string(),
            }),
            Err(_) => Err(InsertError {
                class: InsertClass::Timeout,
                message: format!("insert took longer than {:?}", self.timeout),
            }),
        };
        // Start and length of every INSERT, to line the collector's stalls up with ClickHouse's
        // query and part logs (`COLLECTOR_LOG=collector::pipeline=debug`).
        tracing::debug!(
            rows = batch.rows,
            bytes = batch.bytes.len(),
            ms = started.elapsed().as_secs_f64() * 1000.0,
            ok = result.is_ok(),
            "insert"
        );
        telemetry::insert(
            started.elapsed().as_secs_f64(),
            batch.rows as usize,
            result.as_ref().err().map(|e| e.class),
        );
        result
    }

    async fn send(&self, batch: &Batch) -> Result<(), clickhouse::error::Error> {
        let mut insert = self.client.insert_formatted_with(hits_insert_sql());
        insert.send(batch.bytes.clone()).await?;
        insert.end().await
    }

    /// True when ClickHouse answers a trivial query (for `/readyz`).
    pub async fn ping(&self) -> bool {
        let q = self.client.query("SELECT 1").fetch_one::<u8>();
        matches!(
            tokio::time::timeout(Duration::from_secs(2), q).await,
            Ok(Ok(1))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_classified() {
        let bad = clickhouse::error::Error::BadResponse(
            "Code: 117, e.displayText() = DB::Exception: Unexpected data".into(),
        );
        assert_eq!(classify(&bad), InsertClass::BadData);
        let mismatch = clickhouse::error::Error::BadResponse("Code: 53. DB::Exception".into());
        assert_eq!(classify(&mismatch), InsertClass::BadData);
        let busy = clickhouse::error::Error::BadResponse(
            "Code: 252, e.displayText() = DB::Exception: Too many parts".into(),
        );
        assert_eq!(classify(&busy), InsertClass::Transient);
        let net = clickhouse::error::Error::Network("refused".into());
        assert_eq!(classify(&net), InsertClass::Transient);
        assert_eq!(
            classify(&clickhouse::error::Error::TimedOut),
            InsertClass::Timeout
        );
        assert_eq!(error_code("no code here"), None);
        assert_eq!(error_code("Code: "), None);
    }

    #[test]
    fn loopback_urls_are_recognised() {
        for (url, local) in [
            ("http://127.0.0.1:8123", true),
            ("http://localhost:8123/", true),
            ("http://[::1]:8123", true),
            ("https://127.0.0.2", true),
            ("http://10.0.0.5:8123", false),
            ("http://clickhouse.svc:8123", false),
            ("not a url", false),
        ] {
            assert_eq!(is_loopback_url(url), local, "{url}");
        }
    }
}
