"""unique.*, alerts, correlations, deadletter -> the warehouse tables of 0002.

Every record is decoded to plain values (no models) and mapped to its table's row by
``streams.warehouse.rows``; each table's rows land with their own idempotency token (see
``streams.agents.warehouse_stage``). A message that cannot be decoded, or has no table, goes to
the dead-letter topic with its bytes and the reason, and the batch goes on; one that is itself
on the dead-letter topic is logged and counted (dead-lettering it again would loop).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from streams import deadletters, topics
from streams.agents.warehouse_stage import WarehouseStage
from streams.codecs.avro import AvroDecodeError
from streams.codecs.wire import WireFormat
from streams.metrics import COUNTERS, Metric
from streams.publisher import Publisher
from streams.settings import Settings
from streams.warehouse.base import Warehouse
from streams.warehouse.rows import NoTable, Row, rows_of

log = logging.getLogger(__name__)

STAGE = "warehouse_sink"
INPUTS = (
    topics.UNIQUE_PLATES,
    topics.UNIQUE_FACES,
    topics.UNIQUE_ALARMS,
    topics.ALERTS,
    topics.CORRELATIONS,
    topics.DEAD_LETTERS,
)


class WarehouseSinkStage(WarehouseStage):
    name = STAGE

    def __init__(
        self, settings: Settings, warehouse: Warehouse, publisher: Publisher, wire: WireFormat
    ) -> None:
        super().__init__(settings, warehouse)
        self.publisher = publisher
        self.wire = wire
        self.topics: Sequence[str] = [settings.topic(spec.name) for spec in INPUTS]
        self.dead_letters = settings.topic(topics.DEAD_LETTERS.name)

    def process(self, messages: Sequence[Any]) -> None:
        decode = self.wire.decode_datum
        rows: dict[str, list[Row]] = {}
        positions: dict[str, list[tuple[str, int, int]]] = {}
        for message in messages:
            try:
                produced = rows_of(decode(message.value() or b""))
            except (AvroDecodeError, NoTable) as exc:
                # A registry that cannot be reached is not a bad record: that error stops
                # the worker and the batch is read again.
                self._unreadable(message, exc)
                continue
            position = (message.topic(), message.partition(), message.offset())
            for table, row in produced:
                table_rows = rows.get(table)
                if table_rows is None:
                    table_rows = rows[table] = []
                    positions[table] = []
                table_rows.append(row)
                positions[table].append(position)
        for table, table_rows in rows.items():
            self.prepare(table, table_rows, positions[table])

    def _unreadable(self, message: Any, exc: Exception) -> None:
        topic = message.topic()
        COUNTERS.add(Metric.SINK_UNREADABLE, topic)
        if topic == self.dead_letters:
            log.error(
                "%s: dropping an unreadable dead letter at %s:%s:%s: %s",
                STAGE,
                topic,
                message.partition(),
                message.offset(),
                exc,
            )
            return
        letter = deadletters.of_message(
            message,
            stage=STAGE,
            reason=f"{STAGE}: cannot store a record of {topic}: {exc}",
            failed_at=datetime.now(UTC),
        )
        deadletters.publish(self.publisher, self.wire, self.dead_letters, letter)
        COUNTERS.add(Metric.DEAD_LETTERS, STAGE)

    def flush(self, stopping: threading.Event) -> None:
        # Dead letters acknowledged first: the offsets committed after this cover them too.
        self.publisher.flush_sync(timeout=300)
        super().flush(stopping)
