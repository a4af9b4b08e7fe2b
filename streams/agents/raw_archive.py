"""raw.<source> -> warehouse ``raw_captures``: every vendor payload, as received, for replay."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from streams.agents.warehouse_stage import WarehouseStage
from streams.codecs.wire import WireFormat
from streams.metrics import COUNTERS, Metric
from streams.publisher import Publisher
from streams.settings import Settings
from streams.topics import RAW
from streams.warehouse.base import Warehouse

TABLE = "raw_captures"


def raw_capture_row(source: str, message: Any) -> dict[str, Any]:
    """The warehouse row of one raw message (a confluent-kafka Message)."""
    value: bytes = message.value() or b""
    key: bytes = message.key() or b""
    _kind, millis = message.timestamp()
    return {
        "source": source,
        "device_key": key.decode("utf-8", errors="replace"),
        "topic": message.topic(),
        "partition": message.partition(),
        "offset": message.offset(),
        "received_at": datetime.fromtimestamp(millis / 1000, tz=UTC),
        "payload": value.decode("utf-8", errors="replace"),
        "payload_size": len(value),
    }


class RawArchiveStage(WarehouseStage):
    name = "raw_archive"

    def __init__(
        self, settings: Settings, warehouse: Warehouse, publisher: Publisher, wire: WireFormat
    ) -> None:
        super().__init__(settings, warehouse, publisher, wire)
        self.source_by_topic = {settings.topic(spec.name): s for s, spec in RAW.items()}
        self.topics: Sequence[str] = sorted(self.source_by_topic)

    def process(self, messages: Sequence[Any]) -> None:
        rows = []
        for message in messages:
            source = self.source_by_topic.get(message.topic(), "unknown")
            rows.append(raw_capture_row(source, message))
            COUNTERS.add(Metric.RAW_ARCHIVED, source)
        self.prepare(TABLE, rows, messages)
