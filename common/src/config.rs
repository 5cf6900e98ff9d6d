//! Config loading shared by both binaries: a tiny key/value source trait (env, TOML file, or a
//! map in tests) and an error list that names every bad key at once.

use std::collections::HashMap;
use std::fmt;

/// Where settings come from. Tests use a `HashMap`; binaries use [`Layered`] over the
/// environment and an optional TOML file.
pub trait Source {
    /// The raw value of `key` (an upper-case env-style name), if set.
    fn get(&self, key: &str) -> Option<String>;
}

impl Source for HashMap<String, String> {
    fn get(&self, key: &str) -> Option<String> {
        HashMap::get(self, key).cloned()
    }
}

/// The process environment.
pub struct Env;

impl Source for Env {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }
}

/// Env over a TOML file: env wins. File keys are matched case-insensitively to env names.
pub struct Layered {
    /// Values read from the `--config` file, keyed by upper-case name.
    file: HashMap<String, String>,
}

impl Layered {
    /// Reads the optional TOML config file; its top-level keys are the env names (any case).
    pub fn load(path: Option<&str>) -> Result<Self, ConfigErrors> {
        let mut file = HashMap::new();
        if let Some(path) = path {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigErrors::one("--config", path, &format!("a readable TOML file ({e})"))
            })?;
            let table: toml::Table = toml::from_str(&text)
                .map_err(|e| ConfigErrors::one("--config", path, &format!("valid TOML ({e})")))?;
            for (k, v) in table {
                let v = match v {
                    toml::Value::String(s) => s,
                    other => other.to_string(),
                };
                file.insert(k.to_ascii_uppercase(), v);
            }
        }
        Ok(Self { file })
    }
}

impl Source for Layered {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key)
            .ok()
            .or_else(|| self.file.get(key).cloned())
    }
}

/// One bad setting: the key, the value seen and the form expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Env name of the setting.
    pub key: String,
    /// The value that was refused (secrets are masked by the caller).
    pub value: String,
    /// What a valid value looks like.
    pub expected: String,
}

/// Every bad setting found while loading, so an operator fixes them in one go.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// A list holding a single error.
    pub fn one(key: &str, value: &str, expected: &str) -> Self {
        let mut e = Self::default();
        e.push(key, value, expected);
        e
    }

    /// Records a bad setting.
    pub fn push(&mut self, key: &str, value: &str, expected: &str) {
        self.0.push(ConfigError {
            key: key.into(),
            value: value.into(),
            expected: expected.into(),
        });
    }

    /// `Ok(v)` when nothing was recorded.
    pub fn into_result<T>(self, v: T) -> Result<T, Self> {
        if self.0.is_empty() {
            Ok(v)
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "invalid {}={:?}: expected {}",
                e.key, e.value, e.expected
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Reads typed settings from a [`Source`], collecting every error.
pub struct Reader<'a> {
    /// The settings source.
    src: &'a dyn Source,
    /// Errors found so far.
    pub errors: ConfigErrors,
}

impl<'a> Reader<'a> {
    /// A reader over `src`.
    pub fn new(src: &'a dyn Source) -> Self {
        Self {
            src,
            errors: ConfigErrors::default(),
        }
    }

    /// The raw string, or `default`.
    pub fn string(&mut self, key: &str, default: &str) -> String {
        self.src.get(key).unwrap_or_else(|| default.to_string())
    }

    /// The raw string if set and non-empty.
    pub fn optional(&mut self, key: &str) -> Option<String> {
        self.src.get(key).filter(|v| !v.trim().is_empty())
    }

    /// A value parsed by `parse`; on failure records `expected` and returns `default`.
    pub fn parse<T>(
        &mut self,
        key: &str,
        default: T,
        expected: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> T {
        match self.src.get(key) {
            None => default,
            Some(raw) => match parse(raw.trim()) {
                Some(v) => v,
                None => {
                    self.errors.push(key, &raw, expected);
                    default
                }
            },
        }
    }

    /// An unsigned number within `[min, max]`.
    pub fn number(&mut self, key: &str, default: u64, min: u64, max: u64) -> u64 {
        let expected = format!("a whole number from {min} to {max}");
        self.parse(key, default, &expected, |s| {
            s.parse::<u64>().ok().filter(|v| (min..=max).contains(v))
        })
    }

    /// A socket address like `127.0.0.1:8080`.
    pub fn socket_addr(&mut self, key: &str, default: &str) -> std::net::SocketAddr {
        let fallback = default
            .parse()
            .unwrap_or(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
        self.parse(key, fallback, "host:port, like 127.0.0.1:8080", |s| {
            s.parse().ok()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reports_every_bad_key() {
        let s = src(&[("A", "x"), ("B", "99999"), ("C", "7")]);
        let mut r = Reader::new(&s);
        assert_eq!(r.number("A", 1, 0, 10), 1);
        assert_eq!(r.number("B", 2, 0, 10), 2);
        assert_eq!(r.number("C", 3, 0, 10), 7);
        assert_eq!(r.socket_addr("D", "127.0.0.1:1").port(), 1);
        let keys: Vec<_> = r.errors.0.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["A", "B"]);
        assert!(r
            .errors
            .to_string()
            .contains("invalid B=\"99999\": expected a whole number from 0 to 10"));
    }
}
