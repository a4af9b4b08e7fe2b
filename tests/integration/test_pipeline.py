"""Producer -> real Kafka -> faust worker -> embedded ClickHouse, and back out of the warehouse."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka import Producer

from streams.demo_payloads import demo_payloads
from streams.kafka_admin import ensure_topics
from streams.settings import Settings
from streams.topics import raw_topic_name
from streams.warehouse import open_warehouse
from tests.integration.kafka_reading import committed_lag
from tests.integration.worker_process import WorkerProcess

pytestmark = pytest.mark.integration


def _produce(settings: Settings, payloads: list[tuple[str, str, bytes]]) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap_servers, "acks": "all"})
    for source, device, body in payloads:
        producer.produce(settings.topic(raw_topic_name(source)), key=device.encode(), value=body)
    assert producer.flush(15) == 0


def _landed(worker: WorkerProcess) -> int:
    status, body = worker.get("/landed")
    return sum(body["raw_captures"].values()) if status == 200 else -1


def test_events_flow_from_kafka_through_the_worker_into_the_warehouse(
    settings: Settings, tmp_path: Path
) -> None:
    ensure_topics(settings)
    payloads = demo_payloads(per_source=5)
    _produce(settings, payloads)

    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    try:
        assert worker.get("/healthz") == (200, {"status": "ok"})
        worker.wait_for(lambda: _landed(worker) == len(payloads), 60, "landing all events")
        # A redelivery of the same positions must not add rows: produce nothing, restart below.
        status, stats = worker.get("/stats")
        assert status == 200
        assert sum(stats["counters"]["streams_raw_archived_total"].values()) == len(payloads)
    finally:
        assert worker.stop() == 0, worker.log_tail()

    topics = sorted({settings.topic(raw_topic_name(s)) for s, _d, _b in payloads})
    assert committed_lag(settings, "raw_archive", topics) == 0
    assert committed_lag(settings, "normalize", topics) == 0

    warehouse = open_warehouse(settings)
    try:
        rows = warehouse.query(
            "SELECT source, device_key, payload FROM raw_captures FINAL ORDER BY source, payload"
        )
    finally:
        warehouse.close()
    expected = sorted((s, d, b.decode()) for s, d, b in payloads)
    assert sorted((r["source"], r["device_key"], r["payload"]) for r in rows) == expected


def test_restarted_worker_continues_without_duplicating_rows(
    settings: Settings, tmp_path: Path
) -> None:
    ensure_topics(settings)
    first, second = demo_payloads(per_source=2)[:4], demo_payloads(per_source=2)[4:]
    _produce(settings, first)
    worker = WorkerProcess(settings, tmp_path / "worker1.log").start()
    try:
        worker.wait_for(lambda: _landed(worker) == len(first), 60, "landing the first events")
    finally:
        assert worker.stop() == 0
    _produce(settings, second)
    worker = WorkerProcess(settings, tmp_path / "worker2.log").start()
    try:
        total = len(first) + len(second)
        worker.wait_for(lambda: _landed(worker) == total, 60, "landing the rest")
        _status, body = worker.get("/stats")
        # The second run read only what was new: the first batch was committed.
        assert sum(body["counters"]["streams_raw_archived_total"].values()) == len(second)
    finally:
        assert worker.stop() == 0
