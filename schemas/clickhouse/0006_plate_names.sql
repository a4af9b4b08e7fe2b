-- Every readable plate once, with the days it was read on. A plate pattern with a leading
-- wildcard (*1234) that the newest day cannot answer looks up the (plate, day) pairs of its
-- matches. Over a long range, plate_days is the slow way to find them: a rare pattern matches
-- no pair early, so all of its rows are read (a plate once per day it was read: 63 million rows
-- for 100 million reads over 90 days, about a second). Matching each plate once reads fifteen
-- times fewer (docs/search.md has the measurements).
--
-- The days are a set and the last day a maximum, so a row inserted twice (a retried batch,
-- the backfill beside the view) changes nothing. Retention expires a plate by its last day.
-- Days older than the retention stay in the set of a plate still read, so searches take only
-- the days plate_days still holds.
CREATE TABLE IF NOT EXISTS plate_names
(
    plate_number String,
    plate_folded SimpleAggregateFunction(any, String),
    days SimpleAggregateFunction(groupUniqArrayArray, Array(Date)),
    last_day SimpleAggregateFunction(max, Date)
)
ENGINE = AggregatingMergeTree
ORDER BY plate_number;

CREATE MATERIALIZED VIEW IF NOT EXISTS plate_names_plates TO plate_names AS
SELECT plate_number, any(plate_folded) AS plate_folded,
       groupUniqArray(toDate(captured_at)) AS days, max(toDate(captured_at)) AS last_day
FROM plate_captures
WHERE plate_number != ''
GROUP BY plate_number;

-- From plate_days, which already holds each plate's days: a fifth of the rows of
-- plate_captures to read.
INSERT INTO plate_names
SELECT plate_number, any(plate_folded) AS plate_folded, groupUniqArray(day) AS days,
       max(day) AS last_day
FROM plate_days
GROUP BY plate_number;
