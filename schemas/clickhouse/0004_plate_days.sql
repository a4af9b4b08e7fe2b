-- The days each readable plate was read on, one row per plate and day in monthly partitions.
-- A plate pattern with a leading wildcard (*1234) cannot use the sort key of plate_captures.
-- Its search reads this much smaller table newest day first (the sort key), stops once it has
-- enough (plate, day) pairs for a page, and then reads only those plates on those days of
-- plate_captures. reads counts rows as inserted (a redelivery counts twice): it is never shown.
CREATE TABLE IF NOT EXISTS plate_days
(
    plate_number String,
    plate_folded String,
    day Date,
    reads UInt64
)
ENGINE = SummingMergeTree(reads)
PARTITION BY toYYYYMM(day)
ORDER BY (day, plate_number);

CREATE MATERIALIZED VIEW IF NOT EXISTS plate_days_plates TO plate_days AS
SELECT plate_number, any(plate_folded) AS plate_folded, toDate(captured_at) AS day,
       count() AS reads
FROM plate_captures
WHERE plate_number != ''
GROUP BY plate_number, day;

-- The plates landed before this migration. A pass landing while this runs may be counted twice,
-- which only makes a day look busier; running it again after an interruption does the same.
-- The source is read in its sort order (plate first), so the grouping holds one plate at a time.
INSERT INTO plate_days
SELECT plate_number, any(plate_folded) AS plate_folded, toDate(captured_at) AS day,
       count() AS reads
FROM plate_captures
WHERE plate_number != ''
GROUP BY plate_number, day
SETTINGS optimize_aggregation_in_order = 1;
