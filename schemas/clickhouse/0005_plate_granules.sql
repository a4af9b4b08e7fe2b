-- Plate reads in granules of 1,024 rows and compressed blocks of 8 to 64 KiB (8,192 rows and
-- 64 KiB to 1 MiB before). A plate lookup finds a few rows in each day's part; every column it
-- returns cost a whole block around them: on 100 million reads, a frequent plate's page
-- decompressed about 90 MB to show 116 rows. Smaller granules and blocks read about a sixth
-- of that (docs/search.md has the measurements); the table is about 4 % larger, a week's
-- pattern scan costs the same and a scan of whole columns about 15 % more.
--
-- A table's granule size cannot be altered, so a table with the new settings takes the place of
-- the old one: the tables swap names, the new one takes over the old one's parts (hard links:
-- no copy, and no view fires again), the old one is dropped, and the rewrite of every part puts
-- the rows into the new granules. Views follow the name, so they read the new table.
-- Run it with no sink writing (`streams run` migrates before it starts its sinks; on a cluster
-- see docs/clickhouse-cluster.md). Repeating it after an interruption loses no row.
--
-- The table starts without a TTL; retention sets it after the migrations, and
-- materialize_ttl_recalculate_only makes that a pass over captured_at, not another rewrite.
CREATE TABLE IF NOT EXISTS plate_captures_0005
(
    event_id String,
    source LowCardinality(String),
    source_event_id String,
    device_id LowCardinality(String),
    channel Nullable(Int32),
    captured_at DateTime64(3, 'UTC'),
    received_at DateTime64(3, 'UTC'),
    time_source LowCardinality(String),
    lat Nullable(Float64),
    lon Nullable(Float64),
    confidence Nullable(Float32),
    plate_number String,
    plate_folded String,
    plate_raw String,
    plate_color LowCardinality(String),
    plate_class LowCardinality(String),
    vehicle_color LowCardinality(String),
    vehicle_type LowCardinality(String),
    vehicle_brand LowCardinality(String),
    lane Nullable(Int32),
    direction LowCardinality(String),
    speed_kmh Nullable(Float32),
    late Bool,
    absorbed_event_ids Array(String),
    images String CODEC(ZSTD(1)),
    attributes Map(String, String) CODEC(ZSTD(1)),
    landed_at DateTime64(3, 'UTC') DEFAULT now64(3),
    PROJECTION by_device
    (
        SELECT *
        ORDER BY device_id, captured_at
    )
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(captured_at)
ORDER BY (plate_number, captured_at, event_id)
SETTINGS non_replicated_deduplication_window = 1000,
         deduplicate_merge_projection_mode = 'rebuild',
         index_granularity = 1024,
         min_compress_block_size = 8192,
         max_compress_block_size = 65536,
         materialize_ttl_recalculate_only = 1;

EXCHANGE TABLES plate_captures AND plate_captures_0005;

-- Parts move only between tables with the same skip indexes, and the bloom filter of fuzzy
-- search changes too: it goes from both tables (from both, so that a repeat finds them alike
-- whichever way the names ended up) and comes back with the rewrite.
ALTER TABLE plate_captures DROP INDEX IF EXISTS plate_folded_bf;

ALTER TABLE plate_captures_0005 DROP INDEX IF EXISTS plate_folded_bf;

ALTER TABLE plate_captures ATTACH PARTITION ALL FROM plate_captures_0005;

DROP TABLE plate_captures_0005 SYNC;

-- One filter per 8 granules, 8,192 rows as before: one per 1,024-row granule made fuzzy
-- search about 1.7 times slower (more filters to read and test for the same rows).
ALTER TABLE plate_captures ADD INDEX IF NOT EXISTS plate_folded_bf plate_folded
    TYPE bloom_filter(0.01) GRANULARITY 8;

OPTIMIZE TABLE plate_captures FINAL;
