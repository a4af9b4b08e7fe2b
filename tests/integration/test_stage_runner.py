"""The stage runner against the real broker and the real embedded warehouse, with faults."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from streams.agents.raw_archive import RawArchiveStage
from streams.agents.runner import StageRunner
from streams.canonical import DeadLetter
from streams.codecs.wire import WireFormat
from streams.kafka_admin import ensure_topics
from streams.publisher import Publisher
from streams.settings import Settings
from streams.topics import DEAD_LETTERS, raw_topic_name
from streams.warehouse.base import Row
from streams.warehouse.embedded import EmbeddedWarehouse
from streams.warehouse.migrations import migrate
from tests.integration.kafka_reading import read_topic

pytestmark = pytest.mark.integration


class FailingInserts:
    """A real warehouse whose inserts fail until ``heal()``: a ClickHouse outage."""

    def __init__(self, warehouse: EmbeddedWarehouse) -> None:
        self.warehouse = warehouse
        self.healthy = threading.Event()
        self.failures = 0

    def heal(self) -> None:
        self.healthy.set()

    def insert(self, table: str, rows: Sequence[Row], *, dedup_token: str | None = None) -> int:
        if not self.healthy.is_set():
            self.failures += 1
            raise ConnectionError("warehouse unavailable")
        return self.warehouse.insert(table, rows, dedup_token=dedup_token)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.warehouse, name)


def _archive(settings: Settings, warehouse: EmbeddedWarehouse | FailingInserts) -> RawArchiveStage:
    return RawArchiveStage(
        settings,
        warehouse,
        Publisher(settings),
        WireFormat(),
    )


def _committed(settings: Settings, topic: str) -> int:
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": f"{settings.app_id}.raw_archive",
        }
    )
    try:
        parts = consumer.committed(
            [TopicPartition(topic, p) for p in range(settings.topic_partitions)], timeout=10
        )
        return sum(max(tp.offset, 0) for tp in parts)
    finally:
        consumer.close()


def test_outage_holds_the_commit_and_loses_nothing(settings: Settings, tmp_path: Path) -> None:
    fast = settings.model_copy(
        update={"sink_retry_initial_seconds": 0.05, "sink_retry_max_seconds": 0.2}
    )
    ensure_topics(fast)
    topic = fast.topic(raw_topic_name("gat1400"))
    producer = Producer({"bootstrap.servers": fast.kafka_bootstrap_servers, "acks": "all"})
    for i in range(50):
        producer.produce(topic, key=b"d%d" % (i % 5), value=b'{"n": %d}' % i)
    assert producer.flush(15) == 0

    warehouse = EmbeddedWarehouse(tmp_path / "wh", "streams")
    migrate(warehouse)
    flaky = FailingInserts(warehouse)
    fatal: list[BaseException] = []
    runner = StageRunner(fast, _archive(fast, flaky), fatal.append)
    runner.start()
    try:
        deadline = time.monotonic() + 30
        while flaky.failures < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert flaky.failures >= 5
        assert _committed(fast, topic) == 0  # nothing landed, nothing committed
        flaky.heal()
        while _committed(fast, topic) < 50 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _committed(fast, topic) == 50
    finally:
        runner.stop()
        runner.join(30)
    assert fatal == []
    rows = warehouse.query("SELECT count() AS n, uniqExact(payload) AS u FROM raw_captures FINAL")
    assert rows == [{"n": 50, "u": 50}]
    warehouse.close()


def test_stop_during_an_outage_commits_nothing_and_the_next_run_lands_it(
    settings: Settings, tmp_path: Path
) -> None:
    fast = settings.model_copy(
        update={"sink_retry_initial_seconds": 0.05, "sink_retry_max_seconds": 0.1}
    )
    ensure_topics(fast)
    topic = fast.topic(raw_topic_name("frigate"))
    producer = Producer({"bootstrap.servers": fast.kafka_bootstrap_servers, "acks": "all"})
    for i in range(20):
        producer.produce(topic, value=b'{"m": %d}' % i)
    assert producer.flush(15) == 0
    warehouse = EmbeddedWarehouse(tmp_path / "wh", "streams")
    migrate(warehouse)

    flaky = FailingInserts(warehouse)
    first = StageRunner(fast, _archive(fast, flaky), lambda exc: None)
    first.start()
    deadline = time.monotonic() + 30
    while flaky.failures < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    first.stop()
    first.join(30)
    assert not first.is_alive()
    assert _committed(fast, topic) == 0

    second = StageRunner(fast, _archive(fast, warehouse), lambda exc: None)
    second.start()
    try:
        while _committed(fast, topic) < 20 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        second.stop()
        second.join(30)
    assert _committed(fast, topic) == 20
    assert warehouse.query("SELECT count() AS n FROM raw_captures FINAL") == [{"n": 20}]
    warehouse.close()


def test_a_payload_the_archive_refuses_is_dead_lettered_and_the_stage_moves_on(
    settings: Settings, tmp_path: Path
) -> None:
    ensure_topics(settings)
    topic = settings.topic(raw_topic_name("frigate"))
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap_servers, "acks": "all"})
    for i in range(30):
        producer.produce(topic, key=b"cam", value=b'{"n": %d}' % i)
    assert producer.flush(15) == 0
    warehouse = EmbeddedWarehouse(tmp_path / "wh", "streams")
    migrate(warehouse)
    # An owner's rule the archive cannot meet for one payload: without splitting the batch,
    # the stage would retry it forever and commit nothing.
    warehouse.command("ALTER TABLE raw_captures ADD CONSTRAINT no_7 CHECK payload != '{\"n\": 7}'")
    fatal: list[BaseException] = []
    runner = StageRunner(settings, _archive(settings, warehouse), fatal.append)
    runner.start()
    try:
        deadline = time.monotonic() + 30
        while _committed(settings, topic) < 30 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        runner.stop()
        runner.join(30)
    assert fatal == []
    assert _committed(settings, topic) == 30
    rows = warehouse.query("SELECT count() AS n FROM raw_captures FINAL")
    assert rows == [{"n": 29}]
    warehouse.close()
    [letter] = read_topic(settings, settings.topic(DEAD_LETTERS.name), 1)
    assert isinstance(letter, DeadLetter)
    assert (letter.payload, letter.stage, letter.topic) == (b'{"n": 7}', "raw_archive", topic)
    assert "VIOLATED_CONSTRAINT" in letter.reason
