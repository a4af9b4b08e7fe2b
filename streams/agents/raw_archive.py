"""raw.<source> -> warehouse ``raw_captures``: every vendor payload, as received, for replay."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from streams.agents.acks import withhold_acks
from streams.app import RAW_INPUT, SETTINGS, SOURCE_BY_RAW_TOPIC, app
from streams.metrics import COUNTERS, Metric
from streams.runtime import current_warehouse
from streams.warehouse.landing import Backoff, dedup_token, land_with_retry, offset_ranges

TABLE = "raw_captures"


def raw_capture_row(
    source: str,
    topic: str,
    partition: int,
    offset: int,
    timestamp: float,
    key: bytes | None,
    value: bytes | None,
) -> dict[str, Any]:
    """The warehouse row of one raw message."""
    return {
        "source": source,
        "device_key": (key or b"").decode("utf-8", errors="replace"),
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "received_at": datetime.fromtimestamp(timestamp, tz=UTC),
        "payload": (value or b"").decode("utf-8", errors="replace"),
        "payload_size": len(value or b""),
    }


def _rows(events: Sequence[Any]) -> list[dict[str, Any]]:
    rows = []
    for event in events:
        message = event.message
        source = SOURCE_BY_RAW_TOPIC.get(message.topic, "unknown")
        rows.append(
            raw_capture_row(
                source,
                message.topic,
                message.partition,
                message.offset,
                message.timestamp,
                message.key,
                message.value,
            )
        )
        COUNTERS.add(Metric.RAW_ARCHIVED, source)
    return rows


@app.agent(RAW_INPUT, name="raw_archive")
async def raw_archive(stream: Any) -> None:
    backoff = Backoff(SETTINGS.sink_retry_initial_seconds, SETTINGS.sink_retry_max_seconds)
    warehouse = current_warehouse()
    async for events in stream.take_events(SETTINGS.sink_batch_size, SETTINGS.sink_flush_seconds):
        rows = _rows(events)
        positions = ((e.message.topic, e.message.partition, e.message.offset) for e in events)
        insert = partial(
            warehouse.insert, TABLE, rows, dedup_token=dedup_token(TABLE, offset_ranges(positions))
        )
        try:
            landed = await land_with_retry(
                insert,
                backoff,
                what=TABLE,
                on_failure=lambda _exc: COUNTERS.add(Metric.SINK_INSERT_FAILURES, TABLE),
            )
        except BaseException:
            withhold_acks(events)
            raise
        COUNTERS.add(Metric.ROWS_LANDED, TABLE, landed)
        COUNTERS.add(Metric.SINK_BATCHES, TABLE)
