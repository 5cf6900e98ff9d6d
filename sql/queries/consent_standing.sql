-- The persons among the given ones whose tracking consent stands now: the latest consent
-- event decides; a withdrawal at the same second as a grant wins. No event = no consent.
-- params: persons Array(String) = ['p01','p02','p03']
SELECT person_id
FROM consents
WHERE purpose = 'tracking' AND has(CAST(? AS Array(String)), person_id)
GROUP BY person_id
HAVING argMax(granted, toUInt64(at) * 2 + (1 - granted)) = 1
ORDER BY person_id
