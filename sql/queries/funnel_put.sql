-- PUT /api/funnels/{name}: stores the definition (validated JSON); the newest version wins.
-- params: name String = 'signup2', definition String = '{"steps":[{"name":"home","path":"/"}],"window_s":3600}', version UInt64 = 2
INSERT INTO funnels (name, definition, updated_at, version)
SELECT ?, ?, now(), toUInt64(?)
