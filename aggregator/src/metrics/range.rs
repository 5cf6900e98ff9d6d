//! Query parameters shared by the metric endpoints: time ranges (`from`, `to` as ISO dates,
//! ISO date-times in UTC, or Unix seconds), site and account filters, and the UTC calendar
//! arithmetic they need (no time zone database: everything is UTC).

use crate::api::{ApiError, Req};

/// Latest instant accepted: 9999-12-31T23:59:59Z.
const MAX_S: u64 = 253_402_300_799;

/// 2105-12-31 as a day number: the last day ClickHouse 18.16 `Date` handles.
const LAST_DATE_DAY: i64 = 49_672;

/// A half-open time range `[from_s, to_s)` in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// Inclusive start.
    pub from_s: u64,
    /// Exclusive end.
    pub to_s: u64,
}

impl Range {
    /// Reads `from` and `to`; absent means the beginning of time / the far future. `400`
    /// names the parameter that is malformed, or `to` when the range is empty.
    pub fn from_req(req: &Req) -> Result<Self, ApiError> {
        let from_s = match req.query("from") {
            Some(v) => parse_instant(v).ok_or_else(|| bad_instant("from"))?,
            None => 0,
        };
        let to_s = match req.query("to") {
            Some(v) => parse_instant(v).ok_or_else(|| bad_instant("to"))?,
            None => MAX_S + 1,
        };
        if to_s <= from_s {
            return Err(ApiError::field("to", "`to` must be later than `from`"));
        }
        Ok(Self { from_s, to_s })
    }

    /// The whole UTC days the range touches, as `[first_day, end_day)` dates `YYYY-MM-DD`:
    /// day-aggregated results count a day when any of it is in the range.
    /// Days are clamped to 2105-12-31, the end of ClickHouse 18.16 `Date`.
    pub fn days(&self) -> (String, String) {
        let last = LAST_DATE_DAY as u64;
        let first = (self.from_s / 86_400).min(last);
        let end = self.to_s.div_ceil(86_400).min(last);
        (date_of_day(first as i64), date_of_day(end as i64))
    }

    /// The range in Unix milliseconds.
    pub fn millis(&self) -> (u64, u64) {
        (
            self.from_s.saturating_mul(1000),
            self.to_s.saturating_mul(1000),
        )
    }

    /// The range as DateTime seconds ClickHouse can hold (UInt32).
    pub fn datetime_s(&self) -> (u32, u32) {
        let clamp = |s: u64| s.min(u64::from(u32::MAX)) as u32;
        (clamp(self.from_s), clamp(self.to_s))
    }
}

fn bad_instant(field: &str) -> ApiError {
    ApiError::field(
        field,
        format!("`{field}` must be a date YYYY-MM-DD, a UTC date-time YYYY-MM-DDTHH:MM:SSZ or Unix seconds"),
    )
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SSZ` (or with a space) or Unix seconds.
pub fn parse_instant(v: &str) -> Option<u64> {
    let v = v.trim();
    if !v.is_empty() && v.len() <= 12 && v.bytes().all(|b| b.is_ascii_digit()) {
        return v.parse::<u64>().ok().filter(|s| *s <= MAX_S);
    }
    let (date, time) = match v.len() {
        10 => (v, None),
        20 if v.ends_with('Z') && matches!(v.as_bytes()[10], b'T' | b' ') => {
            (&v[..10], Some(&v[11..19]))
        }
        _ => return None,
    };
    let day = parse_date(date)?;
    let secs = match time {
        None => 0,
        Some(t) => {
            let b = t.as_bytes();
            if b[2] != b':' || b[5] != b':' {
                return None;
            }
            let (h, m, s) = (num(&t[0..2])?, num(&t[3..5])?, num(&t[6..8])?);
            if h > 23 || m > 59 || s > 59 {
                return None;
            }
            h * 3600 + m * 60 + s
        }
    };
    u64::try_from(day).ok().map(|d| d * 86_400 + secs)
}

fn num(s: &str) -> Option<u64> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (years 1970..=9999), checking the calendar.
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (num(&s[0..4])?, num(&s[5..7])?, num(&s[8..10])?);
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || d < 1 {
        return None;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_len = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if d > month_len[(m - 1) as usize] {
        return None;
    }
    Some(days_from_civil(y as i64, m as i64, d as i64))
}

/// Howard Hinnant's days_from_civil: proleptic Gregorian date to days since 1970-01-01.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse: days since 1970-01-01 to (year, month, day).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `YYYY-MM-DD` of a day number.
pub fn date_of_day(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// RFC 3339 UTC time with milliseconds of Unix milliseconds.
pub fn iso_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let day = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    format!(
        "{}T{:02}:{:02}:{:02}.{:03}Z",
        date_of_day(day),
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// An optional identifier filter (`site`, `account`): 1–64 of `[A-Za-z0-9._@-]`, or absent.
pub fn ident_filter(req: &Req, name: &str) -> Result<String, ApiError> {
    match req.query(name) {
        None => Ok(String::new()),
        Some(v) if valid_ident(v) => Ok(v.to_string()),
        Some(_) => Err(ApiError::field(
            name,
            format!("`{name}` must be 1-64 of letters, digits, '.', '_', '@' or '-'"),
        )),
    }
}

/// Ids of sites, accounts, persons, mailings, goals and funnels.
pub fn valid_ident(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
}

/// A bounded integer query parameter with a default.
pub fn int_param(req: &Req, name: &str, default: u64, min: u64, max: u64) -> Result<u64, ApiError> {
    match req.query(name) {
        None => Ok(default),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| {
                ApiError::field(
                    name,
                    format!("`{name}` must be an integer in {min}..={max}"),
                )
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(pairs: &[(&str, &str)]) -> Req {
        Req {
            query: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Req::default()
        }
    }

    #[test]
    fn parses_the_three_forms() {
        assert_eq!(parse_instant("1970-01-01"), Some(0));
        assert_eq!(parse_instant("2026-01-05"), Some(1_767_571_200));
        assert_eq!(parse_instant("2026-01-05T01:02:03Z"), Some(1_767_574_923));
        assert_eq!(parse_instant("2026-01-05 01:02:03Z"), Some(1_767_574_923));
        assert_eq!(parse_instant("1767571200"), Some(1_767_571_200));
        assert_eq!(parse_instant("2024-02-29"), Some(19_782 * 86_400));
    }

    #[test]
    fn refuses_what_is_not_a_time() {
        for bad in [
            "",
            "2025-02-29",
            "2026-13-01",
            "2026-1-05",
            "yesterday",
            "2026-01-05T25:00:00Z",
            "-5",
            "99999999999999",
            "2026-01-05T01:02:03",
            "1969-12-31",
        ] {
            assert_eq!(parse_instant(bad), None, "{bad}");
        }
    }

    #[test]
    fn round_trips_dates() {
        for day in [0, 1, 59, 365, 10_957, 20_458, 2_932_896] {
            assert_eq!(parse_date(&date_of_day(day)), Some(day));
        }
        assert_eq!(iso_ms(1_767_574_923_456), "2026-01-05T01:02:03.456Z");
    }

    #[test]
    fn ranges_name_the_bad_parameter() {
        let e = Range::from_req(&req(&[("from", "soon")])).expect_err("must be refused");
        assert!(matches!(e, ApiError::Invalid { field: Some(ref f), .. } if f == "from"));
        let e = Range::from_req(&req(&[("from", "2026-01-06"), ("to", "2026-01-05")]))
            .expect_err("must be refused");
        assert!(matches!(e, ApiError::Invalid { field: Some(ref f), .. } if f == "to"));
        let r = Range::from_req(&req(&[
            ("from", "2026-01-05T12:00:00Z"),
            ("to", "2026-01-06"),
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.days(), ("2026-01-05".into(), "2026-01-06".into()));
        let all = Range::from_req(&req(&[])).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(all.days(), ("1970-01-01".into(), "2105-12-31".into()));
        let e = ident_filter(&req(&[("site", "a b")]), "site").expect_err("must be refused");
        assert!(matches!(e, ApiError::Invalid { field: Some(ref f), .. } if f == "site"));
    }
}
