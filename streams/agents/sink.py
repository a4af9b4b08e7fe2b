"""unique.*, alerts, correlations, deadletter -> the warehouse tables of 0002.

On the embedded warehouse, the captures (plate, face, alarm) are not decoded here: the bodies
of each writer schema in a batch go to the engine as one Avro container, and the engine maps
them to rows with the SQL of ``streams.warehouse.avro_rows``. That holds for both framings,
single-object and Confluent, when the writer schema is a version in the repository (a
Confluent writer schema is looked up by id once). If the engine refuses such an
insert, its messages are decoded in Python: those that cannot be are dead-lettered and the rest
are inserted as rows; when all decode, the refusal was the warehouse's, and the rows are
retried until they land (an outage is never taken for bad data), except rows the warehouse
refuses for good, which are dead-lettered (``streams.agents.warehouse_stage``).

Everything else (alerts, correlations, dead letters, writer schemas outside the repository,
any message on the ClickHouse server backend) is decoded to plain values and mapped to its
table's row by ``streams.warehouse.rows``. Each insert lands with its own idempotency token (see
``streams.agents.warehouse_stage``). A message that cannot be decoded, or has no table, goes to
the dead-letter topic with its bytes and the reason, and the batch goes on; one that is itself
on the dead-letter topic is logged and counted (dead-lettering it again would loop).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from streams import topics
from streams.agents.warehouse_stage import WarehouseStage, received_samples
from streams.codecs.avro import MAGIC, AvroDecodeError, default_store
from streams.codecs.wire import CONFLUENT_FIRST, CONFLUENT_HEADER_SIZE, WireFormat
from streams.errors import WarehouseError
from streams.metrics import COUNTERS, Metric
from streams.publisher import Publisher
from streams.settings import Settings
from streams.warehouse.avro_rows import (
    MAPPINGS_OF_RECORD,
    AvroWarehouse,
    TableMapping,
    container,
    insert_mapped,
    writer_schema_json,
)
from streams.warehouse.base import Warehouse
from streams.warehouse.landing import dedup_token, offset_ranges
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

Position = tuple[str, int, int]


@dataclass(frozen=True)
class _Schema:
    """A writer schema whose bodies the engine maps: its container header and its tables."""

    fingerprint: bytes
    schema_json: bytes
    mappings: Sequence[TableMapping]
    header_size: int  # the framing's: the body follows it


class WarehouseSinkStage(WarehouseStage):
    name = STAGE

    def __init__(
        self, settings: Settings, warehouse: Warehouse, publisher: Publisher, wire: WireFormat
    ) -> None:
        super().__init__(settings, warehouse, publisher, wire)
        self.topics: Sequence[str] = [settings.topic(spec.name) for spec in INPUTS]
        self.engine: AvroWarehouse | None = (
            warehouse if isinstance(warehouse, AvroWarehouse) else None
        )
        # Framing header (single-object: C3 01 + fingerprint; Confluent: 00 + schema id) -> its
        # mapped schema; only known ones.
        self._schemas: dict[bytes, _Schema] = {}
        # Messages of this batch already dead-lettered: a face refused for face_captures is
        # refused for face_vectors as well, and goes to the dead-letter topic once.
        self._refused: set[Position] = set()

    def process(self, messages: Sequence[Any]) -> None:
        self._refused.clear()
        decode = self.wire.decode_datum
        rows: dict[str, list[Row]] = {}
        sources: dict[str, list[Any]] = {}  # table -> the message of each row
        groups: dict[bytes, list[Any]] = {}
        for message in messages:
            value = message.value() or b""
            header = value[: CONFLUENT_HEADER_SIZE if value[:1] == CONFLUENT_FIRST else 10]
            if self.engine is not None and self._mapped(header, value) is not None:
                group = groups.get(header)
                if group is None:
                    group = groups[header] = []
                group.append(message)
                continue
            try:
                produced = rows_of(decode(value))
            except (AvroDecodeError, NoTable) as exc:
                # A registry that cannot be reached is not a bad record: that error stops
                # the worker and the batch is read again.
                self._unreadable(message, exc)
                continue
            for table, row in produced:
                table_rows = rows.get(table)
                if table_rows is None:
                    table_rows = rows[table] = []
                    sources[table] = []
                table_rows.append(row)
                sources[table].append(message)
        # Rows decoded here land first: they are ready, and an engine group retried during an
        # outage does not keep them out of the warehouse (their offsets wait for it anyway).
        for table, table_rows in rows.items():
            self.prepare(table, table_rows, sources[table])
        for header, group in groups.items():
            self._prepare_group(self._schemas[header], group)

    def _mapped(self, header: bytes, value: bytes) -> _Schema | None:
        schema = self._schemas.get(header)
        if schema is not None:
            return schema
        if header[:1] == CONFLUENT_FIRST and len(header) == CONFLUENT_HEADER_SIZE:
            # The registry is asked once per id; one that cannot be reached stops the worker.
            version = self.wire.confluent_version(value)
        elif len(header) == 10 and header[:2] == MAGIC:
            version = default_store().by_fingerprint.get(header[2:])
        else:
            version = None
        if version is None or version.name not in MAPPINGS_OF_RECORD:
            return None  # decoded in Python, which dead-letters it or stores it as rows
        schema = _Schema(
            version.fingerprint,
            writer_schema_json(version),
            MAPPINGS_OF_RECORD[version.name],
            len(header),
        )
        self._schemas[header] = schema
        return schema

    def _prepare_group(self, schema: _Schema, messages: list[Any]) -> None:
        start = schema.header_size
        data = container(schema.schema_json, [m.value()[start:] for m in messages])
        positions = [(m.topic(), m.partition(), m.offset()) for m in messages]
        # The engine maps the bodies unread: a few are decoded here for their received_at.
        received = received_samples(messages, self._received_at)
        for mapping in schema.mappings:
            label = f"{mapping.table}@{schema.fingerprint.hex()}"
            insert = _MappedInsert(
                self, mapping, label, messages, data, dedup_token(label, offset_ranges(positions))
            )
            # A filtered mapping (face_vectors) lands a row for some bodies only.
            self.prepare_insert(
                label, mapping.table, insert, received if mapping.where is None else None
            )

    def _received_at(self, message: Any) -> Any:
        try:
            return self.wire.decode_datum(message.value()).get("received_at")
        except Exception:  # a sample never stops the sink; the insert deals with bad bodies
            return None

    def python_rows(
        self, table: str, label: str, messages: Sequence[Any]
    ) -> tuple[list[Row], list[Any], str]:
        """The rows for ``table`` of messages the engine refused, decoded here, the message of
        each row, and their token; messages that cannot be decoded are dead-lettered (once per
        batch)."""
        rows: list[Row] = []
        sources: list[Any] = []
        positions: list[Position] = []
        for message in messages:
            position = (message.topic(), message.partition(), message.offset())
            try:
                produced = rows_of(self.wire.decode_datum(message.value() or b""))
            except (AvroDecodeError, NoTable) as exc:
                if position not in self._refused:
                    self._refused.add(position)
                    self._unreadable(message, exc)
                continue
            positions.append(position)
            for t, row in produced:
                if t == table:
                    rows.append(row)
                    sources.append(message)
        return rows, sources, dedup_token(label, offset_ranges(positions))

    def _unreadable(self, message: Any, exc: Exception) -> None:
        COUNTERS.add(Metric.SINK_UNREADABLE, message.topic())
        self.dead_letter(message, f"{STAGE}: cannot store a record of {message.topic()}: {exc}")


class _MappedInsert:
    """One attempt at landing a group of bodies of one writer schema in one table: by the
    engine until it refuses them once, then as rows decoded in Python (retried as usual)."""

    def __init__(
        self,
        stage: WarehouseSinkStage,
        mapping: TableMapping,
        label: str,
        messages: list[Any],
        data: bytes,
        token: str,
    ) -> None:
        self.stage = stage
        self.mapping = mapping
        self.label = label
        self.messages = messages
        self.data = data
        self.token = token
        self.rows: list[Row] | None = None
        self.sources: list[Any] = []

    def __call__(self) -> int:
        engine = self.stage.engine
        if self.rows is None and engine is not None:
            try:
                written = insert_mapped(engine, self.mapping, self.data, dedup_token=self.token)
            except WarehouseError as exc:
                log.warning(
                    "%s: the engine refused %d bodies for %s, decoding them here: %s",
                    STAGE,
                    len(self.messages),
                    self.mapping.table,
                    exc,
                )
            else:
                # Views count in the engine's figure; an unfiltered mapping writes one row per
                # body, and face_vectors (the filtered one) has no views.
                return len(self.messages) if self.mapping.where is None else written
            self.rows, self.sources, self.token = self.stage.python_rows(
                self.mapping.table, self.label, self.messages
            )
            self.data = b""
        return self.stage.land_rows(self.mapping.table, self.rows or [], self.sources, self.token)
