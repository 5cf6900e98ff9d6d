-- Job "funnels": the persons who dropped out of one funnel over one span, as generation
-- `version`, from parallel arrays (account '' = every visitor's persons).
-- params: funnel String = 'buy', span_start String = '2026-01-01', span_end String = '2026-02-01', version UInt64 = 18, sites Array(String) = ['shop.example','shop.example'], accounts Array(String) = ['','a1'], persons Array(String) = ['p1','p1'], person_accounts Array(String) = ['a1','a1'], levels Array(UInt32) = [1,2]
INSERT INTO r_funnel_span_persons (funnel, site, account, span_start, span_end, version, person_id, person_account, level)
SELECT f_name, r.1, r.2, toDate(f_start), toDate(f_end), f_gen, r.3, r.4, r.5
FROM
(
    SELECT
        ? AS f_name, ? AS f_start, ? AS f_end, toUInt64(?) AS f_gen,
        arrayJoin(arrayMap((s, a, p, pa, l) -> (s, a, p, pa, l), CAST(? AS Array(String)),
                           CAST(? AS Array(String)), CAST(? AS Array(String)),
                           CAST(? AS Array(String)), CAST(? AS Array(UInt32)))) AS r
)
