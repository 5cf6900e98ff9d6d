-- Part of every mailing's fingerprint: the persons table (a person changing account moves
-- their figures to the other account). Versions only grow, so an update raises the maximum.
-- params: none
SELECT concat('p', toString(uniqExact(person_id)), ':', toString(max(version))) FROM persons
