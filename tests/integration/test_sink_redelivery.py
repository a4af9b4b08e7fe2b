"""A batch whose insert landed but whose commit never happened (the worker died in between) is
redelivered as it was cut, so its token absorbs it: no row is stored twice, and the materialized
views count nothing twice; also when its partitions go to two workers. Real broker, real
embedded warehouse."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import pytest

from streams import topics
from streams.agents.runner import StageRunner
from streams.agents.sink import WarehouseSinkStage
from streams.codecs.wire import WireFormat
from streams.kafka_admin import ensure_topics
from streams.publisher import Publisher
from streams.settings import Settings
from streams.warehouse.embedded import EmbeddedWarehouse
from streams.warehouse.landing import Stopped
from tests.integration.test_sink import (
    _alarm,
    _committed,
    _encoded,
    _plate,
    _produce,
    _wait,
)

pytestmark = pytest.mark.integration


class DiesAfterLanding:
    """The sink stage, but its worker dies once its first batch with records of every topic in
    ``across`` has landed (earlier batches land and are committed): every flush from then on
    fails, so nothing is committed after that batch."""

    def __init__(self, stage: WarehouseSinkStage, across: Sequence[str] = ()) -> None:
        self.stage = stage
        self.across = set(across)
        self.batch_topics: set[str] = set()
        self.landed = threading.Event()

    def process(self, messages: Sequence[Any]) -> None:
        self.batch_topics |= {m.topic() for m in messages}
        self.stage.process(messages)

    def flush(self, stopping: threading.Event) -> None:
        if self.landed.is_set():
            raise Stopped  # when the consumer closes: nothing is committed
        self.stage.flush(stopping)
        if not self.across <= self.batch_topics:
            self.batch_topics.clear()
            return
        self.landed.set()
        raise RuntimeError("the worker died before its commit")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stage, name)


class ReadsOnly:
    """The sink stage, reading only some of its topics: the range assignor then gives each
    worker a known part of a batch."""

    def __init__(self, stage: WarehouseSinkStage, topics: Sequence[str]) -> None:
        self.stage = stage
        self.topics = list(topics)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stage, name)


def _counts(warehouse: EmbeddedWarehouse) -> dict[str, int]:
    [row] = warehouse.query(
        "SELECT (SELECT count() FROM plate_captures) AS stored, "
        "(SELECT uniqExact(event_id) FROM plate_captures) AS events, "
        "(SELECT sum(events) FROM device_hourly) AS hourly, "
        "(SELECT sum(reads) FROM plate_days) AS days, "
        "(SELECT count() FROM alarms) AS alarms"
    )
    return {name: int(value) for name, value in row.items()}


def test_an_uncommitted_batch_comes_again_as_it_was_cut(
    settings: Settings, migrated_warehouse: EmbeddedWarehouse, caplog: pytest.LogCaptureFixture
) -> None:
    ensure_topics(settings)
    # count() must show every stored copy: no merge may fold them away meanwhile.
    migrated_warehouse.command("SYSTEM STOP MERGES plate_captures")
    _produce(settings, topics.UNIQUE_PLATES, _encoded([_plate(i) for i in range(30)]))

    dying = DiesAfterLanding(
        WarehouseSinkStage(settings, migrated_warehouse, Publisher(settings), WireFormat())
    )
    fatal: list[BaseException] = []
    first = StageRunner(settings, dying, fatal.append)
    first.start()
    assert dying.landed.wait(60)
    first.join(60)
    assert not first.is_alive()
    assert [str(e) for e in fatal] == ["the worker died before its commit"]
    landed = _counts(migrated_warehouse)
    assert 0 < landed["stored"] <= 30
    assert _committed(settings, topics.UNIQUE_PLATES) == 0

    # More records behind it: a batch cut anew would take them along under another token.
    _produce(settings, topics.UNIQUE_PLATES, _encoded([_plate(i) for i in range(30, 50)]))
    caplog.set_level(logging.INFO, logger="streams.agents.redelivery")
    stage = WarehouseSinkStage(settings, migrated_warehouse, Publisher(settings), WireFormat())
    again: list[BaseException] = []
    second = StageRunner(settings, stage, again.append)
    second.start()
    try:
        _wait(lambda: _committed(settings, topics.UNIQUE_PLATES) == 50, 60, "all committed")
    finally:
        second.stop()
        second.join(30)
    assert again == []
    # Each event stored once and counted once, although the first batch landed twice.
    assert _counts(migrated_warehouse) == {
        "stored": 50,
        "events": 50,
        "hourly": 50,
        "days": 50,
        "alarms": 0,
    }
    assert f"the unfinished batch of {landed['stored']} records gathered again" in caplog.text


def _alarms(first: int, count: int) -> list[bytes]:
    return _encoded(
        [_alarm().model_copy(update={"event_id": f"a{i}"}) for i in range(first, count)]
    )


def test_a_batch_split_between_two_workers_is_landed_whole_by_each(
    settings: Settings, migrated_warehouse: EmbeddedWarehouse, caplog: pytest.LogCaptureFixture
) -> None:
    """The dying worker's batch holds plates and alarms; after it, one worker reads the plates
    and another the alarms. Each gathers its part, reads the other's part apart, and lands the
    whole batch under its tokens: nothing is stored or counted twice, whoever lands first."""
    ensure_topics(settings)
    for table in ("plate_captures", "alarms"):
        migrated_warehouse.command(f"SYSTEM STOP MERGES {table}")
    plates, alarms = (
        settings.topic(topics.UNIQUE_PLATES.name),
        settings.topic(topics.UNIQUE_ALARMS.name),
    )
    _produce(settings, topics.UNIQUE_PLATES, _encoded([_plate(i) for i in range(30)]))
    _produce(settings, topics.UNIQUE_ALARMS, _alarms(0, 10))

    def sink() -> WarehouseSinkStage:
        return WarehouseSinkStage(settings, migrated_warehouse, Publisher(settings), WireFormat())

    dying = DiesAfterLanding(sink(), across=[plates, alarms])
    fatal: list[BaseException] = []
    first = StageRunner(settings, dying, fatal.append)
    first.start()
    assert dying.landed.wait(60)
    first.join(60)
    assert [str(e) for e in fatal] == ["the worker died before its commit"]
    landed = _counts(migrated_warehouse)
    assert landed["stored"] > 0
    assert landed["alarms"] > 0
    assert (
        _committed(settings, topics.UNIQUE_PLATES),
        _committed(settings, topics.UNIQUE_ALARMS),
    ) != (30, 10)

    # Records behind the batch on both topics: a part cut anew would take them along.
    _produce(settings, topics.UNIQUE_PLATES, _encoded([_plate(i) for i in range(30, 50)]))
    _produce(settings, topics.UNIQUE_ALARMS, _alarms(10, 15))
    caplog.set_level(logging.INFO, logger="streams.agents.redelivery")
    errors: list[BaseException] = []
    runners = [
        StageRunner(settings, ReadsOnly(sink(), [plates]), errors.append),  # type: ignore[arg-type]
        StageRunner(settings, ReadsOnly(sink(), [alarms]), errors.append),  # type: ignore[arg-type]
    ]
    for runner in runners:
        runner.start()
    try:
        _wait(
            lambda: (
                _committed(settings, topics.UNIQUE_PLATES) == 50
                and _committed(settings, topics.UNIQUE_ALARMS) == 15
            ),
            90,
            "all committed",
        )
    finally:
        for runner in runners:
            runner.stop()
        for runner in runners:
            runner.join(30)
    assert errors == []
    # Each event stored once and counted once, although the batch landed three times.
    assert _counts(migrated_warehouse) == {
        "stored": 50,
        "events": 50,
        "hourly": 65,
        "days": 50,
        "alarms": 15,
    }
    # Both workers read the other's part apart.
    assert f"of them read from {plates}[" in caplog.text
    assert f"of them read from {alarms}[" in caplog.text
