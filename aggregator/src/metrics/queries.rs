//! Every aggregator query, compiled in from `sql/queries/*.sql` with its fragment includes
//! expanded (`build.rs` writes the expanded files to `OUT_DIR/queries/`). Each file documents
//! its `?` parameters in a `-- params:` header, in bind order; `tests/python/test_sql_chdb.py`
//! runs them all on ClickHouse 18.16 and on current ClickHouse.

/// The text of `sql/queries/NAME.sql` as the aggregator sends it: fragments expanded by
/// `build.rs`. Use this rather than including the file itself, which holds include lines.
macro_rules! query {
    ($name:literal) => {
        include_str!(concat!(env!("OUT_DIR"), "/queries/", $name, ".sql"))
    };
}

#[cfg(test)]
#[path = "sql_include.rs"]
mod sql_include;

/// `sql/queries/api_activity_feed.sql`.
pub const API_ACTIVITY_FEED: &str = query!("api_activity_feed");
/// `sql/queries/api_funnel_span.sql`.
pub const API_FUNNEL_SPAN: &str = query!("api_funnel_span");
/// `sql/queries/api_funnel_span_persons.sql`.
pub const API_FUNNEL_SPAN_PERSONS: &str = query!("api_funnel_span_persons");
/// `sql/queries/api_generations.sql`.
pub const API_GENERATIONS: &str = query!("api_generations");
/// `sql/queries/api_mailing_accounts.sql`.
pub const API_MAILING_ACCOUNTS: &str = query!("api_mailing_accounts");
/// `sql/queries/api_mailing_conversions.sql`.
pub const API_MAILING_CONVERSIONS: &str = query!("api_mailing_conversions");
/// `sql/queries/api_mailing_links.sql`.
pub const API_MAILING_LINKS: &str = query!("api_mailing_links");
/// `sql/queries/api_mailing_timing.sql`.
pub const API_MAILING_TIMING: &str = query!("api_mailing_timing");
/// `sql/queries/api_pages.sql`.
pub const API_PAGES: &str = query!("api_pages");
/// `sql/queries/api_pages_days.sql`.
pub const API_PAGES_DAYS: &str = query!("api_pages_days");
/// `sql/queries/api_pages_span.sql`.
pub const API_PAGES_SPAN: &str = query!("api_pages_span");
/// `sql/queries/api_person_activities.sql`.
pub const API_PERSON_ACTIVITIES: &str = query!("api_person_activities");
/// `sql/queries/commit_generations.sql`.
pub const COMMIT_GENERATIONS: &str = query!("commit_generations");
/// `sql/queries/committed_fingerprints.sql`.
pub const COMMITTED_FINGERPRINTS: &str = query!("committed_fingerprints");
/// `sql/queries/consent_standing.sql`.
pub const CONSENT_STANDING: &str = query!("consent_standing");
/// `sql/queries/job_funnel_cache_key.sql`.
pub const JOB_FUNNEL_CACHE_KEY: &str = query!("job_funnel_cache_key");
/// `sql/queries/job_funnel_span_persons.sql`.
pub const JOB_FUNNEL_SPAN_PERSONS: &str = query!("job_funnel_span_persons");
/// `sql/queries/fingerprint_bridges.sql`.
pub const FINGERPRINT_BRIDGES: &str = query!("fingerprint_bridges");
/// `sql/queries/fingerprint_days.sql`.
pub const FINGERPRINT_DAYS: &str = query!("fingerprint_days");
/// `sql/queries/fingerprint_mailings.sql`.
pub const FINGERPRINT_MAILINGS: &str = query!("fingerprint_mailings");
/// `sql/queries/fingerprint_server.sql`.
pub const FINGERPRINT_SERVER: &str = query!("fingerprint_server");
/// `sql/queries/fingerprint_persons.sql`.
pub const FINGERPRINT_PERSONS: &str = query!("fingerprint_persons");
/// `sql/queries/fingerprint_mutations.sql`.
pub const FINGERPRINT_MUTATIONS: &str = query!("fingerprint_mutations");
/// `sql/queries/fingerprint_parts.sql`.
pub const FINGERPRINT_PARTS: &str = query!("fingerprint_parts");
/// `sql/queries/funnel_get.sql`.
pub const FUNNEL_GET: &str = query!("funnel_get");
/// `sql/queries/funnel_hits.sql`.
pub const FUNNEL_HITS: &str = query!("funnel_hits");
/// `sql/queries/funnel_person_activities.sql`.
pub const FUNNEL_PERSON_ACTIVITIES: &str = query!("funnel_person_activities");
/// `sql/queries/funnel_put.sql`.
pub const FUNNEL_PUT: &str = query!("funnel_put");
/// `sql/queries/funnel_span_hits.sql`.
pub const FUNNEL_SPAN_HITS: &str = query!("funnel_span_hits");
/// `sql/queries/funnels_all.sql`.
pub const FUNNELS_ALL: &str = query!("funnels_all");
/// `sql/queries/goal_get.sql`.
pub const GOAL_GET: &str = query!("goal_get");
/// `sql/queries/goal_put.sql`.
pub const GOAL_PUT: &str = query!("goal_put");
/// `sql/queries/goals_all.sql`.
pub const GOALS_ALL: &str = query!("goals_all");
/// `sql/queries/job_activities.sql`.
pub const JOB_ACTIVITIES: &str = query!("job_activities");
/// `sql/queries/job_mail_hits.sql`.
pub const JOB_MAIL_HITS: &str = query!("job_mail_hits");
/// `sql/queries/job_funnel_spans.sql`.
pub const JOB_FUNNEL_SPANS: &str = query!("job_funnel_spans");
/// `sql/queries/job_funnel_steps.sql`.
pub const JOB_FUNNEL_STEPS: &str = query!("job_funnel_steps");
/// `sql/queries/job_mailing_links.sql`.
pub const JOB_MAILING_LINKS: &str = query!("job_mailing_links");
/// `sql/queries/job_mailing_recipients.sql`.
pub const JOB_MAILING_RECIPIENTS: &str = query!("job_mailing_recipients");
/// `sql/queries/job_page_daily.sql`.
pub const JOB_PAGE_DAILY: &str = query!("job_page_daily");
/// `sql/queries/job_page_spans_days.sql`.
pub const JOB_PAGE_SPANS_DAYS: &str = query!("job_page_spans_days");
/// `sql/queries/job_page_spans_months.sql`.
pub const JOB_PAGE_SPANS_MONTHS: &str = query!("job_page_spans_months");
/// `sql/queries/job_page_spans_sums.sql`.
pub const JOB_PAGE_SPANS_SUMS: &str = query!("job_page_spans_sums");
/// `sql/queries/job_page_spans_changed.sql`.
pub const JOB_PAGE_SPANS_CHANGED: &str = query!("job_page_spans_changed");
/// `sql/queries/job_page_spans_month_carry.sql`.
pub const JOB_PAGE_SPANS_MONTH_CARRY: &str = query!("job_page_spans_month_carry");
/// `sql/queries/job_pageviews.sql`.
pub const JOB_PAGEVIEWS: &str = query!("job_pageviews");
/// `sql/queries/person_account.sql`.
pub const PERSON_ACCOUNT: &str = query!("person_account");

/// Every query with its file name, for tests that check them all.
pub const ALL: &[(&str, &str)] = &[
    ("api_activity_feed", API_ACTIVITY_FEED),
    ("api_funnel_span", API_FUNNEL_SPAN),
    ("api_funnel_span_persons", API_FUNNEL_SPAN_PERSONS),
    ("api_generations", API_GENERATIONS),
    ("api_mailing_accounts", API_MAILING_ACCOUNTS),
    ("api_mailing_conversions", API_MAILING_CONVERSIONS),
    ("api_mailing_links", API_MAILING_LINKS),
    ("api_mailing_timing", API_MAILING_TIMING),
    ("api_pages", API_PAGES),
    ("api_pages_days", API_PAGES_DAYS),
    ("api_pages_span", API_PAGES_SPAN),
    ("api_person_activities", API_PERSON_ACTIVITIES),
    ("commit_generations", COMMIT_GENERATIONS),
    ("committed_fingerprints", COMMITTED_FINGERPRINTS),
    ("consent_standing", CONSENT_STANDING),
    ("job_funnel_cache_key", JOB_FUNNEL_CACHE_KEY),
    ("job_funnel_span_persons", JOB_FUNNEL_SPAN_PERSONS),
    ("fingerprint_days", FINGERPRINT_DAYS),
    ("fingerprint_mailings", FINGERPRINT_MAILINGS),
    ("fingerprint_persons", FINGERPRINT_PERSONS),
    ("funnel_get", FUNNEL_GET),
    ("funnel_hits", FUNNEL_HITS),
    ("funnel_person_activities", FUNNEL_PERSON_ACTIVITIES),
    ("funnel_put", FUNNEL_PUT),
    ("funnel_span_hits", FUNNEL_SPAN_HITS),
    ("funnels_all", FUNNELS_ALL),
    ("goal_get", GOAL_GET),
    ("goal_put", GOAL_PUT),
    ("goals_all", GOALS_ALL),
    ("job_activities", JOB_ACTIVITIES),
    ("job_funnel_spans", JOB_FUNNEL_SPANS),
    ("job_funnel_steps", JOB_FUNNEL_STEPS),
    ("job_mailing_links", JOB_MAILING_LINKS),
    ("job_mailing_recipients", JOB_MAILING_RECIPIENTS),
    ("job_page_daily", JOB_PAGE_DAILY),
    ("job_page_spans_days", JOB_PAGE_SPANS_DAYS),
    ("job_page_spans_months", JOB_PAGE_SPANS_MONTHS),
    ("job_page_spans_sums", JOB_PAGE_SPANS_SUMS),
    ("job_page_spans_changed", JOB_PAGE_SPANS_CHANGED),
    ("job_page_spans_month_carry", JOB_PAGE_SPANS_MONTH_CARRY),
    ("job_pageviews", JOB_PAGEVIEWS),
    ("person_account", PERSON_ACCOUNT),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::{collections::BTreeMap, fs, path::Path, process::Command};

    /// The repository's root.
    fn root() -> &'static Path {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
    }

    /// Every file `build.rs` wrote: file name -> expanded text.
    fn built() -> BTreeMap<String, String> {
        let dir = concat!(env!("OUT_DIR"), "/queries");
        let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{dir}: {e}"));
        entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .map(|p| {
                let name = p
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                let text = fs::read_to_string(&p).unwrap_or_else(|e| panic!("{name}: {e}"));
                (name, text)
            })
            .collect()
    }

    /// Every query file as it is now, expanded by the expander `build.rs` runs (read now
    /// rather than taken from `OUT_DIR`, so a file edited since the build compares fairly).
    fn expanded_now() -> BTreeMap<String, (String, String)> {
        let dir = root().join("sql/queries");
        let read_fragment = |path: &str| fs::read_to_string(dir.join(path)).ok();
        let mut out = BTreeMap::new();
        for path in fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
        {
            if path.extension().is_none_or(|e| e != "sql") {
                continue;
            }
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let raw = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
            let shown = format!("sql/queries/{name}");
            let text =
                sql_include::expand(&raw, &shown, &read_fragment).unwrap_or_else(|e| panic!("{e}"));
            out.insert(name, (raw, text));
        }
        out
    }

    #[test]
    fn the_python_expander_writes_the_same_text() {
        let out = Command::new("python3")
            .arg("tests/python/sqlinclude.py")
            .current_dir(root())
            .output()
            .unwrap_or_else(|e| panic!("python3: {e}"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "sqlinclude.py failed: {stderr}");
        let python: BTreeMap<String, String> =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON: {e}"));
        let rust = expanded_now();
        assert!(rust.contains_key("job_pageviews.sql"), "{:?}", rust.keys());
        assert_eq!(
            python.keys().collect::<Vec<_>>(),
            rust.keys().collect::<Vec<_>>()
        );
        for (name, (_, text)) in &rust {
            assert!(python[name] == *text, "{name}: the two expanders differ");
        }
    }

    #[test]
    fn files_without_includes_are_sent_as_written_and_the_others_expanded() {
        let mut expanded = 0;
        for (name, (raw, text)) in expanded_now() {
            if raw.contains("-- @include") {
                assert!(!text.contains("-- @include"), "{name}");
                assert!(!text.contains("{{"), "{name}: an argument left unexpanded");
                expanded += 1;
            } else {
                assert_eq!(text, raw, "{name}");
            }
        }
        assert!(expanded >= 3, "the bridge rule's three users include it");
        // What the build compiled in is expanded too.
        assert!(JOB_PAGEVIEWS.contains("AS lo_3)") && !JOB_PAGEVIEWS.contains("-- @include"));
    }

    /// A query file that includes fragments must come in through `query!`: compiled in as
    /// written, its include lines would be comments and the included SQL missing.
    #[test]
    fn no_source_file_compiles_in_a_query_file_that_has_includes() {
        let include = concat!("include", "_str!(");
        let mut dirs = vec![root().join("aggregator/src")];
        let mut sources = 0;
        while let Some(dir) = dirs.pop() {
            for path in fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
            {
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                sources += 1;
                let src = fs::read_to_string(&path).unwrap_or_default();
                for line in src.lines().filter(|l| l.contains(include)) {
                    let Some((_, file)) = line.split_once("sql/queries/") else {
                        continue;
                    };
                    let file = file.split('"').next().unwrap_or_default();
                    let raw = fs::read_to_string(root().join("sql/queries").join(file))
                        .unwrap_or_default();
                    assert!(
                        !raw.contains("-- @include"),
                        "{}: {file} has fragment includes; compile it in with query!()",
                        path.display()
                    );
                }
            }
        }
        assert!(sources > 10, "the scan read the aggregator's sources");
    }

    #[test]
    fn every_placeholder_is_declared_in_the_header() {
        let built = built();
        let all = ALL.iter().map(|(n, s)| (n.to_string(), s.to_string()));
        for (name, sql) in all.chain(built) {
            let header = sql.lines().find_map(|l| l.strip_prefix("-- params:"));
            let header = header
                .unwrap_or_else(|| panic!("{name}: no -- params: header"))
                .trim();
            let declared = if header == "none" {
                0
            } else {
                header.matches(" = ").count()
            };
            assert_eq!(sql.matches('?').count(), declared, "{name}");
        }
    }
}
