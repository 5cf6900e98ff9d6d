-- PUT /api/goals/{name}: stores the definition (validated JSON); the newest version wins.
-- params: name String = 'thanks', definition String = '{"path":"/thank-you"}', version UInt64 = 2
INSERT INTO goals (name, definition, updated_at, version)
SELECT ?, ?, now(), toUInt64(?)
