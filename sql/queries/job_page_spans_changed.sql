-- Job "page_spans": the (site, path) rows, as cityHash64(site, path), whose day row changed on
-- one of the given days: its checksum (r_page_span_sums, migration 0011) at the new generation
-- `version` differs from the one at the day's previous generation versions[i] (0: none), or
-- one of the two is missing. A missing row always counts as changed, so an old row folded
-- away by a merge only costs a re-merge; a hash shared by two rows makes both "changed"
-- (never "unchanged"), so the month stays exact either way.
-- params: version UInt64 = 19, first_day String = '2026-01-07', last_day String = '2026-01-07', version2 UInt64 = 19, versions Array(UInt64) = [18], days Array(String) = ['2026-01-07'], days2 Array(String) = ['2026-01-07']
SELECT DISTINCT pair
FROM
(
    SELECT
        uniqExactIf(checksum, is_new = 1) AS n_new,
        uniqExactIf(checksum, is_new = 0) AS n_old,
        anyIf(checksum, is_new = 1) = anyIf(checksum, is_new = 0) AS same,
        pair
    FROM
    (
        SELECT span_start, cityHash64(site, path) AS pair, checksum,
               toUInt8(version = toUInt64(?)) AS is_new
        FROM r_page_span_sums
        WHERE span_start >= toDate(?) AND span_start <= toDate(?)
          AND (version = toUInt64(?)
               OR version = CAST(? AS Array(UInt64))[indexOf(CAST(? AS Array(String)), toString(span_start))])
          AND has(CAST(? AS Array(String)), toString(span_start))
    )
    GROUP BY span_start, pair
)
WHERE NOT (n_new = 1 AND n_old = 1 AND same)
