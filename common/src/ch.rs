//! ClickHouse connection settings shared by both binaries, and the client built from them.

use crate::config::Reader;

/// Where ClickHouse is and who we are to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChSettings {
    /// HTTP endpoint, `CLICKHOUSE_URL`.
    pub url: String,
    /// Database holding every table, `CLICKHOUSE_DATABASE`.
    pub database: String,
    /// `CLICKHOUSE_USER`, empty for the server default.
    pub user: String,
    /// `CLICKHOUSE_PASSWORD`.
    pub password: String,
}

impl Default for ChSettings {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:8123".into(),
            database: "tracking".into(),
            user: String::new(),
            password: String::new(),
        }
    }
}

/// A database name we are willing to put into DDL: letters, digits and underscores.
pub fn valid_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !s.as_bytes()[0].is_ascii_digit()
}

impl ChSettings {
    /// Reads the `CLICKHOUSE_*` keys, recording bad ones in the reader.
    pub fn read(r: &mut Reader<'_>) -> Self {
        let d = Self::default();
        let url = r.parse("CLICKHOUSE_URL", d.url, "an http:// or https:// URL", |s| {
            url::Url::parse(s)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                .map(|_| s.trim_end_matches('/').to_string())
        });
        let database = r.parse(
            "CLICKHOUSE_DATABASE",
            d.database,
            "a name of letters, digits and _ (not starting with a digit)",
            |s| valid_identifier(s).then(|| s.to_string()),
        );
        Self {
            url,
            database,
            user: r.string("CLICKHOUSE_USER", ""),
            password: r.string("CLICKHOUSE_PASSWORD", ""),
        }
    }

    /// A client bound to the database. Validation is off: the 18.16 server cannot describe
    /// tables the way the crate's validator expects.
    pub fn client(&self) -> clickhouse::Client {
        self.server_client().with_database(&self.database)
    }

    /// A client not bound to any database (for `CREATE DATABASE`).
    pub fn server_client(&self) -> clickhouse::Client {
        let mut c = clickhouse::Client::default()
            .with_url(&self.url)
            .with_validation(false)
            .with_compression(clickhouse::Compression::Lz4);
        if !self.user.is_empty() {
            c = c.with_user(&self.user);
        }
        if !self.password.is_empty() {
            c = c.with_password(&self.password);
        }
        c
    }
}
