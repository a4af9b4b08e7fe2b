"""An event decoded from its newest-schema bytes keeps them: holding it in state (pickle) or
passing it on (encode) gives those bytes without encoding again, and nothing else about the
event changes: equality, serialisation, and copies, which make another event."""

from __future__ import annotations

import pickle

import pytest

from streams.canonical.models import GeoPoint, _wire_slot, construct, wire_bytes
from streams.codecs import avro
from tests.unit.correlate_builders import plate_capture


def test_a_decoded_event_keeps_its_bytes_and_encodes_to_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = plate_capture("e1", 0.0, "浙A12345")
    data = avro.encode(original)
    decoded = avro.decode(data)
    assert wire_bytes(original) is None  # built, not decoded
    assert wire_bytes(decoded) == data

    def never(_event: object) -> bytes:
        raise AssertionError("encoded again")

    monkeypatch.setitem(avro.default_store()._writers, type(decoded), never)
    assert avro.encode(decoded) is data
    assert pickle.loads(pickle.dumps(decoded)) == original  # noqa: S301 (our own bytes)


def test_the_bytes_change_nothing_else_and_do_not_follow_a_copy() -> None:
    original = plate_capture("e1", 0.0, "浙A12345")
    decoded = avro.decode(avro.encode(original))
    assert decoded == original
    assert decoded.model_dump() == original.model_dump()
    assert decoded.model_dump_json() == original.model_dump_json()
    changed = decoded.model_copy(update={"plate_number": "浙A54321"})
    assert wire_bytes(changed) is None
    assert avro.decode(avro.encode(changed)) == changed
    assert pickle.loads(pickle.dumps(changed)).plate_number == "浙A54321"  # noqa: S301


def test_bytes_of_another_schema_store_are_not_kept() -> None:
    store = avro.SchemaStore()
    decoded = avro.decode(avro.encode(plate_capture("e1", 0.0, "浙A12345")), store)
    assert wire_bytes(decoded) is None


def test_copies_and_fast_built_events_say_they_have_no_bytes_without_a_failed_lookup() -> None:
    # A failed slot lookup raises and catches an exception: several microseconds per event
    # passed on, on the worker's hot path.
    decoded = avro.decode(avro.encode(plate_capture("e1", 0.0, "浙A12345")))
    copied = decoded.model_copy(update={"absorbed_event_ids": ["e2"]})
    built = construct(GeoPoint, {"lat": 1.0, "lon": 2.0})
    event = construct(type(decoded), dict(decoded.__dict__))
    assert _wire_slot.__get__(copied) is None  # raises AttributeError when the slot is unset
    assert _wire_slot.__get__(event) is None
    assert wire_bytes(copied) is None
    assert wire_bytes(event) is None
    assert wire_bytes(built) is None  # not an event
    assert wire_bytes(decoded) is not None
