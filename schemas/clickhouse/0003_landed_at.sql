-- When each event row became searchable: the time of the insert that landed it. Reports
-- measure capture-to-searchable latency from it; investigators see how fresh a row is.
-- now64() is evaluated once per inserted block, and a retried insert that the deduplication
-- token drops keeps the first time.

ALTER TABLE plate_captures ADD COLUMN IF NOT EXISTS landed_at DateTime64(3, 'UTC') DEFAULT now64(3);

ALTER TABLE face_captures ADD COLUMN IF NOT EXISTS landed_at DateTime64(3, 'UTC') DEFAULT now64(3);

ALTER TABLE alarms ADD COLUMN IF NOT EXISTS landed_at DateTime64(3, 'UTC') DEFAULT now64(3);

ALTER TABLE alerts ADD COLUMN IF NOT EXISTS landed_at DateTime64(3, 'UTC') DEFAULT now64(3);
