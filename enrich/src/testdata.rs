//! Paths of the committed test fixtures, for this crate's tests and other crates' tests and
//! benches (so none of them depends on a file outside the repository).

/// A small MaxMind-format City database made by `scripts/make-test-mmdb.py`; its networks
/// are listed in `enrich/tests/fixtures/README.md` (e.g. 81.2.69.0/24 = GB, ENG, London).
pub const TEST_MMDB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/test-city.mmdb");

/// The user-agent corpus: tab-separated UA, browser, os, device, is_bot (0/1), `#` comments.
pub const UA_CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/user-agents.tsv"
);

/// One line of [`UA_CORPUS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UaCase {
    /// The User-Agent header.
    pub user_agent: String,
    /// Expected browser name.
    pub browser: String,
    /// Expected operating system.
    pub os: String,
    /// Expected device category.
    pub device: String,
    /// Expected bot verdict.
    pub is_bot: bool,
}

/// Parses the corpus text (comment and blank lines skipped); a malformed line is returned as
/// an error naming its line number.
pub fn parse_ua_corpus(text: &str) -> Result<Vec<UaCase>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let [ua, browser, os, device, bot] = cols[..] else {
            return Err(format!("line {}: want 5 tab-separated columns", n + 1));
        };
        let is_bot = match bot {
            "0" => false,
            "1" => true,
            _ => return Err(format!("line {}: is_bot must be 0 or 1", n + 1)),
        };
        out.push(UaCase {
            user_agent: ua.to_owned(),
            browser: browser.to_owned(),
            os: os.to_owned(),
            device: device.to_owned(),
            is_bot,
        });
    }
    Ok(out)
}
