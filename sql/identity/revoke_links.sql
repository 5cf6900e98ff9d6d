-- After consent events are stored: every live link of a person whose latest `tracking`
-- event is a withdrawal gets a revoking row (version in Unix ms, like the collector's).
-- params: version UInt64 = 99, persons Array(String) = ['alice','bob','carol'], persons_again Array(String) = ['alice','bob','carol']
INSERT INTO identity_links (visitor_id, person_id, site, source, linked_at, revoked, version)
SELECT visitor_id, person_id, site, 'withdrawal', now(), 1, ? FROM (
    SELECT visitor_id, person_id, any(site) AS site, argMax(revoked, version) AS r
    FROM identity_links WHERE has(?, person_id) GROUP BY visitor_id, person_id
) WHERE r = 0 AND person_id IN (
    SELECT person_id FROM consents WHERE purpose = 'tracking' AND has(?, person_id)
    GROUP BY person_id HAVING argMax(granted, toUInt64(at) * 2 + (1 - granted)) = 0
)
