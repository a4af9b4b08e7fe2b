"""Assertions every adapter test uses."""

from __future__ import annotations

from typing import Any

from streams.codecs.avro import decode, encode


def assert_valid(events: list[Any]) -> None:
    """Adapters build events without validation; prove each one is a valid canonical event
    that survives the wire format unchanged."""
    for event in events:
        assert type(event).model_validate(event.model_dump()) == event
        assert event.captured_at.tzinfo is not None
        assert event.captured_at.microsecond % 1000 == 0
        assert decode(encode(event)) == event
