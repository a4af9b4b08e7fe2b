"""Dedup and correlation through the real broker: the worker against the offline run.

The scenario (tests/correlate_scenario.py) has re-pushes, multi-snapshot passes, a platform
cascade, a watchlist hit, a cloned plate, a convoy, a driver, an alarm and a late burst. Its
times lie an hour ahead of the wall clock so only the events themselves move the windows.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from streams.canonical import CanonicalEvent
from streams.codecs.avro import encode
from streams.correlate.pipeline import run_offline
from streams.correlate.records import Alert, Correlation
from streams.correlate.watchlist import watchlist_from_entries
from streams.kafka_admin import ensure_topics
from streams.publisher import Publisher
from streams.settings import Settings
from streams.topics import (
    ALARMS,
    ALERTS,
    CORRELATIONS,
    FACE_CAPTURES,
    PLATE_CAPTURES,
    UNIQUE_ALARMS,
    UNIQUE_FACES,
    UNIQUE_PLATES,
)
from streams.watchlist_topic import publish_entries
from tests.conftest import free_port
from tests.correlate_scenario import Scenario, build, watchlist_entries
from tests.integration.kafka_reading import read_topic
from tests.integration.worker_process import WorkerProcess

pytestmark = pytest.mark.integration

CAPTURE_TOPICS = {"plate": PLATE_CAPTURES, "face": FACE_CAPTURES, "alarm": ALARMS}


def _t0() -> datetime:
    return (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)


def _produce(settings: Settings, events: list[CanonicalEvent]) -> None:
    # The same producer (and partitioner) as the normalize stage: keyed by device.
    publisher = Publisher(settings)
    for event in events:
        topic = settings.topic(CAPTURE_TOPICS[event.kind].name)
        publisher.produce(topic, encode(event), event.device_id.encode())
    publisher.flush_sync()


def _offline(settings: Settings, scenario: Scenario, t0: datetime) -> list[Any]:
    watchlist = watchlist_from_entries(watchlist_entries(t0))
    return list(run_offline(scenario.events, settings.rule_config(), watchlist, t0))


def _expected(offline: list[Any], scenario: Scenario) -> tuple[set[str], set[str], set[str]]:
    # The last ticks never close in the worker (nothing comes after them); offline flushes them.
    unique = {
        r.event_id
        for r in offline
        if getattr(r, "kind", None) in ("plate", "face", "alarm")
        and r.event_id not in scenario.ticks
    }
    alerts = {r.alert_id for r in offline if isinstance(r, Alert)}
    correlations = {r.correlation_id for r in offline if isinstance(r, Correlation)}
    return unique, alerts, correlations


def _read_unique(settings: Settings, expected: int) -> list[Any]:
    found: list[Any] = []
    for spec in (UNIQUE_PLATES, UNIQUE_FACES, UNIQUE_ALARMS):
        found += read_topic(settings, settings.topic(spec.name), 0, timeout=1)
    deadline = time.monotonic() + 90
    while len({e.event_id for e in found}) < expected and time.monotonic() < deadline:
        time.sleep(1)
        found = []
        for spec in (UNIQUE_PLATES, UNIQUE_FACES, UNIQUE_ALARMS):
            found += read_topic(settings, settings.topic(spec.name), 0, timeout=1)
    return found


def _prepared(settings: Settings) -> tuple[Scenario, set[str], set[str], set[str]]:
    """Topics made and the watchlist published; the scenario, with the unique event, alert and
    correlation ids the offline run expects of it."""
    ensure_topics(settings)
    t0 = _t0()
    scenario = build(t0)
    unique_ids, alert_ids, correlation_ids = _expected(_offline(settings, scenario, t0), scenario)
    publish_entries(settings, watchlist_entries(t0))
    return scenario, unique_ids, alert_ids, correlation_ids


def test_worker_gives_exactly_the_offline_unique_events_and_alerts(
    settings: Settings, tmp_path: Path
) -> None:
    scenario, unique_ids, alert_ids, correlation_ids = _prepared(settings)
    _produce(settings, scenario.events)

    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    try:
        alerts = read_topic(settings, settings.topic(ALERTS.name), len(alert_ids), timeout=120)
        unique = _read_unique(settings, len(unique_ids))
        correlations = read_topic(
            settings, settings.topic(CORRELATIONS.name), len(correlation_ids), timeout=30
        )
        _status, stats = worker.get("/stats")
    finally:
        assert worker.stop() == 0, worker.log_tail()

    # The expected outcome, stated outright (the offline run is checked the same way in
    # tests/unit/test_correlate_offline.py).
    assert Counter(a.rule for a in alerts) == {
        "watchlist": 5,
        "cloned_plate": 1,
        "convoy": 1,
        "alarm_context": 1,
    }
    assert {a.alert_id for a in alerts} == alert_ids
    assert len(alerts) == len(alert_ids), "an alert was published twice"
    assert sorted(a.late for a in alerts if a.rule == "watchlist") == [False] * 4 + [True]

    # Re-pushed events come out once each.
    assert sorted(e.event_id for e in unique if e.event_id in scenario.repushed) == sorted(
        scenario.repushed
    )
    assert {e.event_id for e in unique} == unique_ids
    assert len(unique) == len(unique_ids), "a unique event was published twice"
    assert {e.event_id for e in unique if e.late} == set(scenario.late_ids)
    assert {c.correlation_id for c in correlations} == correlation_ids
    assert len(correlation_ids) == 1

    assert stats["counters"]["streams_alerts_total"] == dict(Counter(a.rule for a in alerts))
    assert stats["counters"]["streams_duplicates_dropped_total"]["exact"] == len(scenario.repushed)


def test_a_killed_worker_resumes_from_its_change_log(settings: Settings, tmp_path: Path) -> None:
    scenario, _unique_ids, alert_ids, _ = _prepared(settings)

    # Cut inside the convoy: its first device's co-pass and some open passes are state only.
    cut = next(
        i
        for i, e in enumerate(scenario.events)
        if getattr(e, "plate_number", None) == "沪F66666" and e.device_id.endswith("02")
    )
    first, rest = scenario.events[:cut], scenario.events[cut:]
    _produce(settings, first)
    worker = WorkerProcess(settings, tmp_path / "worker1.log").start()
    try:
        # The watchlist and cloned-plate alerts of the first part are out: its batches ran.
        read_topic(settings, settings.topic(ALERTS.name), 2, timeout=60)
        time.sleep(3)  # let the batch's state and offsets be written
    finally:
        assert worker.process is not None
        worker.process.kill()  # no shutdown: whatever was not committed is redelivered
        worker.process.wait()

    _produce(settings, rest)
    worker = WorkerProcess(settings, tmp_path / "worker2.log").start()
    try:
        alerts = read_topic(settings, settings.topic(ALERTS.name), len(alert_ids), timeout=120)
        _status, stats = worker.get("/stats")
    finally:
        assert worker.stop() == 0, worker.log_tail()

    found = {a.alert_id for a in alerts}
    assert found == alert_ids, "an alert was lost across the restart"
    assert Counter(a.rule for a in alerts if a.rule == "convoy") == {"convoy": 1}
    # Repeats are allowed only as the same alert id (subscribers drop them by id).
    assert all(a.alert_id in alert_ids for a in alerts)
    restored = stats["counters"]["streams_state_records_restored_total"]
    assert restored[settings.topic("changelog.dedup")] > 0, "the second worker restored nothing"


def test_a_worker_joining_mid_stream_changes_no_result_and_the_first_keeps_its_state(
    settings: Settings, tmp_path: Path
) -> None:
    # Two workers on the rule stages only; the embedded warehouse allows one process per path.
    rules_only = settings.model_copy(update={"worker_stages": "dedup,plates,area"})
    joining = rules_only.model_copy(
        update={
            "web_port": free_port(),
            "data_dir": tmp_path / "faust-2",
            "warehouse_url": f"chdb://{tmp_path / 'warehouse-2'}",
        }
    )
    scenario, unique_ids, alert_ids, _ = _prepared(settings)
    cut = len(scenario.events) // 2
    _produce(settings, scenario.events[:cut])

    first = WorkerProcess(rules_only, tmp_path / "worker1.log").start()
    second = WorkerProcess(joining, tmp_path / "worker2.log")
    try:
        read_topic(settings, settings.topic(ALERTS.name), 1, timeout=60)
        time.sleep(2)  # the first half's state written
        second.start()  # the rebalance: every partition of each stage revoked, then split
        _produce(settings, scenario.events[cut:])
        alerts = read_topic(settings, settings.topic(ALERTS.name), len(alert_ids), timeout=120)
        unique = _read_unique(settings, len(unique_ids))
        _status, stats = first.get("/stats")
    finally:
        assert second.stop() == 0, second.log_tail()
        assert first.stop() == 0, first.log_tail()

    assert {a.alert_id for a in alerts} == alert_ids
    assert {e.event_id for e in unique} == unique_ids
    # The partitions the first worker kept were taken up without reading their change log.
    kept = stats["counters"].get("streams_state_partitions_kept_total", {})
    assert kept.get(settings.topic("changelog.dedup"), 0) >= 1, stats["counters"]
