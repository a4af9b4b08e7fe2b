"""Every Kafka topic of the backbone, declared once.

Names here are topology names; the settings' ``topic_prefix`` is put in front of each on the
broker. ``streams/app.py`` states which agent reads and writes which topic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# Source names: the ``raw.<source>`` topics, the gateway routes and ``streams normalize --source``.
SOURCES: tuple[str, ...] = (
    "hikvision-isapi",
    "dahua-cgi",
    "uniview-lapi",
    "gat1400",
    "onvif",
    "frigate",
)

Payload = Literal["bytes", "avro"]


@dataclass(frozen=True)
class TopicSpec:
    name: str
    payload: Payload
    key: str
    description: str
    compacted: bool = False
    retention_hours: int | None = None
    # Fixed partition count (None: the settings' topic_partitions).
    partitions: int | None = None
    # Further topic configuration, e.g. a changelog's segment size.
    config: tuple[tuple[str, str], ...] = ()
    # Carries whole vendor bodies (up to the gateway's body limit, images included), so its
    # records may exceed the broker's default limit of about 1 MB.
    whole_payloads: bool = False


def raw_topic_name(source: str) -> str:
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; known: {', '.join(SOURCES)}")
    return f"raw.{source}"


RAW: dict[str, TopicSpec] = {
    source: TopicSpec(
        raw_topic_name(source),
        "bytes",
        "device id",
        f"Vendor payloads from {source}, exactly as received.",
        retention_hours=72,
        whole_payloads=True,
    )
    for source in SOURCES
}

PLATE_CAPTURES = TopicSpec(
    "captures.plate", "avro", "device id", "Canonical plate reads, every source."
)
FACE_CAPTURES = TopicSpec(
    "captures.face", "avro", "device id", "Canonical face captures, every source."
)
ALARMS = TopicSpec("captures.alarm", "avro", "device id", "Canonical alarms, every source.")
UNIQUE_PLATES = TopicSpec("unique.plate", "avro", "device id", "Plate passes after deduplication.")
UNIQUE_FACES = TopicSpec("unique.face", "avro", "device id", "Face tracks after deduplication.")
UNIQUE_ALARMS = TopicSpec("unique.alarm", "avro", "device id", "Alarms after deduplication.")
PLATE_SIGHTINGS_BY_PLATE = TopicSpec(
    "repartition.plate-by-plate",
    "avro",
    "plate number",
    "Unique plate passes keyed by plate, and co-passes keyed by the smaller plate of the pair, "
    "for the per-plate rules (cloned plate, convoy).",
    retention_hours=24,
)
AREA = TopicSpec(
    "repartition.area",
    "avro",
    "device id",
    "Unique events of every device in one partition, for the rules that look across devices "
    "near each other (alarm context).",
    retention_hours=24,
    partitions=1,
)

# Compacted change logs of the stages' window state: one per stateful stage, partitioned like
# its input. Small segments so compaction keeps a restore short.
_CHANGELOG_CONFIG = (
    ("segment.ms", str(10 * 60 * 1000)),
    ("segment.bytes", str(64 * 1024 * 1024)),
    ("min.cleanable.dirty.ratio", "0.2"),
    ("delete.retention.ms", str(60 * 60 * 1000)),
)


def changelog(stage: str, partitions: int | None = None) -> TopicSpec:
    return TopicSpec(
        f"changelog.{stage}",
        "bytes",
        "table and key",
        f"Window state of the {stage} stage, to rebuild it after a restart or rebalance.",
        compacted=True,
        partitions=partitions,
        config=_CHANGELOG_CONFIG,
    )


DEDUP_CHANGELOG = changelog("dedup")
PLATES_CHANGELOG = changelog("plates")
AREA_CHANGELOG = changelog("area", partitions=1)
ALERTS = TopicSpec(
    "alerts",
    "avro",
    "alert subject",
    "Alerts of every rule (the record's rule field says which) for downstream subscribers.",
)
CORRELATIONS = TopicSpec("correlations", "avro", "subject", "Person-vehicle associations.")
WATCHLIST = TopicSpec(
    "watchlist", "avro", "entry id", "Watchlist entries; a null value deletes.", compacted=True
)
DEAD_LETTERS = TopicSpec(
    "deadletter",
    "avro",
    "source topic",
    "Payloads a stage could not use, with bytes and reason.",
    whole_payloads=True,
)

ALL_TOPICS: tuple[TopicSpec, ...] = (
    *RAW.values(),
    PLATE_CAPTURES,
    FACE_CAPTURES,
    ALARMS,
    UNIQUE_PLATES,
    UNIQUE_FACES,
    UNIQUE_ALARMS,
    PLATE_SIGHTINGS_BY_PLATE,
    AREA,
    DEDUP_CHANGELOG,
    PLATES_CHANGELOG,
    AREA_CHANGELOG,
    ALERTS,
    CORRELATIONS,
    WATCHLIST,
    DEAD_LETTERS,
)
