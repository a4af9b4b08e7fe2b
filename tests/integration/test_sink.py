"""The warehouse sink against the real broker and the real embedded warehouse (chDB)."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from pydantic import BaseModel

from streams import topics
from streams.agents.runner import StageRunner
from streams.agents.sink import STAGE, WarehouseSinkStage
from streams.canonical import (
    Alarm,
    AlarmState,
    AlarmType,
    DeadLetter,
    FaceCapture,
    GeoPoint,
    ImageRef,
    PlateCapture,
    TimeProvenance,
)
from streams.codecs import avro
from streams.codecs.avro import SCHEMA_DIR
from streams.codecs.wire import WireFormat
from streams.correlate.records import Alert, Correlation
from streams.kafka_admin import ensure_topics
from streams.metrics import COUNTERS, Metric
from streams.publisher import Publisher
from streams.settings import Settings
from streams.warehouse.base import Row
from streams.warehouse.embedded import EmbeddedWarehouse

pytestmark = pytest.mark.integration

EXAMPLES = SCHEMA_DIR / "examples"
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _example(model: type[BaseModel], name: str) -> Any:
    return model.model_validate_json((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))


def _plate(i: int, run: str = "") -> PlateCapture:
    return PlateCapture(
        event_id=f"p{run}{i}",
        source="gat1400",
        device_id=f"3301020000131000000{i % 3}",
        captured_at=T0 + timedelta(seconds=i),
        received_at=T0 + timedelta(seconds=i, milliseconds=300),
        time_source=TimeProvenance.DEVICE_ZONE,
        position=GeoPoint(lat=30.25 + i / 1000, lon=120.15),
        images=[ImageRef(kind="vehicle", url=f"http://pic.invalid/{i}.jpg")],
        plate_number=f"浙A{10000 + i}",
        confidence=0.9,
    )


def _face(embedding_length: int) -> FaceCapture:
    return FaceCapture(
        event_id=f"f{embedding_length}",
        source="hikvision-isapi",
        device_id="33010200001310000009",
        captured_at=T0,
        received_at=T0 + timedelta(seconds=1),
        time_source=TimeProvenance.SOURCE_OFFSET,
        embedding=[0.25] * embedding_length,
        track_id="t1",
        quality=0.5,
    )


def _alarm() -> Alarm:
    return Alarm(
        event_id="a1",
        source="dahua-cgi",
        device_id="dahua-cgi:serial=1:ch=0",
        captured_at=T0,
        received_at=T0,
        time_source=TimeProvenance.REAL_UTC,
        alarm_type=AlarmType.INTRUSION,
        state=AlarmState.START,
        vendor_event_type="CrossRegionDetection",
    )


def _produce(settings: Settings, spec: topics.TopicSpec, values: Sequence[bytes]) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap_servers, "acks": "all"})
    for n, value in enumerate(values):
        producer.produce(settings.topic(spec.name), key=b"k%d" % n, value=value)
    assert producer.flush(15) == 0


def _encoded(records: Sequence[BaseModel]) -> list[bytes]:
    return [avro.encode(r) for r in records]


def _committed(settings: Settings, spec: topics.TopicSpec) -> int:
    """The sink's committed offsets on a topic, summed over its partitions."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": f"{settings.app_id}.{STAGE}",
            "enable.auto.commit": False,
        }
    )
    parts = [TopicPartition(settings.topic(spec.name), p) for p in range(settings.topic_partitions)]
    try:
        for _attempt in range(40):
            try:
                return sum(max(tp.offset, 0) for tp in consumer.committed(parts, timeout=10))
            except KafkaException:  # a new broker's group coordinator may still be loading
                time.sleep(0.25)
        raise AssertionError("committed offsets not readable")
    finally:
        consumer.close()


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} within {timeout}s")
        time.sleep(0.1)


class RecordedInserts:
    """The real warehouse, with a record of every insert attempt and its outcome."""

    def __init__(self, warehouse: EmbeddedWarehouse) -> None:
        self.warehouse = warehouse
        self.attempts: list[tuple[str, str | None, bool]] = []  # table, token, landed
        self.lock = threading.Lock()

    def insert(self, table: str, rows: Sequence[Row], *, dedup_token: str | None = None) -> int:
        try:
            landed = self.warehouse.insert(table, rows, dedup_token=dedup_token)
        except Exception:
            with self.lock:
                self.attempts.append((table, dedup_token, False))
            raise
        with self.lock:
            self.attempts.append((table, dedup_token, True))
        return landed

    def count(self, table: str, landed: bool) -> int:
        with self.lock:
            return sum(1 for t, _tok, ok in self.attempts if t == table and ok is landed)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.warehouse, name)


@contextmanager
def running_sink(settings: Settings, warehouse: Any) -> Iterator[StageRunner]:
    fatal: list[BaseException] = []
    stage = WarehouseSinkStage(settings, warehouse, Publisher(settings), WireFormat())
    runner = StageRunner(settings, stage, fatal.append)
    runner.start()
    try:
        yield runner
    finally:
        runner.stop()
        runner.join(30)
    assert not runner.is_alive()
    assert fatal == []


def test_records_land_in_their_tables(
    settings: Settings, migrated_warehouse: EmbeddedWarehouse
) -> None:
    ensure_topics(settings)
    plates = [_plate(i) for i in range(5)]
    faces = [_face(128), _face(16)]
    alert = _example(Alert, "alert.v1")
    correlation = _example(Correlation, "correlation.v1")
    letter = _example(DeadLetter, "dead_letter.v1")
    unreadable_before = COUNTERS.get(Metric.SINK_UNREADABLE, settings.topic("deadletter"))
    _produce(settings, topics.UNIQUE_PLATES, _encoded(plates))
    _produce(settings, topics.UNIQUE_FACES, [*_encoded(faces), b"not avro at all"])
    _produce(settings, topics.UNIQUE_ALARMS, _encoded([_alarm()]))
    _produce(settings, topics.ALERTS, _encoded([alert]))
    _produce(settings, topics.CORRELATIONS, _encoded([correlation]))
    # A dead letter, and bytes on the dead-letter topic that are none: logged and counted.
    _produce(settings, topics.DEAD_LETTERS, [*_encoded([letter]), b"\xc3\x01" + b"\x00" * 12])

    expected = {
        topics.UNIQUE_PLATES: 5,
        topics.UNIQUE_FACES: 3,
        topics.UNIQUE_ALARMS: 1,
        topics.ALERTS: 1,
        topics.CORRELATIONS: 1,
        topics.DEAD_LETTERS: 3,  # with the sink's own dead letter for the unreadable face
    }
    with running_sink(settings, migrated_warehouse):
        _wait(
            lambda: all(_committed(settings, s) == n for s, n in expected.items()),
            60,
            "all committed",
        )

    rows = migrated_warehouse.query(
        "SELECT event_id, plate_number, plate_folded, device_id, toString(captured_at) AS at, "
        "lat, time_source, images FROM plate_captures FINAL ORDER BY event_id"
    )
    assert [r["event_id"] for r in rows] == [f"p{i}" for i in range(5)]
    assert rows[2]["plate_number"] == "浙A10002"
    assert rows[2]["plate_folded"] == "A10002"
    assert rows[2]["at"] == "2026-03-01 08:00:02.000"
    assert rows[2]["lat"] == pytest.approx(30.252)
    assert rows[2]["time_source"] == "device_zone"
    assert orjson.loads(rows[2]["images"]) == [
        {"kind": "vehicle", "url": "http://pic.invalid/2.jpg"}
    ]

    faces_landed = migrated_warehouse.query(
        "SELECT event_id, length(embedding) AS n FROM face_captures FINAL ORDER BY n"
    )
    assert faces_landed == [{"event_id": "f16", "n": 16}, {"event_id": "f128", "n": 128}]
    assert migrated_warehouse.query(
        "SELECT event_id, length(embedding) AS n FROM face_vectors FINAL"
    ) == [{"event_id": "f128", "n": 128}]
    assert migrated_warehouse.query("SELECT event_id, alarm_type, state FROM alarms FINAL") == [
        {"event_id": "a1", "alarm_type": "intrusion", "state": "start"}
    ]
    [landed_alert] = migrated_warehouse.query(
        "SELECT alert_id, rule, priority, subject, evidence, details FROM alerts FINAL"
    )
    assert landed_alert["alert_id"] == alert.alert_id
    assert (landed_alert["rule"], landed_alert["priority"]) == ("cloned_plate", 2)
    assert landed_alert["details"] == alert.details
    assert orjson.loads(landed_alert["evidence"])[0]["event_id"] == alert.evidence[0].event_id
    assert migrated_warehouse.query("SELECT correlation_id, relation FROM correlations FINAL") == [
        {"correlation_id": correlation.correlation_id, "relation": "person_vehicle"}
    ]

    letters = migrated_warehouse.query(
        "SELECT stage, topic, reason, payload_base64 FROM dead_letters FINAL ORDER BY stage"
    )
    assert [r["stage"] for r in letters] == ["normalize", STAGE]
    assert base64.b64decode(letters[0]["payload_base64"]) == letter.payload
    # The unreadable face went to the dead-letter topic whole, and from there to the table.
    assert letters[1]["topic"] == settings.topic("unique.face")
    assert base64.b64decode(letters[1]["payload_base64"]) == b"not avro at all"
    assert "cannot store a record" in letters[1]["reason"]
    after = COUNTERS.get(Metric.SINK_UNREADABLE, settings.topic("deadletter"))
    assert after == unreadable_before + 1


def test_failing_inserts_hold_the_commit_and_lose_nothing(
    settings: Settings, migrated_warehouse: EmbeddedWarehouse
) -> None:
    fast = settings.model_copy(
        update={
            "sink_retry_initial_seconds": 0.05,
            "sink_retry_max_seconds": 0.2,
            # One batch gathers a whole wave, so the alert and the plates share it.
            "sink_flush_seconds": 1.0,
        }
    )
    ensure_topics(fast)
    recorded = RecordedInserts(migrated_warehouse)
    with running_sink(fast, recorded):
        _produce(fast, topics.UNIQUE_PLATES, _encoded([_plate(i) for i in range(20)]))
        _wait(lambda: _committed(fast, topics.UNIQUE_PLATES) == 20, 60, "first wave committed")

        # A real fault: the table is gone for a while.
        migrated_warehouse.command("RENAME TABLE plate_captures TO plate_captures_away")
        alert = _example(Alert, "alert.v1")
        _produce(fast, topics.ALERTS, _encoded([alert]))
        _produce(fast, topics.UNIQUE_PLATES, _encoded([_plate(i) for i in range(20, 50)]))
        _wait(lambda: recorded.count("plate_captures", landed=False) >= 5, 60, "inserts failing")
        for _ in range(5):  # while inserts fail, nothing past the landed events is committed
            assert _committed(fast, topics.UNIQUE_PLATES) == 20
            # The alert landed, but its offset waits for the plates of its batch.
            assert _committed(fast, topics.ALERTS) == 0
            time.sleep(0.3)
        assert recorded.count("alerts", landed=True) == 1
        assert recorded.count("alerts", landed=False) == 0
        failing = recorded.count("plate_captures", landed=False)

        migrated_warehouse.command("RENAME TABLE plate_captures_away TO plate_captures")
        _wait(lambda: _committed(fast, topics.UNIQUE_PLATES) == 50, 60, "all committed")
        _wait(lambda: _committed(fast, topics.ALERTS) == 1, 10, "alert committed")

    # The landed alert was not inserted again while the plates were retried.
    assert recorded.count("alerts", landed=True) == 1
    assert recorded.count("plate_captures", landed=False) >= failing
    assert migrated_warehouse.query(
        "SELECT count() AS n, uniqExact(event_id) AS ids, min(event_id) AS first "
        "FROM plate_captures FINAL"
    ) == [{"n": 50, "ids": 50, "first": "p0"}]
    assert migrated_warehouse.query("SELECT count() AS n FROM alerts") == [{"n": 1}]


def _consume_all(settings: Settings, specs: Sequence[topics.TopicSpec], count: int) -> list[Any]:
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([settings.topic(s.name) for s in specs])
    found: list[Any] = []
    deadline = time.monotonic() + 60
    try:
        while len(found) < count and time.monotonic() < deadline:
            found += [m for m in consumer.consume(100, 0.5) if m.error() is None]
    finally:
        consumer.close()
    assert len(found) == count
    return found


def test_repeated_batches_do_not_repeat_results(
    settings: Settings, migrated_warehouse: EmbeddedWarehouse
) -> None:
    ensure_topics(settings)
    _produce(settings, topics.UNIQUE_PLATES, _encoded([_plate(i) for i in range(10)]))
    _produce(settings, topics.ALERTS, _encoded([_example(Alert, "alert.v1")]))
    messages = _consume_all(settings, [topics.UNIQUE_PLATES, topics.ALERTS], 11)
    plates = sorted(
        (m for m in messages if m.topic() == settings.topic("unique.plate")),
        key=lambda m: (m.partition(), m.offset()),
    )
    stage = WarehouseSinkStage(settings, migrated_warehouse, Publisher(settings), WireFormat())
    never = threading.Event()
    # Without merges, count() shows every stored copy; FINAL shows what a search sees.
    migrated_warehouse.command("SYSTEM STOP MERGES plate_captures")
    migrated_warehouse.command("SYSTEM STOP MERGES alerts")

    def land(batch: list[Any]) -> None:
        stage.process(batch)
        stage.flush(never)

    def counts() -> tuple[int, int, int, int]:
        [row] = migrated_warehouse.query(
            "SELECT (SELECT count() FROM plate_captures) AS plates, "
            "(SELECT count() FROM plate_captures FINAL) AS plates_final, "
            "(SELECT count() FROM alerts) AS alerts, "
            "(SELECT count() FROM alerts FINAL) AS alerts_final"
        )
        return row["plates"], row["plates_final"], row["alerts"], row["alerts_final"]

    def counted_by_views() -> tuple[int, int]:
        [row] = migrated_warehouse.query(
            "SELECT (SELECT sum(events) FROM device_hourly) AS hourly, "
            "(SELECT sum(reads) FROM plate_days) AS days"
        )
        return row["hourly"], row["days"]

    land(messages)
    assert counts() == (10, 10, 1, 1)
    assert counted_by_views() == (10, 10)
    # The same batch again (its commit was lost): same tokens, the engine stores nothing, and
    # the materialized views count nothing again.
    land(list(reversed(messages)))
    assert counts() == (10, 10, 1, 1)
    assert counted_by_views() == (10, 10)
    # Redelivered in other batches (other tokens): stored again, and the ReplacingMergeTree
    # still shows each event once with FINAL.
    land(plates[:4])
    land(plates[2:])
    assert counts() == (10 + 4 + 8, 10, 1, 1)
    assert (
        migrated_warehouse.query(
            "SELECT plate_number, count() AS n FROM plate_captures FINAL "
            "GROUP BY plate_number HAVING n > 1"
        )
        == []
    )
