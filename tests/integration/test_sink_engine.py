"""The sink's engine path (Avro bodies mapped by the engine) and its fallback, against the real
broker and the real embedded warehouse."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Sequence
from typing import Any

import fastavro
import pytest

from streams import topics
from streams.agents.sink import STAGE, WarehouseSinkStage
from streams.canonical import DeadLetter
from streams.codecs import avro
from streams.codecs.avro import MAGIC, default_store
from streams.codecs.confluent import ConfluentCodec
from streams.codecs.wire import WireFormat, wire_format
from streams.deadletter_tools import LetterFilter, replay_dead_letters
from streams.errors import WarehouseError
from streams.kafka_admin import ensure_topics
from streams.metrics import COUNTERS, Metric
from streams.publisher import Publisher
from streams.settings import Settings
from streams.warehouse.base import Params, Row, Warehouse
from streams.warehouse.embedded import EmbeddedWarehouse
from streams.warehouse.landing import MustStop
from streams.warehouse.rows import rows_by_table
from tests.integration.test_sink import _consume_all, _encoded, _face, _plate, _produce

pytestmark = pytest.mark.integration


def _v1(i: int) -> bytes:
    """A plate written with the first schema version, as an older producer would."""
    [v1] = [v for v in default_store().versions["streams.canonical.PlateCapture"] if v.version == 1]
    body = io.BytesIO()
    fastavro.schemaless_writer(body, v1.schema, _plate(i).model_dump())
    return MAGIC + v1.fingerprint + body.getvalue()


def _plates(warehouse: EmbeddedWarehouse) -> list[str]:
    rows = warehouse.query("SELECT event_id FROM plate_captures FINAL ORDER BY event_id")
    return [r["event_id"] for r in rows]


def test_bodies_that_cannot_be_decoded_are_dead_lettered_and_the_rest_lands(
    settings: Settings, migrated_warehouse: EmbeddedWarehouse
) -> None:
    ensure_topics(settings)
    truncated = avro.encode(_plate(90))[:-4]
    not_utf8 = avro.encode(_plate(91)).replace(b"p91", b"p\xff1")
    good = _encoded([_plate(i) for i in range(5)])
    _produce(settings, topics.UNIQUE_PLATES, [*good, _v1(5), truncated, not_utf8])
    # A face refused for face_captures is refused for face_vectors too: one dead letter.
    bad_face = avro.encode(_face(128))[:-2]
    _produce(settings, topics.UNIQUE_FACES, [avro.encode(_face(128)), bad_face])
    messages = _consume_all(settings, [topics.UNIQUE_PLATES, topics.UNIQUE_FACES], 10)
    stage = WarehouseSinkStage(settings, migrated_warehouse, Publisher(settings), WireFormat())
    assert stage.engine is migrated_warehouse
    letters_before = COUNTERS.get(Metric.DEAD_LETTERS, STAGE)

    stage.process(messages)
    stage.flush(threading.Event())

    assert _plates(migrated_warehouse) == [f"p{i}" for i in range(6)]
    for table in ("face_captures", "face_vectors"):
        assert migrated_warehouse.query(f"SELECT event_id FROM {table}") == [  # noqa: S608
            {"event_id": "f128"}
        ]
    assert COUNTERS.get(Metric.DEAD_LETTERS, STAGE) == letters_before + 3
    letters = _consume_all(settings, [topics.DEAD_LETTERS], 3)
    dead = [avro.decode(m.value()) for m in letters]
    assert all(isinstance(d, DeadLetter) and d.stage == STAGE for d in dead)
    assert sorted(d.payload for d in dead if isinstance(d, DeadLetter)) == sorted(
        [truncated, not_utf8, bad_face]
    )


def test_an_outage_is_retried_and_nothing_is_dead_lettered(
    settings: Settings, migrated_warehouse: EmbeddedWarehouse
) -> None:
    fast = settings.model_copy(
        update={"sink_retry_initial_seconds": 0.05, "sink_retry_max_seconds": 0.2}
    )
    ensure_topics(fast)
    _produce(fast, topics.UNIQUE_PLATES, [*_encoded([_plate(i) for i in range(10)]), _v1(10)])
    messages = _consume_all(fast, [topics.UNIQUE_PLATES], 11)
    stage = WarehouseSinkStage(fast, migrated_warehouse, Publisher(fast), WireFormat())
    letters_before = COUNTERS.get(Metric.DEAD_LETTERS, STAGE)
    failures_before = COUNTERS.get(Metric.SINK_INSERT_FAILURES, "plate_captures")

    migrated_warehouse.command("RENAME TABLE plate_captures TO plate_captures_away")
    stage.process(messages)
    flushing = threading.Thread(target=stage.flush, args=(threading.Event(),))
    flushing.start()
    deadline = time.monotonic() + 30
    while COUNTERS.get(Metric.SINK_INSERT_FAILURES, "plate_captures") < failures_before + 5:
        assert time.monotonic() < deadline, "inserts did not fail"
        time.sleep(0.05)
    assert flushing.is_alive()
    migrated_warehouse.command("RENAME TABLE plate_captures_away TO plate_captures")
    flushing.join(30)
    assert not flushing.is_alive()

    assert _plates(migrated_warehouse) == sorted(f"p{i}" for i in range(11))
    assert COUNTERS.get(Metric.DEAD_LETTERS, STAGE) == letters_before


def test_confluent_framed_captures_are_mapped_by_the_engine_too(
    settings: Settings,
    migrated_warehouse: EmbeddedWarehouse,
    schema_registry_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    framed = settings.model_copy(update={"schema_registry_url": schema_registry_url})
    ensure_topics(framed)
    codec = ConfluentCodec(schema_registry_url)
    plates = [codec.encode(_plate(i), framed.topic(topics.UNIQUE_PLATES.name)) for i in range(6)]
    face = codec.encode(_face(128), framed.topic(topics.UNIQUE_FACES.name))
    truncated = codec.encode(_plate(90), framed.topic(topics.UNIQUE_PLATES.name))[:-4]
    _produce(framed, topics.UNIQUE_PLATES, plates)
    _produce(framed, topics.UNIQUE_FACES, [face])
    first = _consume_all(framed, [topics.UNIQUE_PLATES, topics.UNIQUE_FACES], 7)
    _produce(framed, topics.UNIQUE_PLATES, [truncated])
    everything = _consume_all(framed, [topics.UNIQUE_PLATES, topics.UNIQUE_FACES], 8)
    second = [m for m in everything if m.value() == truncated]
    assert len(second) == 1
    as_rows: list[str] = []  # tables given rows decoded in Python
    insert_rows = migrated_warehouse.insert

    def recording(table: str, rows: Sequence[Row], *, dedup_token: str | None = None) -> int:
        as_rows.append(table)
        return insert_rows(table, rows, dedup_token=dedup_token)

    monkeypatch.setattr(migrated_warehouse, "insert", recording)
    stage = WarehouseSinkStage(framed, migrated_warehouse, Publisher(framed), wire_format(framed))
    letters_before = COUNTERS.get(Metric.DEAD_LETTERS, STAGE)

    stage.process(first)
    stage.flush(threading.Event())
    assert as_rows == []  # every body went to the engine
    assert _plates(migrated_warehouse) == [f"p{i}" for i in range(6)]
    for table in ("face_captures", "face_vectors"):
        assert migrated_warehouse.query(f"SELECT event_id FROM {table}") == [  # noqa: S608
            {"event_id": "f128"}
        ]

    # a body cut short: the engine refuses its group, Python decoding dead-letters it
    stage.process(second)
    stage.flush(threading.Event())
    assert COUNTERS.get(Metric.DEAD_LETTERS, STAGE) == letters_before + 1
    assert _plates(migrated_warehouse) == [f"p{i}" for i in range(6)]


class RowsOnly:
    """A warehouse that takes rows only, as the ClickHouse server backend does."""

    def __init__(self, warehouse: EmbeddedWarehouse) -> None:
        self.warehouse = warehouse
        self.inserted: list[str] = []

    @property
    def description(self) -> str:
        return "rows only"

    def command(self, sql: str, params: Params | None = None) -> None:
        self.warehouse.command(sql, params)

    def query(self, sql: str, params: Params | None = None) -> list[dict[str, Any]]:
        return self.warehouse.query(sql, params)

    def insert(self, table: str, rows: Sequence[Row], *, dedup_token: str | None = None) -> int:
        self.inserted.append(table)
        return self.warehouse.insert(table, rows, dedup_token=dedup_token)

    def close(self) -> None:
        return None


def test_a_warehouse_without_the_engine_path_gets_rows(
    settings: Settings, migrated_warehouse: EmbeddedWarehouse
) -> None:
    ensure_topics(settings)
    _produce(settings, topics.UNIQUE_PLATES, [*_encoded([_plate(i) for i in range(4)]), _v1(4)])
    messages = _consume_all(settings, [topics.UNIQUE_PLATES], 5)
    rows_only = RowsOnly(migrated_warehouse)
    stage = WarehouseSinkStage(settings, rows_only, Publisher(settings), WireFormat())
    assert stage.engine is None

    stage.process(messages)
    stage.flush(threading.Event())

    assert rows_only.inserted == ["plate_captures"]
    assert _plates(migrated_warehouse) == [f"p{i}" for i in range(5)]


def test_a_redelivered_batch_is_absorbed_on_the_engine_path(
    settings: Settings, migrated_warehouse: EmbeddedWarehouse
) -> None:
    ensure_topics(settings)
    _produce(settings, topics.UNIQUE_PLATES, [*_encoded([_plate(i) for i in range(6)]), _v1(6)])
    messages = _consume_all(settings, [topics.UNIQUE_PLATES], 7)
    stage = WarehouseSinkStage(settings, migrated_warehouse, Publisher(settings), WireFormat())
    migrated_warehouse.command("SYSTEM STOP MERGES plate_captures")
    for batch in (messages, list(reversed(messages))):
        stage.process(batch)
        stage.flush(threading.Event())
    # Two writer schemas, two inserts per batch; the second batch stored nothing.
    assert migrated_warehouse.query("SELECT count() AS n FROM plate_captures") == [{"n": 7}]


@pytest.mark.parametrize("path", ["engine", "rows"])
def test_rows_the_warehouse_refuses_are_dead_lettered_and_the_rest_lands(
    settings: Settings, migrated_warehouse: EmbeddedWarehouse, path: str
) -> None:
    # A constraint refuses one plate for good: retrying it would hold the sink forever.
    ensure_topics(settings)
    migrated_warehouse.command(
        "ALTER TABLE plate_captures ADD CONSTRAINT not_p3 CHECK event_id != 'p3'"
    )
    sent = [*_encoded([_plate(i) for i in range(8)]), _v1(8)]
    _produce(settings, topics.UNIQUE_PLATES, sent)
    messages = _consume_all(settings, [topics.UNIQUE_PLATES], 9)
    warehouse: Warehouse = migrated_warehouse if path == "engine" else RowsOnly(migrated_warehouse)
    stage = WarehouseSinkStage(settings, warehouse, Publisher(settings), WireFormat())
    refused_before = COUNTERS.get(Metric.SINK_REFUSED_ROWS, "plate_captures")

    stage.process(messages)
    stage.flush(threading.Event())

    assert _plates(migrated_warehouse) == [f"p{i}" for i in range(9) if i != 3]
    assert COUNTERS.get(Metric.SINK_REFUSED_ROWS, "plate_captures") == refused_before + 1
    [letter] = [avro.decode(m.value()) for m in _consume_all(settings, [topics.DEAD_LETTERS], 1)]
    assert isinstance(letter, DeadLetter)
    [source] = [m for m in messages if m.value() == sent[3]]
    assert (letter.payload, letter.topic, letter.partition, letter.offset) == (
        sent[3],
        source.topic(),
        source.partition(),
        source.offset(),
    )
    assert letter.stage == STAGE
    assert "plate_captures" in letter.reason
    assert "VIOLATED_CONSTRAINT" in letter.reason

    # Once the table is fixed, a replay sends the record back to the sink's input, and it lands.
    migrated_warehouse.command("ALTER TABLE plate_captures DROP CONSTRAINT not_p3")
    replay_dead_letters(
        settings, LetterFilter(stage=STAGE, contains="VIOLATED_CONSTRAINT"), dry_run=False
    )
    [replayed] = [
        m
        for m in _consume_all(settings, [topics.UNIQUE_PLATES], 10)
        if "x-replay-of" in dict(m.headers() or ())
    ]
    assert replayed.value() == sent[3]
    stage.process([replayed])
    stage.flush(threading.Event())
    assert _plates(migrated_warehouse) == [f"p{i}" for i in range(9)]


def test_a_table_that_refuses_most_rows_stops_the_worker_instead_of_draining(
    settings: Settings, migrated_warehouse: EmbeddedWarehouse
) -> None:
    ensure_topics(settings)
    migrated_warehouse.command(
        "ALTER TABLE plate_captures ADD CONSTRAINT hardly CHECK event_id IN ('p0', 'p1')"
    )
    _produce(settings, topics.UNIQUE_PLATES, _encoded([_plate(i) for i in range(120)]))
    messages = _consume_all(settings, [topics.UNIQUE_PLATES], 120)
    stage = WarehouseSinkStage(settings, migrated_warehouse, Publisher(settings), WireFormat())
    letters_before = COUNTERS.get(Metric.DEAD_LETTERS, STAGE)

    stage.process(messages)
    with pytest.raises(MustStop, match=r"plate_captures: 118 of the last 120 rows were refused"):
        stage.flush(threading.Event())

    assert COUNTERS.get(Metric.DEAD_LETTERS, STAGE) == letters_before
    # What the table accepted landed; the runner commits nothing, so the rest is read again.
    assert _plates(migrated_warehouse) == ["p0", "p1"]


def test_a_view_that_failed_gets_its_rows_when_the_insert_is_retried(
    migrated_warehouse: EmbeddedWarehouse,
) -> None:
    # The engine writes plate_captures, then its views; one of them fails. The retry carries the
    # same token: plate_captures drops the repeat, and each view stores what it lacks, once.
    rows = rows_by_table([_plate(i) for i in range(10)])["plate_captures"]
    migrated_warehouse.command("ALTER TABLE plate_days ADD CONSTRAINT not_yet CHECK reads = 0")
    with pytest.raises(WarehouseError, match="VIOLATED_CONSTRAINT"):
        migrated_warehouse.insert("plate_captures", rows, dedup_token="batch-1")
    assert migrated_warehouse.query("SELECT count() AS n FROM plate_captures") == [{"n": 10}]
    migrated_warehouse.command("ALTER TABLE plate_days DROP CONSTRAINT not_yet")

    for _ in range(2):  # the retry, and a redelivery of the same batch
        migrated_warehouse.insert("plate_captures", rows, dedup_token="batch-1")

    [row] = migrated_warehouse.query(
        "SELECT (SELECT count() FROM plate_captures) AS plates, "
        "(SELECT sum(reads) FROM plate_days) AS days, "
        "(SELECT sum(events) FROM device_hourly) AS hourly"
    )
    assert row == {"plates": 10, "days": 10, "hourly": 10}
