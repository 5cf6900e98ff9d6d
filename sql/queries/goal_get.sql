-- The newest definition of one goal (to check a `goal` parameter names a real goal).
-- params: name String = 'signup'
SELECT argMax(definition, version) FROM goals WHERE name = ? GROUP BY name
