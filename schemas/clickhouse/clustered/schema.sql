-- GENERATED FILE, do not edit: the clustered form of the warehouse schema, derived
-- by streams/warehouse/clustered.py from the migrations schemas/clickhouse/NNNN_*.sql.
-- Regenerate with:
--   streams migrate --print-clustered > schemas/clickhouse/clustered/schema.sql
-- Cluster '{cluster}'; names unqualified (streams migrate qualifies them with its database).
-- See docs/clickhouse-cluster.md.

-- ==== schema_migrations: the record of applied migrations ====

-- schema_migrations: replicated to every node (any node tells which migrations were applied).
CREATE TABLE IF NOT EXISTS schema_migrations ON CLUSTER '{cluster}' ( version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC'))
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/schema_migrations', '{replica}') ORDER BY version;

-- ==== 0001_raw_captures.sql ====

-- Raw vendor payloads as received on raw.<source>, for audit and for replay after an adapter fix.
-- Keyed on the Kafka position, so a redelivered batch replaces itself instead of adding rows.
CREATE TABLE IF NOT EXISTS raw_captures_local ON CLUSTER '{cluster}'
(
    source LowCardinality(String),
    device_key String,
    topic LowCardinality(String),
    partition UInt16,
    offset UInt64,
    received_at DateTime64(3, 'UTC'),
    payload String CODEC(ZSTD(3)),
    payload_size UInt32
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/raw_captures_local', '{replica}')
PARTITION BY toYYYYMMDD(received_at)
ORDER BY (topic, partition, offset)
TTL toDateTime(received_at) + INTERVAL 3 DAY
SETTINGS replicated_deduplication_window = 1000;
-- raw_captures over the shards: a Kafka partition's payloads stay on one shard in offset order
-- (the sort key); a redelivered batch replaces itself there and lands as one part, not one per
-- shard.
CREATE TABLE IF NOT EXISTS raw_captures ON CLUSTER '{cluster}' AS raw_captures_local
ENGINE = Distributed('{cluster}', currentDatabase(), 'raw_captures_local', cityHash64(topic, partition));

-- ==== 0002_events_and_search.sql ====

-- Canonical events, alerts, correlations and dead letters as the sinks land them, plus the
-- access and audit tables of the search. Retention (TTL) is applied from the settings after the
-- migrations run (streams/warehouse/retention.py), so it is not frozen here.
--
-- Every event table is a ReplacingMergeTree whose sort key ends in event_id: a redelivered
-- batch that slipped past insert_deduplication_token collapses on merge, and searches read
-- with FINAL (or LIMIT 1 BY the id) so a duplicate never shows twice before that.

-- Plate passes. Sorted by plate then time: exact plate, trajectory and first/last seen read a
-- few granules. The by_device projection serves device and area searches (device then time).
-- plate_folded is the plate after its first character with OCR-confusable characters folded
-- to one representative (streams.domain.plates.fold_plate): fuzzy search is equality on it.
CREATE TABLE IF NOT EXISTS plate_captures_local ON CLUSTER '{cluster}'
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
    INDEX plate_folded_bf plate_folded TYPE bloom_filter(0.01) GRANULARITY 1,
    PROJECTION by_device
    (
        SELECT *
        ORDER BY device_id, captured_at
    )
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/plate_captures_local', '{replica}')
PARTITION BY toYYYYMMDD(captured_at)
ORDER BY (plate_number, captured_at, event_id)
SETTINGS replicated_deduplication_window = 1000,
         deduplicate_merge_projection_mode = 'rebuild';
-- plate_captures over the shards: a plate's passes on one shard, so its duplicates collapse
-- together; unreadable plates ('') spread by event id instead of piling onto one shard.
CREATE TABLE IF NOT EXISTS plate_captures ON CLUSTER '{cluster}' AS plate_captures_local
ENGINE = Distributed('{cluster}', currentDatabase(), 'plate_captures_local', if(plate_number = '', cityHash64(event_id), cityHash64(plate_number)));

-- Face captures (tracks after deduplication), every embedding length kept as sent.
CREATE TABLE IF NOT EXISTS face_captures_local ON CLUSTER '{cluster}'
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
    track_id String,
    quality Nullable(Float32),
    gender LowCardinality(String),
    age_min Nullable(Int32),
    age_max Nullable(Int32),
    glasses LowCardinality(String),
    mask LowCardinality(String),
    embedding Array(Float32),
    appeared_at Nullable(DateTime64(3, 'UTC')),
    disappeared_at Nullable(DateTime64(3, 'UTC')),
    late Bool,
    absorbed_event_ids Array(String),
    images String CODEC(ZSTD(1)),
    attributes Map(String, String) CODEC(ZSTD(1))
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/face_captures_local', '{replica}')
PARTITION BY toYYYYMMDD(captured_at)
ORDER BY (device_id, captured_at, event_id)
SETTINGS replicated_deduplication_window = 1000;
-- face_captures over the shards: the sort key starts with the device: a device's rows together.
CREATE TABLE IF NOT EXISTS face_captures ON CLUSTER '{cluster}' AS face_captures_local
ENGINE = Distributed('{cluster}', currentDatabase(), 'face_captures_local', cityHash64(device_id));

-- Face embeddings of the indexed length (128 floats), under an HNSW index for similarity
-- search. A vector index needs one fixed length; captures with other lengths stay in
-- face_captures and are searched by exact scan.
CREATE TABLE IF NOT EXISTS face_vectors_local ON CLUSTER '{cluster}'
(
    event_id String,
    device_id LowCardinality(String),
    captured_at DateTime64(3, 'UTC'),
    lat Nullable(Float64),
    lon Nullable(Float64),
    embedding Array(Float32),
    INDEX embedding_hnsw embedding TYPE vector_similarity('hnsw', 'cosineDistance', 128)
        GRANULARITY 100000000
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/face_vectors_local', '{replica}')
PARTITION BY toYYYYMM(captured_at)
ORDER BY (captured_at, event_id)
SETTINGS replicated_deduplication_window = 1000;
-- face_vectors over the shards: even spread of the vectors (each shard's HNSW index the same
-- size); a duplicate has the same event id.
CREATE TABLE IF NOT EXISTS face_vectors ON CLUSTER '{cluster}' AS face_vectors_local
ENGINE = Distributed('{cluster}', currentDatabase(), 'face_vectors_local', cityHash64(event_id));

CREATE TABLE IF NOT EXISTS alarms_local ON CLUSTER '{cluster}'
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
    alarm_type LowCardinality(String),
    state LowCardinality(String),
    vendor_event_type LowCardinality(String),
    rule_name String,
    target_type LowCardinality(String),
    late Bool,
    absorbed_event_ids Array(String),
    images String CODEC(ZSTD(1)),
    attributes Map(String, String) CODEC(ZSTD(1))
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/alarms_local', '{replica}')
PARTITION BY toYYYYMMDD(captured_at)
ORDER BY (device_id, captured_at, event_id)
SETTINGS replicated_deduplication_window = 1000;
-- alarms over the shards: the sort key starts with the device: a device's rows together.
CREATE TABLE IF NOT EXISTS alarms ON CLUSTER '{cluster}' AS alarms_local
ENGINE = Distributed('{cluster}', currentDatabase(), 'alarms_local', cityHash64(device_id));

-- Alerts of every rule; evidence as the JSON of the Avro record's evidence list.
CREATE TABLE IF NOT EXISTS alerts_local ON CLUSTER '{cluster}'
(
    alert_id String,
    rule LowCardinality(String),
    priority Int32,
    subject String,
    occurred_at DateTime64(3, 'UTC'),
    raised_at DateTime64(3, 'UTC'),
    late Bool,
    plate_numbers Array(String),
    device_ids Array(String),
    event_ids Array(String),
    evidence String CODEC(ZSTD(1)),
    watchlist_entry_id String,
    reason String,
    case_ref String,
    details Map(String, String)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/alerts_local', '{replica}')
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (rule, occurred_at, alert_id)
SETTINGS replicated_deduplication_window = 1000;
-- alerts over the shards: FINAL collapses an alert stored twice per id.
CREATE TABLE IF NOT EXISTS alerts ON CLUSTER '{cluster}' AS alerts_local
ENGINE = Distributed('{cluster}', currentDatabase(), 'alerts_local', cityHash64(alert_id));

CREATE TABLE IF NOT EXISTS correlations_local ON CLUSTER '{cluster}'
(
    correlation_id String,
    relation LowCardinality(String),
    subject String,
    occurred_at DateTime64(3, 'UTC'),
    plate_numbers Array(String),
    device_ids Array(String),
    event_ids Array(String),
    evidence String CODEC(ZSTD(1)),
    details Map(String, String)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/correlations_local', '{replica}')
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (relation, occurred_at, correlation_id)
SETTINGS replicated_deduplication_window = 1000;
-- correlations over the shards: FINAL collapses a correlation stored twice per id.
CREATE TABLE IF NOT EXISTS correlations ON CLUSTER '{cluster}' AS correlations_local
ENGINE = Distributed('{cluster}', currentDatabase(), 'correlations_local', cityHash64(correlation_id));

-- Dead letters: the payload bytes as base64 (a String column would hold them, but the JSON
-- insert path of the embedded engine is text), with the reason and where they came from.
CREATE TABLE IF NOT EXISTS dead_letters_local ON CLUSTER '{cluster}'
(
    dead_letter_id String,
    stage LowCardinality(String),
    reason String,
    source LowCardinality(String),
    topic LowCardinality(String),
    partition Nullable(Int32),
    offset Nullable(Int64),
    key String,
    payload_base64 String CODEC(ZSTD(3)),
    payload_size UInt32,
    failed_at DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/dead_letters_local', '{replica}')
PARTITION BY toYYYYMMDD(failed_at)
ORDER BY (stage, failed_at, dead_letter_id)
SETTINGS replicated_deduplication_window = 1000;
-- dead_letters over the shards: a dead letter stored twice collapses per id.
CREATE TABLE IF NOT EXISTS dead_letters ON CLUSTER '{cluster}' AS dead_letters_local
ENGINE = Distributed('{cluster}', currentDatabase(), 'dead_letters_local', cityHash64(dead_letter_id));

-- Per-device hourly counts, kept by materialized views on the capture tables. Counts are of
-- rows inserted: a redelivery that passed the insert deduplication counts twice here (the
-- event tables themselves collapse it).
CREATE TABLE IF NOT EXISTS device_hourly_local ON CLUSTER '{cluster}'
(
    device_id LowCardinality(String),
    hour DateTime('UTC'),
    kind LowCardinality(String),
    events UInt64,
    late UInt64
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/device_hourly_local', '{replica}')
PARTITION BY toYYYYMM(hour)
ORDER BY (device_id, hour, kind);
-- device_hourly over the shards: filled by views on each shard; the search sums across shards (the
-- key serves direct inserts only).
CREATE TABLE IF NOT EXISTS device_hourly ON CLUSTER '{cluster}' AS device_hourly_local
ENGINE = Distributed('{cluster}', currentDatabase(), 'device_hourly_local', cityHash64(device_id));

-- reads the local table: each row counted once, on the replica that received it; writes the local
-- table of its shard.
CREATE MATERIALIZED VIEW IF NOT EXISTS device_hourly_plates ON CLUSTER '{cluster}' TO device_hourly_local AS
SELECT device_id, toStartOfHour(captured_at) AS hour, 'plate' AS kind,
       count() AS events, countIf(late) AS late
FROM plate_captures_local
GROUP BY device_id, hour;

-- reads the local table: each row counted once, on the replica that received it; writes the local
-- table of its shard.
CREATE MATERIALIZED VIEW IF NOT EXISTS device_hourly_faces ON CLUSTER '{cluster}' TO device_hourly_local AS
SELECT device_id, toStartOfHour(captured_at) AS hour, 'face' AS kind,
       count() AS events, countIf(late) AS late
FROM face_captures_local
GROUP BY device_id, hour;

-- reads the local table: each row counted once, on the replica that received it; writes the local
-- table of its shard.
CREATE MATERIALIZED VIEW IF NOT EXISTS device_hourly_alarms ON CLUSTER '{cluster}' TO device_hourly_local AS
SELECT device_id, toStartOfHour(captured_at) AS hour, 'alarm' AS kind,
       count() AS events, countIf(late) AS late
FROM alarms_local
GROUP BY device_id, hour;

-- Where each device was last seen, from the positions on its captures: area searches pick
-- the devices inside the area here, then read their rows through the by_device projection.
CREATE TABLE IF NOT EXISTS device_positions_local ON CLUSTER '{cluster}'
(
    device_id String,
    lat Float64,
    lon Float64,
    seen_at DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/device_positions_local', '{replica}', seen_at)
ORDER BY device_id;
-- device_positions over the shards: the views write through the Distributed table: a device's
-- positions meet on one shard, where FINAL keeps the newest.
CREATE TABLE IF NOT EXISTS device_positions ON CLUSTER '{cluster}' AS device_positions_local
ENGINE = Distributed('{cluster}', currentDatabase(), 'device_positions_local', cityHash64(device_id));

-- reads the local table: each row counted once, on the replica that received it; writes through
-- the Distributed table (see ROUTED_VIEW_TARGETS).
CREATE MATERIALIZED VIEW IF NOT EXISTS device_positions_plates ON CLUSTER '{cluster}' TO device_positions AS
SELECT device AS device_id, argMax(at_lat, at) AS lat, argMax(at_lon, at) AS lon, max(at) AS seen_at
FROM
(
    SELECT toString(device_id) AS device, assumeNotNull(lat) AS at_lat,
           assumeNotNull(lon) AS at_lon, captured_at AS at
    FROM plate_captures_local
    WHERE lat IS NOT NULL AND lon IS NOT NULL
)
GROUP BY device;

-- reads the local table: each row counted once, on the replica that received it; writes through
-- the Distributed table (see ROUTED_VIEW_TARGETS).
CREATE MATERIALIZED VIEW IF NOT EXISTS device_positions_faces ON CLUSTER '{cluster}' TO device_positions AS
SELECT device AS device_id, argMax(at_lat, at) AS lat, argMax(at_lon, at) AS lon, max(at) AS seen_at
FROM
(
    SELECT toString(device_id) AS device, assumeNotNull(lat) AS at_lat,
           assumeNotNull(lon) AS at_lon, captured_at AS at
    FROM face_captures_local
    WHERE lat IS NOT NULL AND lon IS NOT NULL
)
GROUP BY device;

-- Search users and their API keys. Only the SHA-256 of a key is stored; a revocation is a
-- newer row for the same key hash.
-- api_keys: replicated to every node (every node authenticates on its own; FINAL sees every
-- revocation).
CREATE TABLE IF NOT EXISTS api_keys ON CLUSTER '{cluster}'
(
    key_hash String,
    user String,
    role LowCardinality(String),
    created_at DateTime64(3, 'UTC'),
    created_by String,
    revoked Bool,
    changed_at DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/api_keys', '{replica}', changed_at)
ORDER BY key_hash;

-- Every search, refused or answered, written before any result leaves. Append-only: the
-- application never updates or deletes it (grant the application INSERT and SELECT only).
-- search_audit: replicated to every node (the append-only trail, whole on any node an auditor
-- reads).
CREATE TABLE IF NOT EXISTS search_audit ON CLUSTER '{cluster}'
(
    audit_id String,
    at DateTime64(3, 'UTC'),
    user String,
    role LowCardinality(String),
    kind LowCardinality(String),
    parameters String,
    reason String,
    case_ref String,
    outcome LowCardinality(String),
    result_count UInt32,
    detail String,
    client String
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/search_audit', '{replica}')
PARTITION BY toYYYYMM(at)
ORDER BY (at, user, audit_id);

-- ==== 0003_landed_at.sql ====

-- When each event row became searchable: the time of the insert that landed it. Reports
-- measure capture-to-searchable latency from it; investigators see how fresh a row is.
-- now64() is evaluated once per inserted block, and a retried insert that the deduplication
-- token drops keeps the first time.

ALTER TABLE plate_captures_local ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS landed_at DateTime64(3, 'UTC') DEFAULT now64(3);
ALTER TABLE plate_captures ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS landed_at DateTime64(3, 'UTC') DEFAULT now64(3);

ALTER TABLE face_captures_local ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS landed_at DateTime64(3, 'UTC') DEFAULT now64(3);
ALTER TABLE face_captures ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS landed_at DateTime64(3, 'UTC') DEFAULT now64(3);

ALTER TABLE alarms_local ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS landed_at DateTime64(3, 'UTC') DEFAULT now64(3);
ALTER TABLE alarms ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS landed_at DateTime64(3, 'UTC') DEFAULT now64(3);

ALTER TABLE alerts_local ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS landed_at DateTime64(3, 'UTC') DEFAULT now64(3);
ALTER TABLE alerts ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS landed_at DateTime64(3, 'UTC') DEFAULT now64(3);

-- ==== 0004_plate_days.sql ====

-- The days each readable plate was read on, one row per plate and day in monthly partitions.
-- A plate pattern with a leading wildcard (*1234) cannot use the sort key of plate_captures.
-- Its search reads this much smaller table newest day first (the sort key), stops once it has
-- enough (plate, day) pairs for a page, and then reads only those plates on those days of
-- plate_captures. reads counts rows as inserted (a redelivery counts twice): it is never shown.
CREATE TABLE IF NOT EXISTS plate_days_local ON CLUSTER '{cluster}'
(
    plate_number String,
    plate_folded String,
    day Date,
    reads UInt64
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/plate_days_local', '{replica}', reads)
PARTITION BY toYYYYMM(day)
ORDER BY (day, plate_number);
-- plate_days over the shards: beside the plate's passes (only readable plates are listed), so its
-- view writes the local table and a backfill groups each shard's plates on that shard.
CREATE TABLE IF NOT EXISTS plate_days ON CLUSTER '{cluster}' AS plate_days_local
ENGINE = Distributed('{cluster}', currentDatabase(), 'plate_days_local', cityHash64(plate_number));

-- reads the local table: each row counted once, on the replica that received it; writes the local
-- table of its shard.
CREATE MATERIALIZED VIEW IF NOT EXISTS plate_days_plates ON CLUSTER '{cluster}' TO plate_days_local AS
SELECT plate_number, any(plate_folded) AS plate_folded, toDate(captured_at) AS day,
       count() AS reads
FROM plate_captures_local
WHERE plate_number != ''
GROUP BY plate_number, day;

-- The plates landed before this migration. A pass landing while this runs may be counted twice,
-- which only makes a day look busier; running it again after an interruption does the same.
-- The source is read in its sort order (plate first), so the grouping holds one plate at a time.
-- runs once; each shard copies its own rows (Distributed to Distributed).
INSERT INTO plate_days
SELECT plate_number, any(plate_folded) AS plate_folded, toDate(captured_at) AS day,
       count() AS reads
FROM plate_captures
WHERE plate_number != ''
GROUP BY plate_number, day
SETTINGS optimize_aggregation_in_order = 1, parallel_distributed_insert_select = 2;

-- ==== 0005_plate_granules.sql ====

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
-- on every shard, to take the place of plate_captures_local.
CREATE TABLE IF NOT EXISTS plate_captures_0005_local ON CLUSTER '{cluster}'
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/plate_captures_0005_local', '{replica}')
PARTITION BY toYYYYMMDD(captured_at)
ORDER BY (plate_number, captured_at, event_id)
SETTINGS replicated_deduplication_window = 1000,
         deduplicate_merge_projection_mode = 'rebuild',
         index_granularity = 1024,
         min_compress_block_size = 8192,
         max_compress_block_size = 65536,
         materialize_ttl_recalculate_only = 1;

EXCHANGE TABLES plate_captures_local AND plate_captures_0005_local ON CLUSTER '{cluster}';

-- Parts move only between tables with the same skip indexes, and the bloom filter of fuzzy
-- search changes too: it goes from both tables (from both, so that a repeat finds them alike
-- whichever way the names ended up) and comes back with the rewrite.
ALTER TABLE plate_captures_local ON CLUSTER '{cluster}' DROP INDEX IF EXISTS plate_folded_bf;

ALTER TABLE plate_captures_0005_local ON CLUSTER '{cluster}' DROP INDEX IF EXISTS plate_folded_bf;

ALTER TABLE plate_captures_local ON CLUSTER '{cluster}' ATTACH PARTITION ALL FROM plate_captures_0005_local;

DROP TABLE plate_captures_0005_local ON CLUSTER '{cluster}' SYNC;

-- One filter per 8 granules, 8,192 rows as before: one per 1,024-row granule made fuzzy
-- search about 1.7 times slower (more filters to read and test for the same rows).
ALTER TABLE plate_captures_local ON CLUSTER '{cluster}' ADD INDEX IF NOT EXISTS plate_folded_bf plate_folded
    TYPE bloom_filter(0.01) GRANULARITY 8;

-- each shard rewrites its parts (one replica merges, the others fetch).
OPTIMIZE TABLE plate_captures_local ON CLUSTER '{cluster}' FINAL;

-- ==== 0006_plate_names.sql ====

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
CREATE TABLE IF NOT EXISTS plate_names_local ON CLUSTER '{cluster}'
(
    plate_number String,
    plate_folded SimpleAggregateFunction(any, String),
    days SimpleAggregateFunction(groupUniqArrayArray, Array(Date)),
    last_day SimpleAggregateFunction(max, Date)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/plate_names_local', '{replica}')
ORDER BY plate_number;
-- plate_names over the shards: beside the plate's passes and days, like plate_days: its view and
-- its backfill write each shard's plates on that shard.
CREATE TABLE IF NOT EXISTS plate_names ON CLUSTER '{cluster}' AS plate_names_local
ENGINE = Distributed('{cluster}', currentDatabase(), 'plate_names_local', cityHash64(plate_number));

-- reads the local table: each row counted once, on the replica that received it; writes the local
-- table of its shard.
CREATE MATERIALIZED VIEW IF NOT EXISTS plate_names_plates ON CLUSTER '{cluster}' TO plate_names_local AS
SELECT plate_number, any(plate_folded) AS plate_folded,
       groupUniqArray(toDate(captured_at)) AS days, max(toDate(captured_at)) AS last_day
FROM plate_captures_local
WHERE plate_number != ''
GROUP BY plate_number;

-- From plate_days, which already holds each plate's days: a fifth of the rows of
-- plate_captures to read.
-- runs once; each shard copies its own rows (Distributed to Distributed).
INSERT INTO plate_names
SELECT plate_number, any(plate_folded) AS plate_folded, groupUniqArray(day) AS days,
       max(day) AS last_day
FROM plate_days
GROUP BY plate_number SETTINGS parallel_distributed_insert_select = 2;

-- ==== 0007_view_deduplication.sql ====

-- The tables the materialized views write keep the hashes of their recent inserts, as the
-- event tables do. The sink inserts with deduplicate_blocks_in_dependent_materialized_views = 1,
-- so a retried batch (same deduplication token) reaches every view again and each view drops
-- what it already stored: a view that failed the first time gets its rows, and the counts of
-- the others (device_hourly events, plate_days reads) do not grow. Without it, the engine
-- passes a deduplicated insert on to the views, and every retry counted twice.
ALTER TABLE device_hourly_local ON CLUSTER '{cluster}' MODIFY SETTING replicated_deduplication_window = 1000;

ALTER TABLE device_positions_local ON CLUSTER '{cluster}' MODIFY SETTING replicated_deduplication_window = 1000;

ALTER TABLE plate_days_local ON CLUSTER '{cluster}' MODIFY SETTING replicated_deduplication_window = 1000;

ALTER TABLE plate_names_local ON CLUSTER '{cluster}' MODIFY SETTING replicated_deduplication_window = 1000;
