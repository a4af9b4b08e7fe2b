-- The tables the materialized views write keep the hashes of their recent inserts, as the
-- event tables do. The sink inserts with deduplicate_blocks_in_dependent_materialized_views = 1,
-- so a retried batch (same deduplication token) reaches every view again and each view drops
-- what it already stored: a view that failed the first time gets its rows, and the counts of
-- the others (device_hourly events, plate_days reads) do not grow. Without it, the engine
-- passes a deduplicated insert on to the views, and every retry counted twice.
ALTER TABLE device_hourly MODIFY SETTING non_replicated_deduplication_window = 1000;

ALTER TABLE device_positions MODIFY SETTING non_replicated_deduplication_window = 1000;

ALTER TABLE plate_days MODIFY SETTING non_replicated_deduplication_window = 1000;

ALTER TABLE plate_names MODIFY SETTING non_replicated_deduplication_window = 1000;
