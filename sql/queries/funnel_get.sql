-- GET /api/funnels/{name}: the newest definition of a funnel.
-- params: name String = 'signup'
SELECT argMax(definition, version) FROM funnels WHERE name = ? GROUP BY name
