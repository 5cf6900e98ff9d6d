-- Job "funnels": the finished figures of one funnel over one span as generation `version`,
-- one row per (site, account) from parallel arrays (account '' = every visitor).
-- levels is written as '[]' since migration 0010 (the dropped persons have their own rows).
-- params: funnel String = 'buy', span_start String = '2026-01-01', span_end String = '2026-02-01', version UInt64 = 18, sites Array(String) = ['shop.example','shop.example'], accounts Array(String) = ['','a1'], steps Array(String) = ['steps1','steps2'], levels Array(String) = ['levels1','levels2']
INSERT INTO r_funnel_spans (funnel, site, account, span_start, span_end, version, steps, levels)
SELECT f_name, r.1, r.2, toDate(f_start), toDate(f_end), f_gen, r.3, r.4
FROM
(
    SELECT
        ? AS f_name, ? AS f_start, ? AS f_end, toUInt64(?) AS f_gen,
        arrayJoin(arrayMap((s, a, st, l) -> (s, a, st, l), CAST(? AS Array(String)),
                           CAST(? AS Array(String)), CAST(? AS Array(String)),
                           CAST(? AS Array(String)))) AS r
)
