"""The normalize stage's bookkeeping, on in-memory messages (the broker path is tested in
tests/integration)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from streams.agents import normalize as stage_module
from streams.agents.normalize import NormalizeStage
from streams.canonical import DeadLetter, PlateCapture
from streams.canonical.models import construct
from streams.codecs.avro import decode
from streams.settings import Settings
from streams.vendors.base import Context, Normalized


class Message:
    def __init__(self, topic: str, value: bytes, offset: int = 0) -> None:
        self._topic, self._value, self._offset = topic, value, offset

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes:
        return b"33010200001310000001"

    def value(self) -> bytes:
        return self._value

    def headers(self) -> list[tuple[str, bytes]]:
        return [("content-type", b"application/json")]

    def timestamp(self) -> tuple[int, int]:
        return (1, 1_772_325_030_000)


class RecordingPublisher:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes | None]] = []

    def produce(
        self, topic: str, value: bytes, key: bytes | None = None, headers: Any = None
    ) -> None:
        self.sent.append((topic, value, key))

    def flush_sync(self, timeout: float = 30.0) -> None:
        return None


def _stage(publisher: RecordingPublisher) -> NormalizeStage:
    return NormalizeStage(Settings(), publisher, Context())  # type: ignore[arg-type]


def test_an_event_the_wire_format_cannot_carry_becomes_a_dead_letter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    at = datetime(2026, 3, 1, tzinfo=UTC)
    fine = construct(
        PlateCapture,
        {
            "event_id": "a",
            "source": "gat1400",
            "device_id": "d",
            "captured_at": at,
            "received_at": at,
            "time_source": "device_zone",
            "lane": 2,
        },
    )
    huge = construct(PlateCapture, {**fine.__dict__, "event_id": "b", "lane": 2**31})
    monkeypatch.setattr(stage_module, "normalize", lambda raw, ctx: Normalized(events=[fine, huge]))
    publisher = RecordingPublisher()
    stage = _stage(publisher)
    stage.process([Message("raw.gat1400", b"{}", offset=7)])
    topics = [topic for topic, _value, _key in publisher.sent]
    assert topics == ["captures.plate", "deadletter"]
    letter = decode(publisher.sent[1][1])
    assert isinstance(letter, DeadLetter)
    assert "event b cannot be encoded" in letter.reason
    assert letter.payload == b"{}"
    assert (letter.topic, letter.offset) == ("raw.gat1400", 7)


def test_a_feed_that_breaks_stops_after_its_batch_is_committed() -> None:
    publisher = RecordingPublisher()
    stage = NormalizeStage(Settings(dead_letter_window=10), publisher, Context())  # type: ignore[arg-type]
    stage.process([Message("raw.gat1400", b"<html>", offset=i) for i in range(10)])
    assert sum(1 for topic, _v, _k in publisher.sent if topic == "deadletter") == 10
    stage.flush(threading.Event())
    with pytest.raises(stage_module.FeedBroken, match="feed gat1400: 10 of the last 10"):
        stage.after_commit()
