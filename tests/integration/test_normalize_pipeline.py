"""Raw payloads through the real broker and the normalize agent onto the canonical topics."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka import Producer

from streams.canonical import DeadLetter, PlateCapture
from streams.demo_payloads import demo_payloads
from streams.kafka_admin import ensure_topics
from streams.settings import Settings
from streams.topics import DEAD_LETTERS, PLATE_CAPTURES, raw_topic_name
from tests.integration.kafka_reading import read_topic
from tests.integration.worker_process import WorkerProcess

pytestmark = pytest.mark.integration


def test_good_payloads_become_events_and_bad_ones_dead_letters(
    settings: Settings, tmp_path: Path
) -> None:
    ensure_topics(settings)
    good = [(s, d, b) for s, d, b in demo_payloads(per_source=4) if s == "gat1400"]
    bad = [b"<html>not json</html>", b'{"MotorVehicleListObject": 7}', b"\xff\xfe\x00"]
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap_servers, "acks": "all"})
    topic = settings.topic(raw_topic_name("gat1400"))
    for _source, device, body in good:
        producer.produce(topic, key=device.encode(), value=body)
    for body in bad:
        producer.produce(
            topic,
            key=b"33010200001310000009",
            value=body,
            headers=[("content-type", b"application/json")],
        )
    assert producer.flush(15) == 0

    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    try:
        plates = read_topic(settings, settings.topic(PLATE_CAPTURES.name), len(good))
        letters = read_topic(settings, settings.topic(DEAD_LETTERS.name), len(bad))
        _status, stats = worker.get("/stats")
    finally:
        assert worker.stop() == 0, worker.log_tail()

    assert len(plates) == len(good)
    assert all(isinstance(p, PlateCapture) for p in plates)
    assert {p.plate_number for p in plates} == {"浙A12345", "京B6D7E8", "粤C0F11G", "沪AD12345"}
    assert len({p.event_id for p in plates}) == len(good)

    assert len(letters) == len(bad)
    assert all(isinstance(d, DeadLetter) for d in letters)
    assert sorted(d.payload for d in letters) == sorted(bad)
    assert all(d.stage == "normalize" and d.source == "gat1400" for d in letters)
    assert all(d.topic == topic and d.offset is not None for d in letters)
    assert all(d.reason.startswith("gat1400: ") for d in letters)
    assert all(
        ("content-type", b"application/json") in [(h.key, h.value) for h in d.headers]
        for d in letters
    )

    counters = stats["counters"]
    assert counters["streams_raw_events_in_total"]["gat1400"] == len(good) + len(bad)
    # Labelled by source and kind, joined by "/" in /stats.
    assert counters["streams_canonical_events_out_total"] == {"gat1400/plate": len(good)}
    assert counters["streams_dead_letters_total"]["gat1400"] == len(bad)


def test_dead_letters_are_listed_and_replayed_to_their_raw_topic(
    settings: Settings, tmp_path: Path
) -> None:
    import subprocess
    import sys

    from confluent_kafka import Consumer

    from tests.conftest import settings_env

    ensure_topics(settings)
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap_servers, "acks": "all"})
    topic = settings.topic(raw_topic_name("gat1400"))
    producer.produce(topic, key=b"dev-1", value=b"<broken/>", headers=[("path", b"/VIID/Faces")])
    assert producer.flush(15) == 0
    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    try:
        assert len(read_topic(settings, settings.topic(DEAD_LETTERS.name), 1)) == 1
    finally:
        assert worker.stop() == 0

    def streams(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "streams", *args],
            capture_output=True,
            text=True,
            env=settings_env(settings),
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    listing = streams("deadletters", "list")
    assert "gat1400: body is not JSON" in listing
    assert "1 dead letters shown" in listing
    assert "1 dead letters shown" in streams("deadletters", "list", "--stage", "normalize")
    assert "0 dead letters shown" in streams("deadletters", "list", "--stage", "warehouse_sink")
    assert '"replayed":{}' in streams(
        "deadletters", "replay", "--stage", "raw_archive", "--dry-run"
    )
    assert '"replayed":{"gat1400":1}' in streams("deadletters", "replay", "--dry-run")
    assert '"replayed":{"gat1400":1}' in streams("deadletters", "replay")
    assert '"replayed":{}' in streams("deadletters", "replay")  # continues after the last one

    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": "replay-check",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    seen = []
    try:
        for _ in range(40):
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                seen.append(message)
            if len(seen) == 2:
                break
    finally:
        consumer.close()
    replay = seen[-1]
    assert replay.value() == b"<broken/>"
    assert replay.key() == b"dev-1"
    headers = dict(replay.headers())
    assert headers["path"] == b"/VIID/Faces"
    assert headers["x-replay-of"].startswith(topic.encode() + b":")


def test_a_broken_feed_stops_the_worker_with_a_clear_message(
    settings: Settings, tmp_path: Path
) -> None:
    strict = settings.model_copy(update={"dead_letter_max_ratio": 0.5, "dead_letter_window": 10})
    ensure_topics(strict)
    producer = Producer({"bootstrap.servers": strict.kafka_bootstrap_servers, "acks": "all"})
    topic = strict.topic(raw_topic_name("gat1400"))
    for i in range(30):
        producer.produce(topic, key=b"dev", value=b"<html>%d</html>" % i)
    assert producer.flush(15) == 0
    worker = WorkerProcess(strict, tmp_path / "worker.log").launch()
    assert worker.process is not None
    try:
        code = worker.process.wait(120)
    finally:
        worker.stop()
    log = (tmp_path / "worker.log").read_text()
    assert code != 0
    assert "feed gat1400:" in log
    assert "dead-lettered" in log
    assert "STREAMS_DEAD_LETTER_MAX_RATIO" in log
