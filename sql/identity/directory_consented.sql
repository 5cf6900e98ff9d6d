-- The collector's consent directory: persons whose latest `tracking` event is a grant (a
-- withdrawal wins a tie in the same second), with their account (latest person version).
-- params: none
SELECT person_id, account_id FROM (
    SELECT person_id, argMax(granted, toUInt64(at) * 2 + (1 - granted)) AS g
    FROM consents WHERE purpose = 'tracking' GROUP BY person_id HAVING g = 1
) AS c ANY LEFT JOIN (
    SELECT person_id, argMax(account_id, version) AS account_id FROM persons GROUP BY person_id
) AS p USING person_id
