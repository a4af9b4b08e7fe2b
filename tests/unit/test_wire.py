from __future__ import annotations

from pathlib import Path

import pytest

from streams.canonical import PlateCapture
from streams.codecs.avro import AvroDecodeError
from streams.codecs.wire import WireFormat, wire_format
from streams.settings import Settings

EXAMPLE = Path(__file__).parents[2] / "schemas" / "avro" / "examples" / "plate_capture.v1.json"


def test_default_wire_format_is_single_object_encoding() -> None:
    wire = wire_format(Settings())
    event = PlateCapture.model_validate_json(EXAMPLE.read_text(encoding="utf-8"))
    data = wire.encode(event, "captures.plate")
    assert data[:2] == b"\xc3\x01"
    assert wire.decode(data) == event


def test_confluent_framed_bytes_need_a_registry() -> None:
    with pytest.raises(AvroDecodeError, match="STREAMS_SCHEMA_REGISTRY_URL is not set"):
        WireFormat().decode(b"\x00\x00\x00\x00\x01rest")
