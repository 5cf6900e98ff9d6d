-- The collector's identity links: the latest version of each (visitor, person) pair decides
-- whether it is revoked; of a visitor's live links on a site the newest wins.
-- params: none
SELECT site, visitor_id, argMax(person_id, v) AS person_id FROM (
    SELECT site, visitor_id, person_id, max(version) AS v, argMax(revoked, version) AS r
    FROM identity_links GROUP BY site, visitor_id, person_id HAVING r = 0
) GROUP BY site, visitor_id
