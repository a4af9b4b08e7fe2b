"""A batch whose insert landed but whose commit never happened (the worker died in between) is
redelivered as it was cut, so its token absorbs it: no row is stored twice, and the materialized
views count nothing twice. Real broker, real embedded warehouse."""

from __future__ import annotations

import logging
import threading
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
from tests.integration.test_sink import _committed, _encoded, _plate, _produce, _wait

pytestmark = pytest.mark.integration


class DiesAfterLanding:
    """The sink stage, but its worker dies once its first batch has landed: every flush from
    then on fails, so nothing is committed after that batch."""

    def __init__(self, stage: WarehouseSinkStage) -> None:
        self.stage = stage
        self.landed = threading.Event()

    def flush(self, stopping: threading.Event) -> None:
        if self.landed.is_set():
            raise Stopped  # when the consumer closes: nothing is committed
        self.stage.flush(stopping)
        self.landed.set()
        raise RuntimeError("the worker died before its commit")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stage, name)


def _counts(warehouse: EmbeddedWarehouse) -> dict[str, int]:
    [row] = warehouse.query(
        "SELECT (SELECT count() FROM plate_captures) AS stored, "
        "(SELECT uniqExact(event_id) FROM plate_captures) AS events, "
        "(SELECT sum(events) FROM device_hourly) AS hourly, "
        "(SELECT sum(reads) FROM plate_days) AS days"
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
    first = StageRunner(settings, dying, fatal.append)  # type: ignore[arg-type]
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
    assert _counts(migrated_warehouse) == {"stored": 50, "events": 50, "hourly": 50, "days": 50}
    assert f"the unfinished batch of {landed['stored']} records gathered again" in caplog.text
