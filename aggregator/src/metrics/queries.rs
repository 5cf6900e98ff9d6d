//! Every aggregator query, compiled in from `sql/queries/*.sql`. Each file documents its
//! `?` parameters in a `-- params:` header, in bind order; `tests/python/test_sql_chdb.py` runs
//! them all on ClickHouse 18.16 and on current ClickHouse.

/// `sql/queries/api_activity_feed.sql`.
pub const API_ACTIVITY_FEED: &str = include_str!("../../../sql/queries/api_activity_feed.sql");
/// `sql/queries/api_funnel_span.sql`.
pub const API_FUNNEL_SPAN: &str = include_str!("../../../sql/queries/api_funnel_span.sql");
/// `sql/queries/api_funnel_span_persons.sql`.
pub const API_FUNNEL_SPAN_PERSONS: &str =
    include_str!("../../../sql/queries/api_funnel_span_persons.sql");
/// `sql/queries/api_generations.sql`.
pub const API_GENERATIONS: &str = include_str!("../../../sql/queries/api_generations.sql");
/// `sql/queries/api_mailing_accounts.sql`.
pub const API_MAILING_ACCOUNTS: &str =
    include_str!("../../../sql/queries/api_mailing_accounts.sql");
/// `sql/queries/api_mailing_conversions.sql`.
pub const API_MAILING_CONVERSIONS: &str =
    include_str!("../../../sql/queries/api_mailing_conversions.sql");
/// `sql/queries/api_mailing_links.sql`.
pub const API_MAILING_LINKS: &str = include_str!("../../../sql/queries/api_mailing_links.sql");
/// `sql/queries/api_mailing_timing.sql`.
pub const API_MAILING_TIMING: &str = include_str!("../../../sql/queries/api_mailing_timing.sql");
/// `sql/queries/api_pages.sql`.
pub const API_PAGES: &str = include_str!("../../../sql/queries/api_pages.sql");
/// `sql/queries/api_pages_days.sql`.
pub const API_PAGES_DAYS: &str = include_str!("../../../sql/queries/api_pages_days.sql");
/// `sql/queries/api_pages_span.sql`.
pub const API_PAGES_SPAN: &str = include_str!("../../../sql/queries/api_pages_span.sql");
/// `sql/queries/api_person_activities.sql`.
pub const API_PERSON_ACTIVITIES: &str =
    include_str!("../../../sql/queries/api_person_activities.sql");
/// `sql/queries/commit_generations.sql`.
pub const COMMIT_GENERATIONS: &str = include_str!("../../../sql/queries/commit_generations.sql");
/// `sql/queries/committed_fingerprints.sql`.
pub const COMMITTED_FINGERPRINTS: &str =
    include_str!("../../../sql/queries/committed_fingerprints.sql");
/// `sql/queries/consent_standing.sql`.
pub const CONSENT_STANDING: &str = include_str!("../../../sql/queries/consent_standing.sql");
/// `sql/queries/job_funnel_cache_key.sql`.
pub const JOB_FUNNEL_CACHE_KEY: &str =
    include_str!("../../../sql/queries/job_funnel_cache_key.sql");
/// `sql/queries/job_funnel_span_persons.sql`.
pub const JOB_FUNNEL_SPAN_PERSONS: &str =
    include_str!("../../../sql/queries/job_funnel_span_persons.sql");
/// `sql/queries/fingerprint_days.sql`.
pub const FINGERPRINT_DAYS: &str = include_str!("../../../sql/queries/fingerprint_days.sql");
/// `sql/queries/fingerprint_mailings.sql`.
pub const FINGERPRINT_MAILINGS: &str =
    include_str!("../../../sql/queries/fingerprint_mailings.sql");
/// `sql/queries/fingerprint_persons.sql`.
pub const FINGERPRINT_PERSONS: &str = include_str!("../../../sql/queries/fingerprint_persons.sql");
/// `sql/queries/funnel_get.sql`.
pub const FUNNEL_GET: &str = include_str!("../../../sql/queries/funnel_get.sql");
/// `sql/queries/funnel_hits.sql`.
pub const FUNNEL_HITS: &str = include_str!("../../../sql/queries/funnel_hits.sql");
/// `sql/queries/funnel_person_activities.sql`.
pub const FUNNEL_PERSON_ACTIVITIES: &str =
    include_str!("../../../sql/queries/funnel_person_activities.sql");
/// `sql/queries/funnel_put.sql`.
pub const FUNNEL_PUT: &str = include_str!("../../../sql/queries/funnel_put.sql");
/// `sql/queries/funnel_span_hits.sql`.
pub const FUNNEL_SPAN_HITS: &str = include_str!("../../../sql/queries/funnel_span_hits.sql");
/// `sql/queries/funnels_all.sql`.
pub const FUNNELS_ALL: &str = include_str!("../../../sql/queries/funnels_all.sql");
/// `sql/queries/goal_get.sql`.
pub const GOAL_GET: &str = include_str!("../../../sql/queries/goal_get.sql");
/// `sql/queries/goal_put.sql`.
pub const GOAL_PUT: &str = include_str!("../../../sql/queries/goal_put.sql");
/// `sql/queries/goals_all.sql`.
pub const GOALS_ALL: &str = include_str!("../../../sql/queries/goals_all.sql");
/// `sql/queries/job_activities.sql`.
pub const JOB_ACTIVITIES: &str = include_str!("../../../sql/queries/job_activities.sql");
/// `sql/queries/job_funnel_spans.sql`.
pub const JOB_FUNNEL_SPANS: &str = include_str!("../../../sql/queries/job_funnel_spans.sql");
/// `sql/queries/job_funnel_steps.sql`.
pub const JOB_FUNNEL_STEPS: &str = include_str!("../../../sql/queries/job_funnel_steps.sql");
/// `sql/queries/job_mailing_links.sql`.
pub const JOB_MAILING_LINKS: &str = include_str!("../../../sql/queries/job_mailing_links.sql");
/// `sql/queries/job_mailing_recipients.sql`.
pub const JOB_MAILING_RECIPIENTS: &str =
    include_str!("../../../sql/queries/job_mailing_recipients.sql");
/// `sql/queries/job_page_daily.sql`.
pub const JOB_PAGE_DAILY: &str = include_str!("../../../sql/queries/job_page_daily.sql");
/// `sql/queries/job_page_spans_days.sql`.
pub const JOB_PAGE_SPANS_DAYS: &str = include_str!("../../../sql/queries/job_page_spans_days.sql");
/// `sql/queries/job_page_spans_months.sql`.
pub const JOB_PAGE_SPANS_MONTHS: &str =
    include_str!("../../../sql/queries/job_page_spans_months.sql");
/// `sql/queries/job_page_spans_sums.sql`.
pub const JOB_PAGE_SPANS_SUMS: &str = include_str!("../../../sql/queries/job_page_spans_sums.sql");
/// `sql/queries/job_page_spans_changed.sql`.
pub const JOB_PAGE_SPANS_CHANGED: &str =
    include_str!("../../../sql/queries/job_page_spans_changed.sql");
/// `sql/queries/job_page_spans_month_carry.sql`.
pub const JOB_PAGE_SPANS_MONTH_CARRY: &str =
    include_str!("../../../sql/queries/job_page_spans_month_carry.sql");
/// `sql/queries/job_pageviews.sql`.
pub const JOB_PAGEVIEWS: &str = include_str!("../../../sql/queries/job_pageviews.sql");
/// `sql/queries/person_account.sql`.
pub const PERSON_ACCOUNT: &str = include_str!("../../../sql/queries/person_account.sql");

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

    #[test]
    fn every_placeholder_is_declared_in_the_header() {
        for (name, sql) in ALL {
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
