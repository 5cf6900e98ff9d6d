-- The account of a person (latest version of the CRM row); no row = unknown person.
-- params: person String = 'p01'
SELECT argMax(account_id, version) FROM persons WHERE person_id = ? GROUP BY person_id
