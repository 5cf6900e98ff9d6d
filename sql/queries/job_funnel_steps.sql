-- Job "funnels": the steps one funnel's walk over every person's timeline reached, as
-- generation `version`, from parallel arrays. A step keeps the first_seen of the committed
-- generation `previous` (0: none) when it was already there, so the change feed does not
-- hand it out again.
-- params: funnel String = 'buy', version UInt64 = 18, persons Array(String) = ['p1','p1'], times Array(UInt64) = [1767571200000,1767571260000], details Array(String) = ['a','b'], funnel2 String = 'buy', previous UInt64 = 0
INSERT INTO r_funnel_steps (funnel, version, first_seen, activity_id, person_id, ts_ms, detail)
SELECT s_funnel, s_gen, if(prev_first_seen = 0, s_gen, prev_first_seen), activity_id,
       s.1, s.2, s.3
FROM
(
    SELECT s_funnel, s_gen, s, cityHash64(s_funnel, s.1, s.2, s.3) AS activity_id
    FROM
    (
        SELECT
            ? AS s_funnel, toUInt64(?) AS s_gen,
            arrayJoin(arrayMap((p, t, d) -> (p, t, d), CAST(? AS Array(String)),
                               CAST(? AS Array(UInt64)), CAST(? AS Array(String)))) AS s
    )
) AS l1
ANY LEFT JOIN
(
    SELECT activity_id, first_seen AS prev_first_seen
    FROM r_funnel_steps
    WHERE funnel = ? AND version = ?
) AS r2 USING activity_id
