//! Conversion goals (`PUT /api/goals/{name}`): a custom event name or a page path. The metric
//! jobs match hits against every goal; a change of any goal changes every day's fingerprint,
//! so the next refresh recomputes all days with the new goals.

use serde::{Deserialize, Serialize};

use super::queries;

/// One goal as stored in `goals.definition`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoalDef {
    /// Reached by a custom event of this name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// Reached by a pageview of exactly this path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl GoalDef {
    /// Checks a definition from a request; the message names the field.
    pub fn validate(&self) -> Result<(), (&'static str, &'static str)> {
        match (&self.event, &self.path) {
            (Some(e), None) if !e.is_empty() && e.len() <= 128 => Ok(()),
            (Some(_), None) => Err(("event", "`event` must be 1-128 characters")),
            (None, Some(p)) if p.starts_with('/') && p.len() <= 1024 => Ok(()),
            (None, Some(_)) => Err(("path", "`path` must start with '/' (at most 1024 bytes)")),
            _ => Err((
                "event",
                "a goal has exactly one of `event` (custom event name) or `path` (page path)",
            )),
        }
    }
}

/// Every goal, split the way the job queries take them (names beside values).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Goals {
    /// Names of event goals.
    pub event_names: Vec<String>,
    /// Event name of each event goal.
    pub event_values: Vec<String>,
    /// Names of path goals.
    pub path_names: Vec<String>,
    /// Path of each path goal.
    pub path_values: Vec<String>,
}

impl Goals {
    /// From (name, definition JSON) rows; unreadable definitions are skipped with a warning
    /// (the PUT handler validates, so this only happens if someone wrote the table by hand).
    pub fn from_rows(rows: Vec<(String, String)>) -> Self {
        let mut g = Self::default();
        for (name, def) in rows {
            match serde_json::from_str::<GoalDef>(&def) {
                Ok(GoalDef {
                    event: Some(e),
                    path: None,
                }) => {
                    g.event_names.push(name);
                    g.event_values.push(e);
                }
                Ok(GoalDef {
                    event: None,
                    path: Some(p),
                }) => {
                    g.path_names.push(name);
                    g.path_values.push(p);
                }
                _ => tracing::warn!(goal = %name, "skipping a goal with an unreadable definition"),
            }
        }
        g
    }

    /// Loads every goal's newest definition.
    pub async fn load(ch: &clickhouse::Client) -> Result<Self, clickhouse::error::Error> {
        let rows = ch
            .query(queries::GOALS_ALL)
            .fetch_all::<(String, String)>()
            .await?;
        Ok(Self::from_rows(rows))
    }

    /// Event names that reach some goal.
    pub fn events(&self) -> Vec<String> {
        self.event_values.clone()
    }

    /// Paths that reach some goal.
    pub fn paths(&self) -> Vec<String> {
        self.path_values.clone()
    }

    /// A short text that changes whenever any goal changes (part of every day's watermark).
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for list in [
            &self.event_names,
            &self.event_values,
            &self.path_names,
            &self.path_values,
        ] {
            for s in list {
                h.update(s.as_bytes());
                h.update([0]);
            }
            h.update([1]);
        }
        h.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_fingerprints() {
        let g = Goals::from_rows(vec![
            ("buy".into(), r#"{"event":"purchase"}"#.into()),
            ("thanks".into(), r#"{"path":"/thank-you"}"#.into()),
            ("junk".into(), "not json".into()),
        ]);
        assert_eq!(g.event_names, ["buy"]);
        assert_eq!(g.path_values, ["/thank-you"]);
        let other = Goals::from_rows(vec![("buy".into(), r#"{"event":"order"}"#.into())]);
        assert_ne!(g.fingerprint(), other.fingerprint());
        assert_eq!(g.fingerprint(), g.clone().fingerprint());
    }

    #[test]
    fn validates_definitions() {
        let ok = |j: &str| serde_json::from_str::<GoalDef>(j).map(|d| d.validate().is_ok());
        assert_eq!(ok(r#"{"event":"signup"}"#).ok(), Some(true));
        assert_eq!(ok(r#"{"path":"/thank-you"}"#).ok(), Some(true));
        assert_eq!(ok(r#"{"path":"thank-you"}"#).ok(), Some(false));
        assert_eq!(ok(r#"{"event":"a","path":"/b"}"#).ok(), Some(false));
        assert_eq!(ok("{}").ok(), Some(false));
        assert!(serde_json::from_str::<GoalDef>(r#"{"url":"/x"}"#).is_err());
    }
}
