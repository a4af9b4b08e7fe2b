"""Confluent Schema Registry framing: wire bytes, registration and look-ups against a real
registry (``schema_registry_url`` in conftest.py), and the framing errors."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastavro
import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from fastavro.schema import fingerprint, to_parsing_canonical_form
from pydantic import BaseModel

from streams.canonical import Alarm, PlateCapture
from streams.codecs import avro
from streams.codecs.avro import MODELS, SCHEMA_DIR, AvroDecodeError, default_store
from streams.codecs.confluent import (
    ConfluentCodec,
    ConfluentCodecError,
    ConfluentDecodeError,
    RegistryError,
    frame_header,
    schema_id_of,
    schema_json,
    subject_for,
)
from tests.conftest import free_port

EXAMPLES = sorted((SCHEMA_DIR / "examples").glob("*.json"))
STORE = default_store()


def example(path: Path) -> BaseModel:
    """The model of an example file ``<record>.v<N>.json``."""
    for versions in STORE.versions.values():
        for version in versions:
            if f"{version.file}.v{version.version}" == path.stem:
                return MODELS[version.name].model_validate_json(path.read_text(encoding="utf-8"))
    raise AssertionError(f"no schema version for {path.name}")


def example_of(model: type[BaseModel]) -> BaseModel:
    for path in EXAMPLES:
        event = example(path)
        if type(event) is model:
            return event
    raise AssertionError(f"no example of {model.__name__}")


def topic() -> str:
    return f"confluent-test.{uuid.uuid4().hex[:12]}"


def counting(monkeypatch: pytest.MonkeyPatch, client: SchemaRegistryClient, name: str) -> list[Any]:
    """Record the calls of ``client.<name>`` (still made)."""
    calls: list[Any] = []
    method: Callable[..., Any] = getattr(client, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return method(*args, **kwargs)

    monkeypatch.setattr(client, name, spy)
    return calls


def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens there


# -- framing, no registry needed -------------------------------------------------------------

BAD_FRAMES = {
    "empty": b"",
    "magic only": b"\x00",
    "truncated header": b"\x00\x00\x00\x01",
    "wrong magic": b"\x01\x00\x00\x00\x01\x02body",
    "single-object encoding": avro.encode(example(EXAMPLES[0])),
}


@pytest.mark.parametrize("data", BAD_FRAMES.values(), ids=BAD_FRAMES.keys())
def test_bad_framing_raises_the_codec_error(data: bytes) -> None:
    with pytest.raises(ConfluentDecodeError) as raised:
        schema_id_of(data)
    assert "\n" not in str(raised.value)
    # decode refuses the bytes before asking the registry anything (nothing listens here)
    codec = ConfluentCodec(closed_port_url(), max_retries=0)
    with pytest.raises(ConfluentDecodeError) as raised:
        codec.decode(data)
    assert "not Confluent framing" in str(raised.value)
    assert "\n" not in str(raised.value)
    # the pipeline's contract: undecodable bytes are AvroDecodeError, a ValueError
    assert isinstance(raised.value, AvroDecodeError)
    assert isinstance(raised.value, ConfluentCodecError)
    assert isinstance(raised.value, ValueError)


def test_frame_header_round_trips_the_schema_id() -> None:
    assert frame_header(7) == b"\x00\x00\x00\x00\x07"
    assert frame_header(0x01020304) == b"\x00\x01\x02\x03\x04"
    for schema_id in (0, 1, 255, 256, 65_536, 2**31, 2**32 - 1):
        assert schema_id_of(frame_header(schema_id) + b"body") == schema_id
        assert schema_id_of(bytearray(frame_header(schema_id))) == schema_id
    with pytest.raises(ValueError, match="4 bytes"):
        frame_header(2**32)
    assert subject_for("cams.plates") == "cams.plates-value"


def test_unreachable_registry_is_a_one_line_error() -> None:
    url = closed_port_url()
    codec = ConfluentCodec(url, max_retries=0, timeout=2)
    with pytest.raises(RegistryError) as raised:
        codec.encode(example_of(PlateCapture), "cams.plates")
    message = str(raised.value)
    assert "\n" not in message
    assert url in message
    assert "unreachable" in message
    assert "cams.plates-value" in message
    assert not isinstance(raised.value, AvroDecodeError)  # not the message's fault
    # a well-framed message whose id is not cached needs the registry too
    with pytest.raises(RegistryError, match="unreachable while looking up schema id 42"):
        codec.decode(frame_header(42) + b"\x00")


def test_registered_schema_text_is_the_repository_schema() -> None:
    for version in STORE.latest.values():
        parsed = fastavro.parse_schema(json.loads(schema_json(version)))
        fp = bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))
        assert fp == version.fingerprint, version.name
        assert "__fastavro" not in schema_json(version)


# -- against the registry --------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_round_trip_through_the_registry(
    path: Path, schema_registry_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = example(path)
    name = avro.record_name(type(event))
    to = topic()
    codec = ConfluentCodec(schema_registry_url)
    data = codec.encode(event, to)

    # wire bytes: magic 0, the id registered under <topic>-value, the single-object body
    assert data[0] == 0
    schema_id = int.from_bytes(data[1:5], "big")
    admin = SchemaRegistryClient({"url": schema_registry_url})
    latest = admin.get_latest_version(subject_for(to))
    assert latest.schema_id == schema_id
    assert admin.get_versions(subject_for(to)) == [1]
    registered = admin.get_schema(schema_id)
    parsed = fastavro.parse_schema(json.loads(registered.schema_str or ""))
    fp = bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))
    assert fp == STORE.latest[name].fingerprint
    assert data[5:] == avro.encode(event)[10:]

    # decodes back to the same model
    decoded = codec.decode(data)
    assert type(decoded) is type(event)
    assert decoded == event

    # the second encode reuses the cached id: no registration
    registrations = counting(monkeypatch, codec.client, "register_schema")
    assert codec.encode(event, to) == data
    assert codec.encode(event.model_copy(), to) == data
    assert registrations == []
    assert admin.get_versions(subject_for(to)) == [1]

    # a fresh codec (another process, say) looks the writer schema up by id, once
    fresh = ConfluentCodec(schema_registry_url)
    lookups = counting(monkeypatch, fresh.client, "get_schema")
    assert fresh.decode(data) == event
    assert fresh.decode(bytearray(data)) == event
    assert fresh.decode(memoryview(data)) == event
    assert [call[0] for call in lookups] == [schema_id]


@pytest.mark.integration
def test_same_record_on_two_topics_shares_the_schema_id(
    schema_registry_url: str,
) -> None:
    codec = ConfluentCodec(schema_registry_url)
    event = example_of(PlateCapture)
    first, second = codec.encode(event, topic()), codec.encode(event, topic())
    assert first == second  # one schema, one id, two subjects


@pytest.mark.integration
def test_writer_schema_outside_the_repository_is_resolved_to_the_newest(
    schema_registry_url: str,
) -> None:
    """A producer with an older schema of the record (here: without the defaulted ``channel``
    field) registered it; the codec resolves its bytes to the newest repository version."""
    event = example_of(PlateCapture)
    assert event.model_dump()["channel"] is None  # what the reader's default will give
    version = STORE.latest[avro.record_name(PlateCapture)]
    older = json.loads(schema_json(version))
    older["fields"] = [f for f in older["fields"] if f["name"] != "channel"]
    older_parsed = fastavro.parse_schema(older)
    to = topic()
    admin = SchemaRegistryClient({"url": schema_registry_url})
    schema_id = admin.register_schema(subject_for(to), Schema(json.dumps(older), "AVRO"))

    datum = fastavro.schemaless_reader(io.BytesIO(avro.encode(event)[10:]), version.schema, None)
    assert isinstance(datum, dict)
    del datum["channel"]
    body = io.BytesIO()
    fastavro.schemaless_writer(body, older_parsed, datum)
    data = frame_header(schema_id) + body.getvalue()

    decoded = ConfluentCodec(schema_registry_url).decode(data)
    assert decoded == event


@pytest.mark.integration
def test_truncated_or_padded_body_raises_the_codec_error(
    schema_registry_url: str,
) -> None:
    codec = ConfluentCodec(schema_registry_url)
    data = codec.encode(example_of(Alarm), topic())
    for bad in (data[:5], data[:-1], data + b"\x00"):
        with pytest.raises(ConfluentDecodeError) as raised:
            ConfluentCodec(schema_registry_url).decode(bad)
        assert "\n" not in str(raised.value)


@pytest.mark.integration
def test_unknown_schema_id_raises_the_decode_error(schema_registry_url: str) -> None:
    codec = ConfluentCodec(schema_registry_url)
    with pytest.raises(ConfluentDecodeError, match=r"schema id 2147483000 is unknown"):
        codec.decode(frame_header(2_147_483_000) + b"\x00")


@pytest.mark.integration
def test_registry_rejecting_a_schema_is_a_one_line_error(
    schema_registry_url: str,
) -> None:
    """TopicNameStrategy: a topic's subject holds one record; another one is incompatible."""
    to = topic()
    codec = ConfluentCodec(schema_registry_url)
    codec.encode(example_of(Alarm), to)
    with pytest.raises(RegistryError) as raised:
        codec.encode(example_of(PlateCapture), to)
    message = str(raised.value)
    assert "\n" not in message
    newest = STORE.latest[avro.record_name(PlateCapture)].version
    assert f"rejected streams.canonical.PlateCapture v{newest}" in message
    assert subject_for(to) in message


@pytest.mark.integration
def test_the_registry_accepts_each_schema_version_after_the_one_before(
    schema_registry_url: str,
) -> None:
    """A second opinion on the repository's own compatibility check (tests/schemas): the
    registry's checker, at BACKWARD, takes every version of every record after its predecessor,
    and refuses a breaking change."""
    admin = SchemaRegistryClient({"url": schema_registry_url})
    checked = 0
    for versions in STORE.versions.values():
        subject = subject_for(topic())
        admin.set_compatibility(subject, "BACKWARD")
        for n, version in enumerate(versions):
            if n:
                new = Schema(schema_json(version), "AVRO")
                assert admin.test_compatibility(subject, new), f"{version.name} v{version.version}"
                checked += 1
            admin.register_schema(subject, Schema(schema_json(version), "AVRO"))
    assert checked == sum(len(v) - 1 for v in STORE.versions.values()) > 0

    plate = json.loads(schema_json(STORE.latest[avro.record_name(PlateCapture)]))
    plate["fields"].append({"name": "severity", "type": "int"})  # no default: breaks readers
    breaking = Schema(json.dumps(plate), "AVRO")
    subject = subject_for(topic())
    admin.set_compatibility(subject, "BACKWARD")
    admin.register_schema(subject, Schema(schema_json(STORE.latest[plate["name"]]), "AVRO"))
    assert not admin.test_compatibility(subject, breaking)
