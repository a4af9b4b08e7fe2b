"""A schema registry that stops answering is not bad data: the worker stops and says so, and
nothing is dead-lettered, skipped or committed in its place (real broker, real registry)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import Producer

from streams import topics
from streams.codecs.confluent import frame_header
from streams.kafka_admin import ensure_topics
from streams.localkafka import free_port
from streams.localregistry import LocalRegistry
from streams.settings import Settings
from streams.topics import raw_topic_name
from tests.integration.kafka_reading import committed_lag, topic_values
from tests.integration.worker_process import WorkerProcess, streams_cli

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "vendors" / "fixtures" / "gat1400"


def _push(settings: Settings, body: bytes, topic: str = raw_topic_name("gat1400")) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap_servers, "acks": "all"})
    producer.produce(settings.topic(topic), key=b"33010200001310000001", value=body)
    assert producer.flush(15) == 0


def _outage(
    settings: Settings,
    tmp_path: Path,
    stages: str,
    before: Callable[[Settings, WorkerProcess], None],
    after: Callable[[Settings], None],
) -> tuple[Settings, str]:
    """A worker of ``stages`` on a registry of its own: ``before`` runs while the registry
    answers, ``after`` once it is stopped; the worker must then exit with an error naming the
    registry. Returns its settings and its log."""
    registry = LocalRegistry(tmp_path / "registry", port=free_port())
    registry.up()
    try:
        framed = settings.model_copy(
            update={"schema_registry_url": registry.url, "worker_stages": stages}
        )
        ensure_topics(framed)
        worker = WorkerProcess(framed, tmp_path / "worker.log").start()
        try:
            before(framed, worker)
            registry.down()
            after(framed)
            assert worker.process is not None
            worker.process.wait(60)
        finally:
            code = worker.stop()
    finally:
        registry.down()
    log = worker.log.read_text(errors="replace")
    assert code != 0
    assert f"schema registry {registry.url} unreachable" in log
    return framed, log


def _letters(settings: Settings) -> int:
    return len(topic_values(settings, settings.topic(topics.DEAD_LETTERS.name)))


def test_a_registry_outage_stops_the_worker_instead_of_dead_lettering(
    settings: Settings, tmp_path: Path
) -> None:
    def before(framed: Settings, worker: WorkerProcess) -> None:
        # While the registry answers: a bad payload is dead-lettered, plates pass
        _push(framed, b"{not json")
        _push(framed, (FIXTURES / "motor_vehicles.json").read_bytes())
        plates = framed.topic(topics.PLATE_CAPTURES.name)
        worker.wait_for(
            lambda: _letters(framed) == 1 and len(topic_values(framed, plates)) == 2,
            60,
            "the dead letter and the plates written",
        )

    def after(framed: Settings) -> None:
        # The first face needs its subject registered: the registry is gone
        _push(framed, (FIXTURES / "faces.json").read_bytes())

    framed, _log = _outage(settings, tmp_path, "normalize", before, after)
    assert _letters(framed) == 1  # the face payload was not taken for bad data
    assert topic_values(framed, framed.topic(topics.FACE_CAPTURES.name)) == []
    raw = [framed.topic(raw_topic_name("gat1400"))]
    assert committed_lag(framed, "normalize", raw) == 1  # read again once the registry is back


@pytest.mark.parametrize("spec", [topics.PLATE_CAPTURES, topics.WATCHLIST], ids=lambda t: t.name)
def test_a_registry_outage_stops_the_dedup_stage_instead_of_dropping_records(
    settings: Settings, tmp_path: Path, spec: topics.TopicSpec
) -> None:
    """A capture the stage cannot read would be dead-lettered; a watchlist entry, skipped (and
    its alerts missed): neither when it is the registry that cannot be asked."""

    def before(framed: Settings, worker: WorkerProcess) -> None:
        # While the registry answers, a schema id it does not know is bad data
        _push(framed, frame_header(2_000_000_001) + b"\x00", topics.PLATE_CAPTURES.name)
        worker.wait_for(lambda: _letters(framed) == 1, 60, "the dead letter written")

    def after(framed: Settings) -> None:
        # Once it is gone, an id the worker has not looked up cannot be told bad or good
        _push(framed, frame_header(2_000_000_002) + b"\x00", spec.name)

    framed, _log = _outage(settings, tmp_path, "dedup", before, after)
    assert _letters(framed) == 1
    if spec is topics.PLATE_CAPTURES:
        assert committed_lag(framed, "dedup", [framed.topic(spec.name)]) == 1


def test_the_cli_reports_an_unreachable_registry_in_one_line(settings: Settings) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    framed = settings.model_copy(update={"schema_registry_url": closed})
    ensure_topics(framed)
    _push(framed, frame_header(7) + b"\x00", topics.ALERTS.name)

    done = streams_cli(framed, "alerts", "tail", "--from-beginning", "--limit", "1")

    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == done.stderr.strip().splitlines()[-1]  # one line, no traceback
    assert done.stderr.startswith(f"streams: error: schema registry {closed} unreachable")
