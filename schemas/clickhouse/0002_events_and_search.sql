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
CREATE TABLE IF NOT EXISTS plate_captures
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
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(captured_at)
ORDER BY (plate_number, captured_at, event_id)
SETTINGS non_replicated_deduplication_window = 1000,
         deduplicate_merge_projection_mode = 'rebuild';

-- Face captures (tracks after deduplication), every embedding length kept as sent.
CREATE TABLE IF NOT EXISTS face_captures
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
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(captured_at)
ORDER BY (device_id, captured_at, event_id)
SETTINGS non_replicated_deduplication_window = 1000;

-- Face embeddings of the indexed length (128 floats), under an HNSW index for similarity
-- search. A vector index needs one fixed length; captures with other lengths stay in
-- face_captures and are searched by exact scan.
CREATE TABLE IF NOT EXISTS face_vectors
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
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(captured_at)
ORDER BY (captured_at, event_id)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS alarms
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
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(captured_at)
ORDER BY (device_id, captured_at, event_id)
SETTINGS non_replicated_deduplication_window = 1000;

-- Alerts of every rule; evidence as the JSON of the Avro record's evidence list.
CREATE TABLE IF NOT EXISTS alerts
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
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (rule, occurred_at, alert_id)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS correlations
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
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (relation, occurred_at, correlation_id)
SETTINGS non_replicated_deduplication_window = 1000;

-- Dead letters: the payload bytes as base64 (a String column would hold them, but the JSON
-- insert path of the embedded engine is text), with the reason and where they came from.
CREATE TABLE IF NOT EXISTS dead_letters
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
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(failed_at)
ORDER BY (stage, failed_at, dead_letter_id)
SETTINGS non_replicated_deduplication_window = 1000;

-- Per-device hourly counts, kept by materialized views on the capture tables. Counts are of
-- rows inserted: a redelivery that passed the insert deduplication counts twice here (the
-- event tables themselves collapse it).
CREATE TABLE IF NOT EXISTS device_hourly
(
    device_id LowCardinality(String),
    hour DateTime('UTC'),
    kind LowCardinality(String),
    events UInt64,
    late UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (device_id, hour, kind);

CREATE MATERIALIZED VIEW IF NOT EXISTS device_hourly_plates TO device_hourly AS
SELECT device_id, toStartOfHour(captured_at) AS hour, 'plate' AS kind,
       count() AS events, countIf(late) AS late
FROM plate_captures
GROUP BY device_id, hour;

CREATE MATERIALIZED VIEW IF NOT EXISTS device_hourly_faces TO device_hourly AS
SELECT device_id, toStartOfHour(captured_at) AS hour, 'face' AS kind,
       count() AS events, countIf(late) AS late
FROM face_captures
GROUP BY device_id, hour;

CREATE MATERIALIZED VIEW IF NOT EXISTS device_hourly_alarms TO device_hourly AS
SELECT device_id, toStartOfHour(captured_at) AS hour, 'alarm' AS kind,
       count() AS events, countIf(late) AS late
FROM alarms
GROUP BY device_id, hour;

-- Where each device was last seen, from the positions on its captures: area searches pick
-- the devices inside the area here, then read their rows through the by_device projection.
CREATE TABLE IF NOT EXISTS device_positions
(
    device_id String,
    lat Float64,
    lon Float64,
    seen_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(seen_at)
ORDER BY device_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS device_positions_plates TO device_positions AS
SELECT device AS device_id, argMax(at_lat, at) AS lat, argMax(at_lon, at) AS lon, max(at) AS seen_at
FROM
(
    SELECT toString(device_id) AS device, assumeNotNull(lat) AS at_lat,
           assumeNotNull(lon) AS at_lon, captured_at AS at
    FROM plate_captures
    WHERE lat IS NOT NULL AND lon IS NOT NULL
)
GROUP BY device;

CREATE MATERIALIZED VIEW IF NOT EXISTS device_positions_faces TO device_positions AS
SELECT device AS device_id, argMax(at_lat, at) AS lat, argMax(at_lon, at) AS lon, max(at) AS seen_at
FROM
(
    SELECT toString(device_id) AS device, assumeNotNull(lat) AS at_lat,
           assumeNotNull(lon) AS at_lon, captured_at AS at
    FROM face_captures
    WHERE lat IS NOT NULL AND lon IS NOT NULL
)
GROUP BY device;

-- Search users and their API keys. Only the SHA-256 of a key is stored; a revocation is a
-- newer row for the same key hash.
CREATE TABLE IF NOT EXISTS api_keys
(
    key_hash String,
    user String,
    role LowCardinality(String),
    created_at DateTime64(3, 'UTC'),
    created_by String,
    revoked Bool,
    changed_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(changed_at)
ORDER BY key_hash;

-- Every search, refused or answered, written before any result leaves. Append-only: the
-- application never updates or deletes it (grant the application INSERT and SELECT only).
CREATE TABLE IF NOT EXISTS search_audit
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
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (at, user, audit_id);
