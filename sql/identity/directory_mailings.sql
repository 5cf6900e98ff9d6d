-- Each mailing's own send time, the fallback when a person's send is not loaded.
-- params: none
SELECT mailing_id, toUInt32(argMax(sent_at, version)) FROM mailings GROUP BY mailing_id
