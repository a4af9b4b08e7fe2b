"""The broker dies (SIGKILL) in the middle of the stream and comes back: the worker keeps running,
every result comes out as without the outage, and the log says so in a few lines; the gateway
turns pushes away meanwhile and takes them again after.

The test has a broker of its own (the session's is shared by every test).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import ClientSession

from streams.demo_payloads import demo_payloads
from streams.gateway.producer import BROKER_CHECK_SECONDS
from streams.kafka_admin import ensure_topics
from streams.localkafka import LocalKafka, free_port, port_is_free
from streams.topics import raw_topic_name
from tests.conftest import isolated_settings
from tests.integration.correlate_flow import assert_each_once, prepared, produce, read_outputs
from tests.integration.gateway_server import serve_gateway
from tests.integration.kafka_reading import topic_values
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
    settings = isolated_settings(own_broker.bootstrap, tmp_path)
    scenario, unique_ids, alert_ids, correlation_ids = prepared(settings)
    cut = len(scenario.events) // 2
    produce(settings, scenario.events[:cut])

    log = tmp_path / "worker.log"
    worker = WorkerProcess(settings, log).start()
    try:
        worker.wait_for(
            lambda: (
                worker.get("/stats")[1]["counters"].get("streams_captures_in_total", {}).get("", 0)
                >= cut
            ),
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
        alerts, unique = read_outputs(settings, alert_ids, unique_ids)
        _status, stats = worker.get("/stats")
    finally:
        assert worker.stop() == 0, worker.log_tail()

    assert_each_once(alerts, unique, alert_ids, unique_ids)
    assert len(correlation_ids) == 1

    assert "--- Logging error ---" not in log.read_text(errors="replace")
    assert during < MAX_LOG_LINES_DURING_OUTAGE, f"{during} log lines in a {OUTAGE_SECONDS}s outage"
    condensed = stats["counters"]["streams_log_records_condensed_total"]
    assert condensed.get("streams.librdkafka", 0) > 0, condensed


def test_the_gateway_turns_pushes_away_during_an_outage_and_takes_them_again_after(
    own_broker: LocalKafka, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = isolated_settings(own_broker.bootstrap, tmp_path).model_copy(
        update={"kafka_timeout_seconds": 2.0}
    )
    ensure_topics(settings)
    bodies = [body for source, _device, body in demo_payloads(per_source=8) if source == "gat1400"]
    results: list[tuple[str, int, str | None]] = []
    waited: list[float] = []

    async def scenario(session: ClientSession, base: str) -> None:
        async def push(phase: str, body: bytes) -> None:
            started = time.monotonic()
            async with session.post(base + "/push/gat1400", data=body) as response:
                results.append((phase, response.status, response.headers.get("Retry-After")))
            waited.append(time.monotonic() - started)

        async def ready() -> int:
            async with session.get(base + "/readyz") as response:
                return response.status

        await push("before", bodies[0])
        await asyncio.to_thread(_kill, own_broker)
        for body in bodies[1:4]:
            await push("down", body)
        await asyncio.sleep(BROKER_CHECK_SECONDS)  # readiness asks the broker again
        results.append(("down", await ready(), None))
        await asyncio.to_thread(own_broker.up, 120)
        deadline = time.monotonic() + 60
        while await ready() != 200:
            assert time.monotonic() < deadline, "the gateway never became ready again"
            await asyncio.sleep(1)
        for body in bodies[4:]:
            await push("after", body)

    with caplog.at_level(logging.WARNING, logger="streams.gateway.server"):
        serve_gateway(settings, scenario)

    assert results[0] == ("before", 200, None)
    assert [(p, s, r) for p, s, r in results if p == "down"] == [("down", 503, "5")] * 3 + [
        ("down", 503, None)
    ]
    assert [s for p, s, _r in results if p == "after"] == [200] * (len(bodies) - 4)
    # The first push of the outage waited for its acknowledgement; the next were turned away
    # at once (the breaker), without being produced.
    assert waited[1] >= 2.0
    assert waited[2] < 1.0
    assert waited[3] < 1.0
    # Every payload answered 200 is on the raw topic (a payload turned away may follow later:
    # it stayed in the producer's queue, and the sender's retry is then a duplicate).
    stored = set(topic_values(settings, settings.topic(raw_topic_name("gat1400"))))
    assert {bodies[0], *bodies[4:]} <= stored
    # One line for the failed push, with the reason.
    failed = [r.getMessage() for r in caplog.records if "not delivered" in r.getMessage()]
    assert failed == ["a gat1400 payload was not delivered to Kafka: no acknowledgement within 2s"]
