"""An event decoded from its newest-schema bytes keeps them: holding it in state (pickle) or
passing it on (encode) gives those bytes without encoding again, and nothing else about the
event changes: equality, serialisation, and copies, which make another event."""

from __future__ import annotations

import pickle

import pytest

from streams.canonical.models import wire_bytes
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
