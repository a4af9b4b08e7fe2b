"""Avro object containers of message bodies, as the sink hands them to the engine."""

from __future__ import annotations

import io
import json
from typing import Any

import fastavro
import pytest
from pydantic import BaseModel

from streams.codecs import avro
from streams.codecs.avro import MAGIC, MODELS, SCHEMA_DIR, default_store
from streams.codecs.compiled.encoding import long_bytes
from streams.warehouse.avro_rows import container, writer_schema_json

EXAMPLES = SCHEMA_DIR / "examples"
NAMES = sorted(p.stem for p in EXAMPLES.glob("*.json"))


def example(name: str) -> BaseModel:
    data = json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    model = next(m for m in MODELS.values() if m.model_fields["kind"].default == data["kind"])
    return model.model_validate(data)


def written(name: str) -> tuple[avro.SchemaVersion, bytes]:
    """The example's single-object message, written with the schema version it names."""
    record = example(name)
    version_number = int(name.rsplit(".v", 1)[1])
    store = default_store()
    [version] = [
        v for v in store.versions[avro.record_name(type(record))] if v.version == version_number
    ]
    body = io.BytesIO()
    fastavro.schemaless_writer(body, version.schema, record.model_dump())
    return version, MAGIC + version.fingerprint + body.getvalue()


def canonical(version: avro.SchemaVersion) -> Any:
    """The writer schema as the container carries it: the same fields and types, timestamps as
    the epoch milliseconds on the wire (the canonical form drops logical types), and the end
    marker field last."""
    return fastavro.parse_schema(json.loads(writer_schema_json(version)))


def read_body(version: avro.SchemaVersion, body: bytes, end: bytes) -> dict[str, Any]:
    record: dict[str, Any] = fastavro.schemaless_reader(
        io.BytesIO(body + end), canonical(version), None
    )
    return record


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, b"\x00"),
        (-1, b"\x01"),
        (1, b"\x02"),
        (63, b"\x7e"),
        (64, b"\x80\x01"),
        (-65, b"\x81\x01"),
    ],
)
def test_longs_are_zigzag_varints(value: int, encoded: bytes) -> None:
    assert long_bytes(value) == encoded


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**31, 2**62, -(2**40)])
def test_longs_read_back_by_fastavro(value: int) -> None:
    assert fastavro.schemaless_reader(io.BytesIO(long_bytes(value)), "long") == value


@pytest.mark.parametrize("name", NAMES)
def test_container_round_trips_through_fastavro(name: str) -> None:
    version, message = written(name)
    bodies = [message[10:]] * 3
    data = container(writer_schema_json(version), bodies, sync=b"S" * 16)

    reader = fastavro.reader(io.BytesIO(data))
    assert reader.metadata["avro.codec"] == "null"
    fields = [f["name"] for f in reader.writer_schema["fields"]]
    assert fields == [f["name"] for f in version.schema["fields"]] + ["_end"]
    records = list(reader)
    expected = read_body(version, message[10:], b"S" * 16)
    assert records == [expected] * 3
    assert expected["_end"] == b"S" * 16
    # The body's own fields, as the writer schema reads them.
    plain = fastavro.schemaless_reader(
        io.BytesIO(message[10:]), fastavro.parse_schema(json.loads(version_pcf(version))), None
    )
    assert {k: v for k, v in expected.items() if k != "_end"} == plain


def version_pcf(version: avro.SchemaVersion) -> str:
    return str(fastavro.schema.to_parsing_canonical_form(version.schema))


def test_one_block_each_body_followed_by_the_marker() -> None:
    version, message = written("face_capture.v2")
    body = message[10:]
    data = container(writer_schema_json(version), [body, body], sync=b"S" * 16)
    blocks = list(fastavro.block_reader(io.BytesIO(data)))
    assert [b.num_records for b in blocks] == [2]
    assert data.endswith(body + b"S" * 16 + body + b"S" * 16 + b"S" * 16)


def test_containers_get_a_random_marker() -> None:
    version, message = written("alarm.v2")
    schema_json = writer_schema_json(version)
    first, second = (container(schema_json, [message[10:]]) for _ in range(2))
    assert first[-16:] != second[-16:]
    assert [r["_end"] for r in fastavro.reader(io.BytesIO(first))] == [first[-16:]]


def test_bodies_of_every_size_and_none() -> None:
    version, _message = written("plate_capture.v2")
    schema_json = writer_schema_json(version)
    assert list(fastavro.reader(io.BytesIO(container(schema_json, [])))) == []
    records: list[dict[str, Any]] = []
    bodies = []
    for n in (0, 1, 63, 64, 200, 9000):  # length varints of one, two and more bytes
        record = example("plate_capture.v2").model_copy(update={"plate_raw": "x" * n})
        body = avro.encode(record)[10:]
        bodies.append(body)
        records.append(read_body(version, body, b"M" * 16))
    data = container(schema_json, bodies, sync=b"M" * 16)
    assert list(fastavro.reader(io.BytesIO(data))) == records


def test_the_header_carries_the_canonical_writer_schema() -> None:
    version, _message = written("alarm.v1")
    data = container(writer_schema_json(version), [])
    assert data.startswith(b"Obj\x01")
    meta = fastavro.reader(io.BytesIO(data)).metadata
    assert json.loads(meta["avro.schema"])["name"] == "streams.canonical.Alarm"
    assert "doc" not in meta["avro.schema"]  # the canonical form: no docs, no defaults
