"""raw.<source> -> warehouse ``raw_captures``: every vendor payload, as received, for replay."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from streams.metrics import COUNTERS, Metric
from streams.settings import Settings
from streams.topics import RAW
from streams.warehouse.base import Warehouse
from streams.warehouse.landing import Backoff, dedup_token, land_with_retry, offset_ranges

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


class RawArchiveStage:
    name = "raw_archive"

    def __init__(self, settings: Settings, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        self.backoff = Backoff(settings.sink_retry_initial_seconds, settings.sink_retry_max_seconds)
        self.source_by_topic = {settings.topic(spec.name): s for s, spec in RAW.items()}
        self.topics: Sequence[str] = sorted(self.source_by_topic)
        self.batch_size = settings.sink_batch_size
        self.batch_wait = settings.sink_flush_seconds
        self.checkpoint_seconds = 0.0
        self._rows: list[dict[str, Any]] = []
        self._token = ""

    def process(self, messages: Sequence[Any]) -> None:
        rows = []
        for message in messages:
            source = self.source_by_topic.get(message.topic(), "unknown")
            rows.append(raw_capture_row(source, message))
            COUNTERS.add(Metric.RAW_ARCHIVED, source)
        positions = ((m.topic(), m.partition(), m.offset()) for m in messages)
        self._rows, self._token = rows, dedup_token(TABLE, offset_ranges(positions))

    def flush(self, stopping: threading.Event) -> None:
        rows, token = self._rows, self._token
        landed = land_with_retry(
            lambda: self.warehouse.insert(TABLE, rows, dedup_token=token),
            self.backoff,
            stopping,
            what=TABLE,
            on_failure=lambda _exc: COUNTERS.add(Metric.SINK_INSERT_FAILURES, TABLE),
        )
        COUNTERS.add(Metric.ROWS_LANDED, TABLE, landed)
        COUNTERS.add(Metric.SINK_BATCHES, TABLE)
        self._rows = []

    def after_commit(self) -> None:
        return None
