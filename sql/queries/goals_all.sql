-- Every goal's newest definition; the metric jobs match hits against them.
-- params: none
SELECT name, argMax(definition, version) FROM goals GROUP BY name ORDER BY name
