"""The broker dies (SIGKILL) in the middle of the stream and comes back: the worker keeps running,
every result comes out as without the outage, and the log says so in a few lines.

The test has a broker of its own (the session's is shared by every test).
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.localkafka import LocalKafka, free_port, port_is_free
from streams.settings import Settings
from streams.topics import ALERTS
from tests.integration.correlate_flow import prepared, produce, read_unique
from tests.integration.kafka_reading import read_topic
from tests.integration.worker_process import WorkerProcess

pytestmark = pytest.mark.integration

OUTAGE_SECONDS = 30
# Before repeats were condensed, a 75 s outage wrote 13,600 lines (every client of the worker
# reporting every reconnect attempt); condensed, a few per kind of message and 30 s.
MAX_LOG_LINES_DURING_OUTAGE = 150


def _free_pair() -> int:
    """A port whose next port (the controller's) is free too."""
    for _ in range(50):
        port = free_port()
        if port_is_free(port + 1):
            return port
    raise AssertionError("no two free ports in a row")


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalKafka]:
    broker = LocalKafka(tmp_path / "kafka", port=_free_pair(), heap_mb=512)
    broker.up(timeout=120)
    try:
        yield broker
    finally:
        broker.down()


def _kill(broker: LocalKafka) -> None:
    pid = broker.running_pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while broker.running_pid() is not None:
        assert time.monotonic() < deadline, "the killed broker did not exit"
        time.sleep(0.1)


def _lines(path: Path) -> int:
    return len(path.read_text(errors="replace").splitlines())


def test_a_broker_outage_changes_no_result_and_the_log_stays_short(
    own_broker: LocalKafka, tmp_path: Path
) -> None:
    settings = Settings(
        kafka_bootstrap_servers=own_broker.bootstrap,
        topic_prefix=f"o{uuid.uuid4().hex[:8]}.",
        topic_partitions=2,
        app_id=f"streams-outage-{uuid.uuid4().hex[:8]}",
        data_dir=tmp_path / "faust",
        warehouse_url=f"chdb://{tmp_path / 'warehouse'}",
        web_port=free_port(),
        api_port=free_port(),
        sink_flush_seconds=0.2,
        local_dir=tmp_path / "local",
    )
    scenario, unique_ids, alert_ids, correlation_ids = prepared(settings)
    cut = len(scenario.events) // 2
    produce(settings, scenario.events[:cut])

    log = tmp_path / "worker.log"
    worker = WorkerProcess(settings, log).start()
    try:
        worker.wait_for(
            lambda: worker.get("/stats")[1]["counters"]
            .get("streams_captures_in_total", {})
            .get("", 0)
            >= cut,
            60,
            "reading the first half",
        )
        time.sleep(2)  # its outputs and state written, its offsets committed
        before = _lines(log)
        _kill(own_broker)
        time.sleep(OUTAGE_SECONDS)
        assert worker.process is not None
        assert worker.process.poll() is None, worker.log_tail()
        assert worker.get("/healthz")[0] == 200
        during = _lines(log) - before
        own_broker.up(timeout=120)

        produce(settings, scenario.events[cut:])
        alerts = read_topic(settings, settings.topic(ALERTS.name), len(alert_ids), timeout=120)
        unique = read_unique(settings, len(unique_ids))
        _status, stats = worker.get("/stats")
    finally:
        assert worker.stop() == 0, worker.log_tail()

    assert {a.alert_id for a in alerts} == alert_ids
    assert Counter(a.rule for a in alerts) == {
        "watchlist": 5,
        "cloned_plate": 1,
        "convoy": 1,
        "alarm_context": 1,
    }
    assert len(alerts) == len(alert_ids), "an alert was published twice"
    assert {e.event_id for e in unique} == unique_ids
    assert len(unique) == len(unique_ids), "a unique event was published twice"
    assert len(correlation_ids) == 1

    assert "--- Logging error ---" not in log.read_text(errors="replace")
    assert during < MAX_LOG_LINES_DURING_OUTAGE, f"{during} log lines in a {OUTAGE_SECONDS}s outage"
    condensed = stats["counters"]["streams_log_records_condensed_total"]
    assert condensed.get("streams.librdkafka", 0) > 0, condensed
