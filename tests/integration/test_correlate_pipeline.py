"""Dedup and correlation through the real broker: the worker against the offline run.

The scenario (tests/correlate_scenario.py) has re-pushes, multi-snapshot passes, a platform
cascade, a watchlist hit, a cloned plate, a convoy, a driver, an alarm and a late burst. Its
times lie an hour ahead of the wall clock so only the events themselves move the windows.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from streams.settings import Settings
from streams.topics import (
    ALERTS,
    CORRELATIONS,
)
from tests.conftest import free_port
from tests.integration.correlate_flow import assert_each_once, prepared, produce, read_outputs
from tests.integration.kafka_reading import read_topic
from tests.integration.worker_process import WorkerProcess

pytestmark = pytest.mark.integration


def test_worker_gives_exactly_the_offline_unique_events_and_alerts(
    settings: Settings, tmp_path: Path
) -> None:
    scenario, unique_ids, alert_ids, correlation_ids = prepared(settings)
    produce(settings, scenario.events)

    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    try:
        alerts, unique = read_outputs(settings, alert_ids, unique_ids)
        correlations = read_topic(
            settings, settings.topic(CORRELATIONS.name), len(correlation_ids), timeout=30
        )
        _status, stats = worker.get("/stats")
    finally:
        assert worker.stop() == 0, worker.log_tail()

    assert_each_once(alerts, unique, alert_ids, unique_ids)
    assert sorted(a.late for a in alerts if a.rule == "watchlist") == [False] * 4 + [True]

    # Re-pushed events come out once each.
    assert sorted(e.event_id for e in unique if e.event_id in scenario.repushed) == sorted(
        scenario.repushed
    )
    assert {e.event_id for e in unique if e.late} == set(scenario.late_ids)
    assert {c.correlation_id for c in correlations} == correlation_ids
    assert len(correlation_ids) == 1

    assert stats["counters"]["streams_alerts_total"] == dict(Counter(a.rule for a in alerts))
    assert stats["counters"]["streams_duplicates_dropped_total"]["exact"] == len(scenario.repushed)


def test_a_killed_worker_resumes_from_its_change_log(settings: Settings, tmp_path: Path) -> None:
    scenario, _unique_ids, alert_ids, _ = prepared(settings)

    # Cut inside the convoy: its first device's co-pass and some open passes are state only.
    cut = next(
        i
        for i, e in enumerate(scenario.events)
        if getattr(e, "plate_number", None) == "沪F66666" and e.device_id.endswith("02")
    )
    first, rest = scenario.events[:cut], scenario.events[cut:]
    produce(settings, first)
    worker = WorkerProcess(settings, tmp_path / "worker1.log").start()
    try:
        # The watchlist and cloned-plate alerts of the first part are out: its batches ran.
        read_topic(settings, settings.topic(ALERTS.name), 2, timeout=60)
        time.sleep(3)  # let the batch's state and offsets be written
    finally:
        assert worker.process is not None
        worker.process.kill()  # no shutdown: whatever was not committed is redelivered
        worker.process.wait()

    produce(settings, rest)
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
    scenario, unique_ids, alert_ids, _ = prepared(settings)
    cut = len(scenario.events) // 2
    produce(settings, scenario.events[:cut])

    first = WorkerProcess(rules_only, tmp_path / "worker1.log").start()
    second = WorkerProcess(joining, tmp_path / "worker2.log")
    try:
        read_topic(settings, settings.topic(ALERTS.name), 1, timeout=60)
        time.sleep(2)  # the first half's state written
        second.start()  # the rebalance: every partition of each stage revoked, then split
        produce(settings, scenario.events[cut:])
        alerts, unique = read_outputs(settings, alert_ids, unique_ids)
        _status, stats = first.get("/stats")
    finally:
        assert second.stop() == 0, second.log_tail()
        assert first.stop() == 0, first.log_tail()

    assert {a.alert_id for a in alerts} == alert_ids
    assert {e.event_id for e in unique} == unique_ids
    # The partitions the first worker kept were taken up without reading their change log.
    kept = stats["counters"].get("streams_state_partitions_kept_total", {})
    assert kept.get(settings.topic("changelog.dedup"), 0) >= 1, stats["counters"]
