"""What the tests of the deduplication and correlation rules share: canonical events with the
required fields filled in, and the change-log round trip of the worker (persist the changed keys
of every table after a batch, restore them into a fresh rule after a restart or rebalance)."""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from random import Random
from typing import Any, TypeVar

from streams.canonical.models import (
    Alarm,
    FaceCapture,
    GeoPoint,
    ImageKind,
    ImageRef,
    PlateCapture,
    TimeProvenance,
)
from streams.correlate.config import RuleConfig
from streams.correlate.records import Alert, Correlation
from streams.correlate.state import Stateful

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)  # the processing time the rules are given
CONFIG = RuleConfig()
# How far out of order unique events reach the rules: lateness and the longer dedup window.
SLACK = CONFIG.lateness + max(CONFIG.plate_window, CONFIG.face_window)
PLATE = "京A12345"
CAMERA = "hikvision-isapi"

RuleT = TypeVar("RuleT", bound=Stateful)
ItemT = TypeVar("ItemT")
OutT = TypeVar("OutT")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _event(
    event_id: str,
    seconds: float,
    device: str,
    position: GeoPoint | None,
    image: ImageKind | None,
    delay: float,
) -> dict[str, Any]:
    """The fields every canonical event needs: captured ``seconds`` after T0, received
    ``delay`` seconds later, with one image of ``image`` kind when given."""
    return {
        "event_id": event_id,
        "device_id": device,
        "captured_at": at(seconds),
        "received_at": at(seconds + delay),
        "time_source": TimeProvenance.EPOCH,
        "position": position,
        "images": [] if image is None else [ImageRef(kind=image, url=f"http://img/{event_id}.jpg")],
    }


def plate_capture(
    event_id: str,
    seconds: float,
    number: str | None = PLATE,
    *,
    device: str = "dev-1",
    position: GeoPoint | None = None,
    image: ImageKind | None = None,
    source: str = CAMERA,
    delay: float = 0.0,
    **fields: Any,
) -> PlateCapture:
    """A plate read (``number`` None: unreadable); ``fields``: any other field of the model."""
    return PlateCapture(
        **_event(event_id, seconds, device, position, image, delay),
        source=source,
        plate_number=number,
        **fields,
    )


def face_capture(
    event_id: str,
    seconds: float,
    track: str | None = None,
    *,
    device: str = "dev-1",
    position: GeoPoint | None = None,
    image: ImageKind | None = None,
    source: str = CAMERA,
    delay: float = 0.0,
    **fields: Any,
) -> FaceCapture:
    """A face capture of face track ``track``; ``fields``: any other field of the model."""
    return FaceCapture(
        **_event(event_id, seconds, device, position, image, delay),
        source=source,
        track_id=track,
        **fields,
    )


def alarm_event(
    event_id: str,
    seconds: float,
    *,
    device: str = "dev-1",
    position: GeoPoint | None = None,
    image: ImageKind | None = None,
    vendor_event_type: str = "fielddetection",
    source: str = CAMERA,
    delay: float = 0.0,
    **fields: Any,
) -> Alarm:
    """An alarm; ``fields``: any other field of the model (type, state, channel, rule...)."""
    return Alarm(
        **_event(event_id, seconds, device, position, image, delay),
        source=source,
        vendor_event_type=vendor_event_type,
        **fields,
    )


def same_in_any_order(
    run: Callable[[list[ItemT]], Sequence[Alert | Correlation]],
    items: list[ItemT],
    random: Random,
) -> dict[str, Alert | Correlation]:
    """What ``run`` makes of the items in their order, by alert or correlation id, once checked
    that it makes the same of them in a shuffled order."""
    shuffled = list(items)
    random.shuffle(shuffled)
    forward = {_output_id(output): output for output in run(items)}
    assert {_output_id(output): output for output in run(shuffled)} == forward
    return forward


def _output_id(output: Alert | Correlation) -> str:
    return output.alert_id if isinstance(output, Alert) else output.correlation_id


# ------------------------------------------------------------------------------------------
# the change log


class ChangeLog:
    """What the worker persists: after each batch, the changed keys of every table (values
    pickled), compacted to the last record of each key."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], bytes | None] = {}

    def write(self, rule: Stateful) -> None:
        for name, table in rule.tables().items():
            for key, value, present in table.take_changes():
                self.records[name, key] = pickle.dumps(value) if present else None

    def restore(self, fresh: RuleT) -> RuleT:
        """``fresh`` (a new rule) with every record applied, as after a restart."""
        tables = fresh.tables()
        for (name, key), payload in self.records.items():
            value = None if payload is None else pickle.loads(payload)  # noqa: S301
            tables[name].restore(key, value)
        return fresh


def copy_tables(source: Stateful, fresh: RuleT) -> RuleT:
    """``fresh`` with every table of ``source`` copied into it through ``restore`` (values
    pickled)."""
    targets = fresh.tables()
    for name, table in source.tables().items():
        for key, value in table.items():
            targets[name].restore(key, pickle.loads(pickle.dumps(value)))  # noqa: S301
    return fresh


def tables_of(rule: Stateful) -> dict[str, dict[str, Any]]:
    """The content of every table of a rule."""
    return {name: dict(table) for name, table in rule.tables().items()}


def resume_from_change_log(
    make: Callable[[], RuleT],
    step: Callable[[RuleT, ItemT], list[OutT]],
    stream: Sequence[ItemT],
    split: int,
    finish: Callable[[RuleT], list[OutT]] | None = None,
) -> list[OutT]:
    """A rule made by ``make`` takes ``stream[:split]`` one ``step`` at a time, its change log
    written after each; a fresh rule restored from that log must hold the same tables. Both then
    take the rest of the stream (and ``finish``, the end of input): after each step they must
    have produced the same and hold the same tables. Returns what they produced after the split.
    """
    original = make()
    log = ChangeLog()
    for item in stream[:split]:
        step(original, item)
        log.write(original)
    rebuilt = log.restore(make())
    assert tables_of(rebuilt) == tables_of(original)
    produced: list[OutT] = []
    for item in stream[split:]:
        expected = step(original, item)
        assert step(rebuilt, item) == expected
        produced += expected
        assert tables_of(rebuilt) == tables_of(original)
    if finish is not None:
        expected = finish(original)
        assert finish(rebuilt) == expected
        produced += expected
    return produced
