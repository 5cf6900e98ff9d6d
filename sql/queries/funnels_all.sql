-- Every funnel's newest definition (for the funnel steps of person timelines).
-- params: none
SELECT name, argMax(definition, version) FROM funnels GROUP BY name ORDER BY name
