-- Raw vendor payloads as received on raw.<source>, for audit and for replay after an adapter fix.
-- Keyed on the Kafka position, so a redelivered batch replaces itself instead of adding rows.
CREATE TABLE IF NOT EXISTS raw_captures
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
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(received_at)
ORDER BY (topic, partition, offset)
TTL toDateTime(received_at) + INTERVAL 3 DAY
SETTINGS non_replicated_deduplication_window = 1000;
