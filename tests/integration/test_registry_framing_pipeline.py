"""With a schema registry configured, the whole pipeline speaks Confluent framing: vendor
payloads through the real broker, the worker's stages and the embedded warehouse, against a real
Confluent-compatible registry (``schema_registry_url`` in conftest.py)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from streams import topics
from streams.canonical import Alarm, FaceCapture, PlateCapture
from streams.codecs.confluent import ConfluentCodec, subject_for
from streams.demo_payloads import demo_payloads
from streams.kafka_admin import ensure_topics
from streams.settings import Settings
from streams.topics import raw_topic_name
from streams.warehouse import open_warehouse
from tests.integration.kafka_reading import committed_lag, topic_values
from tests.integration.worker_process import WorkerProcess

pytestmark = pytest.mark.integration

CAPTURES = (topics.PLATE_CAPTURES, topics.FACE_CAPTURES, topics.ALARMS)
UNIQUE = (topics.UNIQUE_PLATES, topics.UNIQUE_FACES, topics.UNIQUE_ALARMS)
TABLES = ("plate_captures", "face_captures", "alarms")


def _events(settings: Settings, specs: tuple[topics.TopicSpec, ...], codec: ConfluentCodec) -> Any:
    """Every record on these topics, each checked to be Confluent-framed and decoded by id."""
    found = []
    for spec in specs:
        for value in topic_values(settings, settings.topic(spec.name)):
            assert value[:1] == b"\x00", f"{spec.name}: not Confluent-framed: {value[:8]!r}"
            found.append(codec.decode(value))
    return found


def _covered(captures: list[Any], unique: list[Any]) -> bool:
    """Every capture is passed on, or absorbed by an event passed on."""
    passed = {e.event_id for e in unique} | {a for e in unique for a in e.absorbed_event_ids}
    return bool(captures) and {e.event_id for e in captures} <= passed


def test_confluent_framing_through_every_stage_into_the_warehouse(
    settings: Settings, schema_registry_url: str, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"schema_registry_url": schema_registry_url})
    ensure_topics(settings)
    payloads = demo_payloads(per_source=5)
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap_servers, "acks": "all"})
    for source, device, body in payloads:
        producer.produce(settings.topic(raw_topic_name(source)), key=device.encode(), value=body)
    assert producer.flush(15) == 0

    codec = ConfluentCodec(schema_registry_url)
    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    try:
        state: dict[str, list[Any]] = {}

        def passed_on() -> bool:
            state["captures"] = _events(settings, CAPTURES, codec)
            state["unique"] = _events(settings, UNIQUE, codec)
            return _covered(state["captures"], state["unique"])

        worker.wait_for(passed_on, 90, "every capture passed on as a unique event")
        unique_topics = [settings.topic(spec.name) for spec in UNIQUE]
        worker.wait_for(
            lambda: committed_lag(settings, "warehouse_sink", unique_topics) == 0,
            60,
            "the sink landing every unique event",
        )
    finally:
        assert worker.stop() == 0, worker.log_tail()

    captures, unique = state["captures"], state["unique"]
    kinds = {type(e) for e in captures}
    assert PlateCapture in kinds, kinds
    assert all(isinstance(e, PlateCapture | FaceCapture | Alarm) for e in unique)

    # each topic's subject holds the newest repository schema of its record, registered once
    with urllib.request.urlopen(f"{schema_registry_url}/subjects", timeout=5) as response:  # noqa: S310
        subjects = set(json.loads(response.read()))
    for spec in CAPTURES + UNIQUE:
        if topic_values(settings, settings.topic(spec.name)):
            assert subject_for(settings.topic(spec.name)) in subjects

    warehouse = open_warehouse(settings)
    try:
        landed = {
            row["event_id"]
            for table in TABLES
            for row in warehouse.query(f"SELECT event_id FROM {table} FINAL")  # noqa: S608
        }
    finally:
        warehouse.close()
    assert landed == {e.event_id for e in unique}
