"""The dedup stage reads its inputs aligned in event time through the real broker: an input it
read too far ahead of the slowest input of its partition is paused until that one catches up,
and nothing is skipped or read twice on the way."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest

from streams.agents.correlate import DedupStage
from streams.agents.input_time import READ_AHEAD
from streams.agents.runner import StageRunner
from streams.canonical import FaceCapture, PlateCapture
from streams.codecs import avro
from streams.codecs.wire import WireFormat
from streams.correlate.pipeline import Outputs
from streams.kafka_admin import ensure_topics
from streams.publisher import Publisher
from streams.settings import Settings
from streams.topics import FACE_CAPTURES, PLATE_CAPTURES
from tests.unit.correlate_builders import T0, face_capture, plate_capture

pytestmark = pytest.mark.integration

SECONDS = 300
BATCH = 100
# Spread over many devices, as in a city: few faces and plates at one device pair up.
DEVICES = [f"dev-{n}" for n in range(200)]
PLATES_PER_SECOND = 80
FACES_PER_SECOND = 20


class RecordingDedup(DedupStage):
    """The dedup stage, noting what it was handed, in order."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, Publisher(settings), WireFormat())
        self.read: list[tuple[str, int, str, datetime]] = []

    def take(self, message: Any, record: Any, now: datetime, out: Outputs) -> None:
        noted = (message.topic(), message.partition(), record.event_id, record.received_at)
        self.read.append(noted)
        super().take(message, record, now, out)


def _captures() -> list[PlateCapture | FaceCapture]:
    plates = [
        plate_capture(f"p{i}", i / PLATES_PER_SECOND, f"沪A{i:05d}", device=DEVICES[i % 200])
        for i in range(SECONDS * PLATES_PER_SECOND)
    ]
    faces = [
        face_capture(f"f{i}", i / FACES_PER_SECOND, f"t{i}", device=DEVICES[i % 200])
        for i in range(SECONDS * FACES_PER_SECOND)
    ]
    return plates + faces  # all plates first: a naive reader would take them first too


def _largest_lead(
    read: list[tuple[str, int, str, datetime]], totals: Counter[tuple[str, int]]
) -> timedelta:
    """How far, at most, a record was read ahead of the newest record read so far of another
    input of its partition that still had records to deliver."""
    newest: dict[tuple[str, int], datetime] = {}
    done: Counter[tuple[str, int]] = Counter()
    lead = timedelta(0)
    for topic, partition, _event_id, received_at in read:
        for other in [k for k in totals if k[1] == partition and k[0] != topic]:
            if done[other] < totals[other]:
                lead = max(lead, received_at - newest.get(other, T0))
        key = (topic, partition)
        done[key] += 1
        newest[key] = max(newest.get(key, received_at), received_at)
    return lead


def _backlog(settings: Settings) -> tuple[Settings, list[PlateCapture | FaceCapture]]:
    """Settings with small batches, and the captures produced before any stage reads them."""
    paced = settings.model_copy(update={"stage_batch_size": BATCH})
    ensure_topics(paced)
    captures = _captures()
    producer = Publisher(paced)
    topic = {"plate": paced.topic(PLATE_CAPTURES.name), "face": paced.topic(FACE_CAPTURES.name)}
    for capture in captures:
        producer.produce(topic[capture.kind], avro.encode(capture), capture.device_id.encode())
    producer.flush_sync(60)
    return paced, captures


def test_inputs_are_read_aligned_in_event_time_and_each_record_once(settings: Settings) -> None:
    paced, captures = _backlog(settings)

    stage = RecordingDedup(paced)
    fatal: list[BaseException] = []
    runner = StageRunner(paced, stage, fatal.append)
    runner.start()
    try:
        deadline = time.monotonic() + 120
        while len(stage.read) < len(captures) and time.monotonic() < deadline and not fatal:
            time.sleep(0.1)
        time.sleep(1.0)  # anything read twice would come now
    finally:
        runner.stop()
        runner.join(30)
    assert fatal == []

    ids = Counter(event_id for _t, _p, event_id, _r in stage.read)
    assert set(ids) == {c.event_id for c in captures}  # nothing skipped
    assert max(ids.values()) == 1  # nothing read twice across pauses and resumptions
    totals = Counter((t, p) for t, p, _e, _r in stage.read)
    assert len({p for _t, p in totals}) == paced.topic_partitions  # both partitions in play
    faces = paced.topic(FACE_CAPTURES.name)
    # An input is paused after the batch that took it past the limit: it may overshoot by the
    # span of a batch of its sparsest input (faces, about 10 a second per partition).
    sparsest = min(count for (t, _p), count in totals.items() if t == faces) / SECONDS
    assert _largest_lead(stage.read, totals) <= READ_AHEAD + timedelta(seconds=BATCH / sparsest)


class NotingRunner(StageRunner):
    """A stage runner noting how many paused inputs a rebalance took away from it."""

    revoked_while_held = 0

    def _revoked(self, consumer: Any, partitions: list[Any]) -> None:
        taken = {(tp.topic, tp.partition) for tp in partitions}
        self.revoked_while_held += len(self.held & taken)
        super()._revoked(consumer, partitions)


def test_an_input_paused_when_a_rebalance_takes_it_is_read_after(settings: Settings) -> None:
    """A rebalance while inputs are paused: whoever is assigned them next reads them (a
    partition left paused would never be read again)."""
    paced, captures = _backlog(settings)

    first, second = RecordingDedup(paced), RecordingDedup(paced)
    fatal: list[BaseException] = []
    runners = [NotingRunner(paced, first, fatal.append)]
    runners[0].start()
    try:
        deadline = time.monotonic() + 120
        while not (runners[0].held and len(first.read) > 2_000) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert runners[0].held  # inputs are paused now: a second worker joins
        runners.append(NotingRunner(paced, second, fatal.append))
        runners[1].start()
        wanted = {c.event_id for c in captures}
        while time.monotonic() < deadline and not fatal:
            read = {e for stage in (first, second) for _t, _p, e, _r in stage.read}
            if read >= wanted:
                break
            time.sleep(0.1)
    finally:
        for runner in runners:
            runner.stop()
        for runner in runners:
            runner.join(30)
    assert fatal == []
    assert runners[0].revoked_while_held > 0  # the rebalance took paused inputs
    assert second.read  # the second worker was given partitions
    read = {e for stage in (first, second) for _t, _p, e, _r in stage.read}
    assert read == {c.event_id for c in captures}
