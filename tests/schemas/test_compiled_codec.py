"""The compiled Avro codec writes what fastavro writes, byte for byte, and reads it back."""

from __future__ import annotations

import copy
import io
import json
import math
import shutil
from datetime import UTC, datetime, timedelta, timezone
from enum import Enum
from pathlib import Path
from typing import Any

import fastavro
import pytest
from fastavro.utils import generate_many
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from streams.canonical import (
    Alarm,
    AlarmState,
    AlarmType,
    DeadLetter,
    FaceCapture,
    Gender,
    ImageKind,
    PlateCapture,
    PlateColor,
    Presence,
    TimeProvenance,
)
from streams.canonical.models import BoundingBox, GeoPoint, ImageRef, MessageHeader, construct
from streams.codecs import avro as avro_module
from streams.codecs.avro import (
    MAGIC,
    MODELS,
    SCHEMA_DIR,
    AvroDecodeError,
    AvroEncodeError,
    SchemaStore,
    decode,
    encode,
)
from streams.codecs.compiled import compile_reader, compile_writer, model_bindings

STORE = SchemaStore()
VERSIONS = sorted(STORE.by_fingerprint.values(), key=lambda v: (v.file, v.version))
LATEST = sorted(STORE.latest.values(), key=lambda v: v.file)
EXAMPLES = sorted((SCHEMA_DIR / "examples").glob("*.json"))
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

WRITERS = {v.fingerprint: compile_writer(v.schema) for v in VERSIONS}
PLAIN_READERS = {v.fingerprint: compile_reader(v.schema) for v in VERSIONS}
# Models match the newest version of their record only (older ones are read by fastavro).
MODEL_READERS = {
    v.fingerprint: compile_reader(v.schema, model_bindings(v.schema, MODELS[v.name]))
    for v in LATEST
}


def fa_write(schema: Any, datum: Any) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, schema, datum)
    return buffer.getvalue()


def fa_read(schema: Any, data: bytes) -> Any:
    return fastavro.schemaless_reader(io.BytesIO(data), schema, None)


def same(a: Any, b: Any) -> bool:
    """Deep equality where NaN equals NaN (and -0.0 only equals -0.0) and types must agree.

    Equality for floats means the same IEEE value: the encodings are compared byte for byte
    elsewhere, this only needs to accept the NaN a decoder returns for a NaN written."""
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, datetime):
        return bool(a == b and a.tzinfo == b.tzinfo)
    return bool(a == b)


def plain(value: Any) -> Any:
    """A decoded model as fastavro would return it: dicts, enum values as str."""
    if isinstance(value, BaseModel):
        return {k: plain(v) for k, v in value.__dict__.items()}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def reorder(value: Any, like: Any) -> Any:
    """``value`` with dict keys in the order of ``like`` (models keep declared order)."""
    if isinstance(value, dict) and isinstance(like, dict):
        return {k: reorder(value[k], like[k]) for k in like if k in value} | {
            k: v for k, v in value.items() if k not in like
        }
    if isinstance(value, list) and isinstance(like, list) and len(value) == len(like):
        return [reorder(v, w) for v, w in zip(value, like, strict=True)]
    return value


def version_of(path: Path) -> Any:
    file, number = path.stem.split(".v")
    return next(v for v in VERSIONS if v.file == file and v.version == int(number))


# ---------------------------------------------------------------------------------------------
# (a) the examples


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_encode_byte_for_byte_and_decode(path: Path) -> None:
    version = version_of(path)
    model = MODELS[version.name].model_validate_json(path.read_text(encoding="utf-8"))
    expected = fa_write(version.schema, model.model_dump())
    assert WRITERS[version.fingerprint](model) == expected
    assert WRITERS[version.fingerprint](model.model_dump()) == expected
    assert same(PLAIN_READERS[version.fingerprint](expected, 0), fa_read(version.schema, expected))
    if version in LATEST:
        decoded = MODEL_READERS[version.fingerprint](expected, 0)
        assert type(decoded) is type(model)
        assert decoded == model
        assert list(decoded.__dict__) == list(type(model).model_fields)
        message = encode(model, STORE)
        assert message == MAGIC + version.fingerprint + expected
        assert decode(message, STORE) == model


def test_plate_example_wire_bytes_are_pinned() -> None:
    """The examples' encodings cannot drift unnoticed (the fastavro comparison aside)."""
    path = SCHEMA_DIR / "examples" / "plate_capture.v2.json"
    model = PlateCapture.model_validate_json(path.read_text(encoding="utf-8"))
    data = encode(model, STORE)
    assert len(data) == 480
    assert data.endswith(b"\x00\x00")  # v2: late=false, no absorbed ids
    assert data[:10] == MAGIC + STORE.latest["streams.canonical.PlateCapture"].fingerprint
    assert data[10:].startswith(b"\x0aplate\x40" + b"5f1c9d0e8b7a6c5d4e3f2a1b0c9d8e7f")


# ---------------------------------------------------------------------------------------------
# (b) random datums generated from the schemas


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: f"{v.file}.v{v.version}")
def test_generated_datums_match_fastavro(version: Any) -> None:
    writer = WRITERS[version.fingerprint]
    reader = PLAIN_READERS[version.fingerprint]
    model_reader = MODEL_READERS.get(version.fingerprint)
    kind = MODELS[version.name].model_fields["kind"].default
    count = 0
    for datum in generate_many(version.schema, 300):
        data = fa_write(version.schema, datum)
        assert writer(datum) == data
        expected = fa_read(version.schema, data)
        assert same(reader(data, 0), expected)
        if model_reader is None:
            count += 1
            continue
        # The model reader builds models (no validation) that hold the same values.
        datum["kind"] = kind
        data = fa_write(version.schema, datum)
        assert writer(datum) == data
        decoded = model_reader(data, 0)
        assert type(decoded) is MODELS[version.name]
        assert same(reorder(fa_read(version.schema, data), plain(decoded)), plain(decoded))
        count += 1
    assert count == 300


def test_special_floats_are_written_bit_for_bit() -> None:
    schema = {
        "type": "record",
        "name": "F",
        "fields": [
            {"name": "d", "type": "double"},
            {"name": "f", "type": "float"},
            {"name": "od", "type": ["null", "double"]},
            {"name": "fs", "type": {"type": "array", "items": "float"}},
            {"name": "ds", "type": {"type": "array", "items": "double"}},
        ],
    }
    writer, reader = compile_writer(schema), compile_reader(schema)
    values = [
        math.nan,
        -math.nan,
        math.inf,
        -math.inf,
        -0.0,
        0.0,
        5e-324,
        1.7976931348623157e308,
        1e300,  # beyond float32: fastavro writes inf, as a C cast does
        3.4028234663852886e38,
        1.401298464324817e-45,
        1,
        -7,
    ]
    for value in values:
        datum = {"d": value, "f": value, "od": value, "fs": [value] * 3, "ds": [value, 0.5]}
        data = fa_write(schema, datum)
        assert writer(datum) == data, value
        assert same(reader(data, 0), fa_read(schema, data)), value


def test_timestamps_are_exact_milliseconds() -> None:
    schema = {
        "type": "record",
        "name": "T",
        "fields": [
            {"name": "t", "type": {"type": "long", "logicalType": "timestamp-millis"}},
            {"name": "o", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}]},
        ],
    }
    writer, reader = compile_writer(schema), compile_reader(schema)
    instants = [
        EPOCH,
        EPOCH - timedelta(microseconds=1),  # floors to -1 ms, as fastavro does
        EPOCH + timedelta(microseconds=999),
        datetime(2026, 3, 1, 0, 30, 16, 204999, tzinfo=UTC),
        EPOCH + timedelta(milliseconds=2**34),  # the first 6-byte varint
        EPOCH + timedelta(milliseconds=2**34 - 1),  # the last 5-byte one
        datetime(2001, 9, 9, 1, 46, 40, tzinfo=UTC),
        datetime(2039, 9, 7, 15, 47, 35, 552000, tzinfo=UTC),  # around the last 6-byte varint
        datetime(2039, 9, 7, 15, 47, 35, 551000, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 1, 8, 30, 16, 204000, tzinfo=timezone(timedelta(hours=8))),
    ]
    for instant in instants:
        datum = {"t": instant, "o": instant}
        data = fa_write(schema, datum)
        assert writer(datum) == data, instant
        ms = (instant - EPOCH) // timedelta(milliseconds=1)
        assert writer({"t": ms, "o": ms}) == data
        decoded = reader(data, 0)
        assert same(decoded, fa_read(schema, data))
        assert decoded["t"] == EPOCH + timedelta(milliseconds=ms)
        assert decoded["t"].tzinfo is UTC


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_longs_and_timestamps_round_trip_any_64_bit_value(value: int) -> None:
    schema = {
        "type": "record",
        "name": "L",
        "fields": [
            {"name": "l", "type": "long"},
            {"name": "t", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}]},
        ],
    }
    millis = max(min(value, 253402300799999), -62135596800000)  # datetime's range
    datum = {"l": value, "t": millis}
    data = fa_write(schema, datum)
    assert compile_writer(schema)(datum) == data
    assert same(compile_reader(schema)(data, 0), fa_read(schema, data))


# ---------------------------------------------------------------------------------------------
# (c) canonical models built by hypothesis

TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "浙A12345", "浙A·12345", "京A-B1234", "ü" * 70, "x" * 64, "é" * 32]),
    st.text(min_size=60, max_size=200),
)
OPT_TEXT = st.none() | TEXT
INT32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
OPT_INT32 = st.none() | st.sampled_from([0, -1, 63, 64, -64, -65, 2**31 - 1, -(2**31)]) | INT32
UNIT = st.floats(min_value=0.0, max_value=1.0)
ZONES = st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5))])
TIMES = st.datetimes(
    min_value=datetime(1, 1, 2),  # noqa: DTZ001 - hypothesis bounds are naive
    max_value=datetime(9999, 12, 30),  # noqa: DTZ001
    timezones=ZONES,
) | st.sampled_from([EPOCH, datetime(2026, 3, 1, 0, 30, 16, 204000, tzinfo=UTC)])
BOXES: st.SearchStrategy[dict[str, Any]] = st.builds(dict, x=UNIT, y=UNIT, w=UNIT, h=UNIT)
POSITIONS: st.SearchStrategy[dict[str, Any]] = st.builds(
    dict,
    lat=st.floats(min_value=-90, max_value=90),
    lon=st.floats(min_value=-180, max_value=180),
)
IMAGES: st.SearchStrategy[dict[str, Any]] = st.builds(
    dict,
    kind=st.sampled_from(ImageKind),
    url=OPT_TEXT,
    sha256=st.none() | st.just("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
    width=OPT_INT32,
    height=OPT_INT32,
)
ATTRIBUTES = st.dictionaries(TEXT, TEXT, max_size=6) | st.just(
    {f"key{i}": "v" * (i % 80) for i in range(300)}
)
IMAGE_LISTS = st.lists(IMAGES, max_size=4) | st.just(
    [{"kind": "scene", "url": f"http://x.invalid/{i}.jpg"} for i in range(150)]
)
EMBEDDINGS = (
    st.none()
    | st.lists(st.floats(width=32, allow_nan=False), max_size=16)
    | st.just([((i * 7919) % 1000 - 500) / 3.0 for i in range(512)])
)


def event_fields() -> dict[str, Any]:
    return {
        "event_id": TEXT,
        "source": TEXT,
        "source_event_id": OPT_TEXT,
        "device_id": TEXT,
        "channel": OPT_INT32,
        "captured_at": TIMES,
        "received_at": TIMES,
        "time_source": st.sampled_from(TimeProvenance),
        "position": st.none() | POSITIONS,
        "images": IMAGE_LISTS,
        "confidence": st.none() | UNIT,
        "bbox": st.none() | BOXES,
        "attributes": ATTRIBUTES,
    }


PLATES = st.fixed_dictionaries(
    {
        **event_fields(),
        "plate_number": OPT_TEXT,
        "plate_raw": OPT_TEXT,
        "plate_color": st.sampled_from(PlateColor),
        "plate_class": OPT_TEXT,
        "plate_bbox": st.none() | BOXES,
        "vehicle_color": OPT_TEXT,
        "vehicle_type": OPT_TEXT,
        "vehicle_brand": OPT_TEXT,
        "lane": OPT_INT32,
        "direction": OPT_TEXT,
        "speed_kmh": st.none() | st.floats(allow_nan=False),
        "pass_group": OPT_TEXT,
    }
).map(PlateCapture.model_validate)
FACES = st.fixed_dictionaries(
    {
        **event_fields(),
        "track_id": OPT_TEXT,
        "quality": st.none() | UNIT,
        "gender": st.sampled_from(Gender),
        "age_min": OPT_INT32,
        "age_max": OPT_INT32,
        "glasses": st.sampled_from(Presence),
        "mask": st.sampled_from(Presence),
        "embedding": EMBEDDINGS,
        "appeared_at": st.none() | TIMES,
        "disappeared_at": st.none() | TIMES,
    }
).map(FaceCapture.model_validate)
ALARMS = st.fixed_dictionaries(
    {
        **event_fields(),
        "alarm_type": st.sampled_from(AlarmType),
        "state": st.sampled_from(AlarmState),
        "vendor_event_type": TEXT,
        "rule_name": OPT_TEXT,
        "target_type": OPT_TEXT,
    }
).map(Alarm.model_validate)
PAYLOADS = st.binary(max_size=64) | st.just(bytes(range(256)) * 64)
DEAD_LETTERS = st.fixed_dictionaries(
    {
        "dead_letter_id": TEXT,
        "stage": TEXT,
        "reason": TEXT,
        "source": OPT_TEXT,
        "topic": OPT_TEXT,
        "partition": OPT_INT32,
        "offset": st.none()
        | st.sampled_from([0, -1, 2**63 - 1, -(2**63), 2**31, 4711])
        | st.integers(min_value=-(2**63), max_value=2**63 - 1),
        "key": st.none() | PAYLOADS,
        "payload": PAYLOADS,
        "headers": st.lists(
            st.fixed_dictionaries({"key": TEXT, "value": st.none() | st.binary(max_size=20)}),
            max_size=4,
        ),
        "failed_at": TIMES,
    }
).map(DeadLetter.model_validate)
EVENTS = st.one_of(PLATES, FACES, ALARMS, DEAD_LETTERS)
MINIMAL = [
    PlateCapture(
        event_id="",
        source="",
        device_id="",
        captured_at=EPOCH,
        received_at=EPOCH,
        time_source=TimeProvenance.RECEIVED,
    ),
    DeadLetter(dead_letter_id="", stage="", reason="", payload=b"", failed_at=EPOCH),
]


def check_event(event: BaseModel) -> None:
    version = STORE.latest[avro_module.record_name(type(event))]
    expected = fa_write(version.schema, event.model_dump())
    assert WRITERS[version.fingerprint](event) == expected
    message = encode(event, STORE)
    assert message == MAGIC + version.fingerprint + expected
    decoded = decode(message, STORE)
    assert type(decoded) is type(event)
    assert decoded == event
    assert decoded.model_dump() == event.model_dump()
    # What fastavro reads, validated into the model, is what the compiled reader builds.
    assert type(event).model_validate(fa_read(version.schema, expected)) == decoded


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EVENTS)
def test_hypothesis_events_match_fastavro_and_round_trip(event: BaseModel) -> None:
    check_event(event)


@pytest.mark.parametrize("event", MINIMAL, ids=lambda e: type(e).__name__)
def test_minimal_events_match_fastavro_and_round_trip(event: BaseModel) -> None:
    check_event(event)


def test_decoded_models_are_what_construct_builds() -> None:
    path = SCHEMA_DIR / "examples" / "face_capture.v1.json"
    event = FaceCapture.model_validate_json(path.read_text(encoding="utf-8"))
    event = event.model_copy(
        update={
            "embedding": [0.25, -1.5],
            "appeared_at": EPOCH,
            "position": GeoPoint(lat=30.0, lon=120.0),
            "bbox": BoundingBox(x=0.1, y=0.2, w=0.3, h=0.4),
        }
    )
    decoded = decode(encode(event, STORE), STORE)
    assert isinstance(decoded, FaceCapture)
    built = construct(FaceCapture, dict(decoded.__dict__))
    assert decoded.__getstate__() == built.__getstate__()
    assert list(decoded.__dict__) == list(FaceCapture.model_fields)
    assert decoded.model_fields_set == set(FaceCapture.model_fields)
    assert decoded.time_source is TimeProvenance(event.time_source)
    assert all(type(image) is ImageRef for image in decoded.images)
    assert type(decoded.position) is GeoPoint
    assert type(decoded.bbox) is BoundingBox
    assert decoded.captured_at.tzinfo is UTC
    assert decoded.model_dump_json() == event.model_dump_json()


def test_model_bindings_follow_the_annotations() -> None:
    version = STORE.latest["streams.canonical.DeadLetter"]
    assert model_bindings(version.schema, DeadLetter) == {
        "streams.canonical.DeadLetter": DeadLetter,
        "streams.canonical.Header": MessageHeader,
    }
    version = STORE.latest["streams.canonical.PlateCapture"]
    assert model_bindings(version.schema, PlateCapture) == {
        "streams.canonical.PlateCapture": PlateCapture,
        "streams.canonical.TimeProvenance": TimeProvenance,
        "streams.canonical.GeoPoint": GeoPoint,
        "streams.canonical.ImageRef": ImageRef,
        "streams.canonical.ImageKind": ImageKind,
        "streams.canonical.BoundingBox": BoundingBox,
        "streams.canonical.PlateColor": PlateColor,
    }


def test_bindings_are_checked_at_compile_time() -> None:
    version = STORE.latest["streams.canonical.Alarm"]
    with pytest.raises(ValueError, match="has no field"):
        compile_reader(version.schema, {"streams.canonical.Alarm": PlateCapture})

    class Partial(Enum):
        START = "start"

    with pytest.raises(ValueError, match="lacks a symbol"):
        compile_reader(version.schema, {"streams.canonical.AlarmState": Partial})

    class Stranger(BaseModel):
        x: int

    with pytest.raises(ValueError, match="has no field"):
        compile_reader(version.schema, {"streams.canonical.Alarm": Stranger})


def test_literal_fields_are_checked_when_decoding() -> None:
    version = STORE.latest["streams.canonical.Alarm"]
    path = SCHEMA_DIR / "examples" / "alarm.v1.json"
    datum = Alarm.model_validate_json(path.read_text(encoding="utf-8")).model_dump()
    datum["kind"] = "plate"
    message = MAGIC + version.fingerprint + fa_write(version.schema, datum)
    with pytest.raises(AvroDecodeError, match="kind must be one of"):
        decode(message, STORE)


# ---------------------------------------------------------------------------------------------
# Readers against fastavro on hand-made and unusual encodings

KITCHEN_SINK: dict[str, Any] = {
    "type": "record",
    "name": "Sink",
    "namespace": "test",
    "fields": [
        {"name": "b", "type": "boolean"},
        {"name": "i", "type": "int"},
        {"name": "l", "type": "long"},
        {"name": "f", "type": "float"},
        {"name": "d", "type": "double"},
        {"name": "by", "type": "bytes"},
        {"name": "s", "type": "string"},
        {"name": "fx", "type": {"type": "fixed", "name": "Four", "size": 4}},
        {
            "name": "e",
            "type": {"type": "enum", "name": "Many", "symbols": [f"s{i}" for i in range(70)]},
        },
        {"name": "n", "type": "null"},
        {"name": "nested", "type": {"type": "array", "items": {"type": "map", "values": "long"}}},
        {
            "name": "u",
            "type": [
                "null",
                "boolean",
                "int",
                "long",
                "float",
                "double",
                "bytes",
                "string",
                "Four",
                {"type": "record", "name": "A", "fields": [{"name": "x", "type": "int"}]},
                {"type": "record", "name": "B", "fields": [{"name": "y", "type": "string"}]},
                {"type": "array", "items": "string"},
                {"type": "map", "values": "int"},
            ],
        },
        {"name": "ue", "type": ["Many", "string"]},
        {"name": "fd", "type": ["float", "double"]},
        {"name": "rev", "type": ["string", "null"]},
        {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "nulls", "type": {"type": "array", "items": "null"}},
        {"name": "fixeds", "type": {"type": "map", "values": "test.Four"}},
        {"name": "with_default", "type": "string", "default": "dflt"},
    ],
}
LINKED: dict[str, Any] = {
    "type": "record",
    "name": "Node",
    "fields": [
        {"name": "value", "type": "long"},
        {"name": "children", "type": {"type": "array", "items": "Node"}},
        {"name": "next", "type": ["null", "Node"]},
    ],
}


def test_kitchen_sink_schema_matches_fastavro() -> None:
    parsed = fastavro.parse_schema(copy.deepcopy(KITCHEN_SINK))
    for schema in (KITCHEN_SINK, parsed):
        writer, reader = compile_writer(schema), compile_reader(schema)
        for datum in generate_many(parsed, 400):
            data = fa_write(parsed, datum)
            assert writer(datum) == data
            assert same(reader(data, 0), fa_read(parsed, data))
    # Union branches picked by Python type, as fastavro picks them.
    writer = compile_writer(KITCHEN_SINK)
    base = next(iter(generate_many(parsed, 1)))
    values: list[Any] = [None, True, 5, -(2**40), 1.5, b"\x00\x01", b"four", "text"]
    values += [{"x": 3}, {"y": "z"}, ["a", "b"], {"k": 1}, {"x": 3, "k": 1}]
    for value in values:
        for symbol in ["s3", "s69", "not a symbol"]:
            datum = {**base, "u": value, "ue": symbol, "fd": value if value == 1.5 else 2}
            assert writer(datum) == fa_write(parsed, datum), (value, symbol)
    missing = dict(base)
    del missing["with_default"]
    assert writer(missing) == fa_write(parsed, missing)


def test_recursive_records() -> None:
    def node(depth: int) -> dict[str, Any]:
        return {
            "value": -depth,
            "children": [node(depth - 1), node(depth - 2)] if depth > 1 else [],
            "next": node(depth - 1) if depth > 0 else None,
        }

    datum = node(6)
    data = fa_write(LINKED, datum)
    assert compile_writer(LINKED)(datum) == data
    assert same(compile_reader(LINKED)(data, 0), fa_read(LINKED, data))


def zz(n: int) -> bytes:
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z > 0x7F:
        out.append(z & 0x7F | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


SMALL: dict[str, Any] = {
    "type": "record",
    "name": "Small",
    "fields": [
        {"name": "o", "type": ["null", "string"]},
        {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["a", "b", "c"]}},
        {"name": "xs", "type": {"type": "array", "items": "long"}},
        {"name": "m", "type": {"type": "map", "values": "string"}},
        {"name": "s", "type": "string"},
    ],
}


@pytest.mark.parametrize(
    "body",
    [
        # non-minimal varints: union index 1, enum index 2, string lengths, a count
        b"\x82\x00\x04hi" + b"\x84\x00" + b"\x00" + b"\x00" + b"\x86\x80\x00abc",
        # arrays and maps in several blocks, with negative counts carrying a byte size
        b"".join(
            [
                b"\x00\x02",  # o = None, e = "b"
                zz(2) + zz(7) + zz(-8),  # xs: block of 2 items, 7 and -8
                zz(-1) + zz(1) + zz(5),  # block of -1 items, 1 byte long: 5
                b"\x00",
                zz(-1) + zz(4) + b"\x02k\x02v",  # m: block of -1 entries, 4 bytes long
                zz(1) + b"\x02K\x02V",
                b"\x00",
                b"\x00",  # s: ""
            ]
        ),
        # long strings (two-byte lengths) in and out of the union
        b"\x02" + zz(100) + b"u" * 100 + b"\x00\x00\x00" + zz(200) + b"s" * 200,
    ],
    ids=["non-minimal", "blocks", "long-strings"],
)
def test_reader_accepts_what_fastavro_accepts(body: bytes) -> None:
    assert same(compile_reader(SMALL)(body, 0), fa_read(SMALL, body))


def test_reader_takes_an_offset_and_any_buffer() -> None:
    body = b"\x02\x02x" + b"\x02" + b"\x00\x00" + b"\x02y"
    expected = fa_read(SMALL, body)
    reader = compile_reader(SMALL)
    for data in (b"junk" + body, bytearray(b"junk" + body), memoryview(b"junk" + body)):
        assert same(reader(data, 4), expected)
    with pytest.raises(AvroDecodeError, match="outside"):
        reader(body, -1)


# ---------------------------------------------------------------------------------------------
# Corrupt input: AvroDecodeError, never anything else


def all_messages() -> list[bytes]:
    messages = []
    for path in EXAMPLES:
        version = version_of(path)
        model = MODELS[version.name].model_validate_json(path.read_text(encoding="utf-8"))
        messages.append(encode(model, STORE))
    return messages


MESSAGES = all_messages()


@pytest.mark.parametrize("message", MESSAGES, ids=[p.stem for p in EXAMPLES])
def test_every_truncation_and_extension_is_an_error(message: bytes) -> None:
    for end in range(len(message)):
        with pytest.raises(AvroDecodeError):
            decode(message[:end], STORE)
    with pytest.raises(AvroDecodeError, match="left after"):
        decode(message + b"\x00", STORE)


def check_corrupt(message: bytes) -> None:
    """Either AvroDecodeError, or a model fastavro agrees with."""
    try:
        event = decode(message, STORE)
    except AvroDecodeError:
        return
    version = STORE.by_fingerprint[message[2:10]]
    expected = fa_read(version.schema, message[10:])  # must not fail where we succeeded
    assert same(reorder(expected, plain(event)), plain(event))


@settings(max_examples=400, deadline=None)
@given(st.sampled_from([v.fingerprint for v in LATEST]), st.binary(max_size=300))
def test_random_bytes_after_a_valid_header(fp: bytes, junk: bytes) -> None:
    check_corrupt(MAGIC + fp + junk)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(MESSAGES),
    st.lists(st.tuples(st.integers(min_value=10), st.integers(0, 255)), min_size=1, max_size=4),
    st.sampled_from(["replace", "insert", "delete"]),
)
def test_mutated_messages(message: bytes, edits: list[tuple[int, int]], how: str) -> None:
    data = bytearray(message)
    for at, byte in edits:
        at = 10 + at % (len(data) - 10)
        if how == "replace":
            data[at] = byte
        elif how == "insert":
            data.insert(at, byte)
        else:
            del data[at]
    check_corrupt(bytes(data))


def test_corrupt_lengths_counts_and_indexes() -> None:
    version = STORE.latest["streams.canonical.PlateCapture"]
    header = MAGIC + version.fingerprint
    for body in [
        b"",
        b"\x01",  # negative string length
        zz(2**62),  # huge string length
        b"\xff" * 11,  # varint longer than 10 bytes
        b"\x0aplate" + b"\x80" * 9 + b"\x7f",  # varint beyond 64 bits
    ]:
        with pytest.raises(AvroDecodeError):
            decode(header + body, STORE)
    reader = compile_reader(SMALL)
    for body in [
        b"\x04",  # union index 2 of 2 branches
        b"\x03",  # union index -2
        b"\x00\x06",  # enum index 3 of 3 symbols
        b"\x00\x00" + zz(10**6),  # array count beyond the data
        b"\x00\x00\x00" + zz(-5),  # negative count without a byte size
        b"\x00\x00\x00\x00\x04\xff\xfe",  # invalid UTF-8
    ]:
        with pytest.raises(AvroDecodeError):
            reader(body, 0)


def test_varint_limits() -> None:
    reader = compile_reader("long")
    widest = b"\xff" * 9 + b"\x01"  # ten bytes, 2**64 - 1 zigzag-encoded
    assert reader(widest, 0) == fa_read("long", widest) == -(2**63)
    assert compile_writer("long")(-(2**63)) == widest
    for body in [b"\x80" * 9 + b"\x02", b"\x80" * 10 + b"\x00"]:  # 2**64; eleven bytes
        with pytest.raises(AvroDecodeError, match="varint"):
            reader(body, 0)
    with pytest.raises(AvroDecodeError, match="does not fit an Avro int"):
        compile_reader("int")(zz(2**31), 0)
    # Items of no bytes: a count is capped instead of looping (almost) forever.
    with pytest.raises(AvroDecodeError, match="overruns"):
        compile_reader({"type": "array", "items": "null"})(zz(2**40) + b"\x00", 0)
    assert compile_reader({"type": "array", "items": "null"})(zz(3) + b"\x00", 0) == [None] * 3


def test_unknown_header_and_fingerprint() -> None:
    with pytest.raises(AvroDecodeError, match="header"):
        decode(b"\x00\x01" + bytes(20), STORE)
    with pytest.raises(AvroDecodeError, match="fingerprint"):
        decode(MAGIC + b"\x01" * 8 + b"\x00", STORE)


# ---------------------------------------------------------------------------------------------
# Writer errors


def test_values_that_do_not_fit_raise_avro_encode_error() -> None:
    path = SCHEMA_DIR / "examples" / "plate_capture.v1.json"
    event = PlateCapture.model_validate_json(path.read_text(encoding="utf-8"))
    naive = datetime(2026, 3, 1)  # noqa: DTZ001 - the point of the test
    updates: list[dict[str, Any]] = [
        {"lane": 2**31},  # int is 32 bits
        {"lane": -(2**31) - 1},
        {"captured_at": naive},
        {"plate_color": "purple"},
        {"plate_number": 12345},
        {"attributes": {"k": None}},
        {"images": [{"kind": "scene", "url": b"bytes"}]},
        {"position": "here"},
    ]
    for update in updates:
        bad = event.model_copy(update=update)
        with pytest.raises(AvroEncodeError):
            encode(bad, STORE)
    dead = MINIMAL[1].model_copy(update={"offset": 2**63})
    with pytest.raises(AvroEncodeError, match="64 bits"):
        encode(dead, STORE)
    datum = event.model_dump()
    del datum["event_id"]
    with pytest.raises(AvroEncodeError, match="event_id"):
        compile_writer(STORE.latest["streams.canonical.PlateCapture"].schema)(datum)


def test_enum_members_and_strings_write_the_same() -> None:
    version = STORE.latest["streams.canonical.PlateCapture"]
    writer = compile_writer(version.schema)
    datum = MINIMAL[0].model_dump()
    as_members = writer(datum)
    datum["time_source"] = "received"
    datum["plate_color"] = "unknown"
    assert writer(datum) == as_members == fa_write(version.schema, datum)


# ---------------------------------------------------------------------------------------------
# avro.py: compiled path for the newest version, fastavro for older ones, caching


def test_older_writer_versions_fall_back_to_fastavro(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(SCHEMA_DIR / "plate_capture.v1.avsc", tmp_path / "plate_capture.v1.avsc")
    newer = json.loads((SCHEMA_DIR / "plate_capture.v1.avsc").read_text(encoding="utf-8"))
    newer["fields"].append(newer["fields"].pop(0))  # same fields, another order: a new version
    (tmp_path / "plate_capture.v2.avsc").write_text(json.dumps(newer), encoding="utf-8")
    store = SchemaStore(tmp_path)
    old, new = store.versions["streams.canonical.PlateCapture"]
    assert old.fingerprint != new.fingerprint

    calls: list[int] = []
    real = fastavro.schemaless_reader

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(fastavro, "schemaless_reader", counting)
    event = PlateCapture.model_validate_json(
        (SCHEMA_DIR / "examples" / "plate_capture.v1.json").read_text(encoding="utf-8")
    )
    message = encode(event, store)
    assert message[2:10] == new.fingerprint
    assert message[10:] == fa_write(new.schema, event.model_dump())
    assert decode(message, store) == event
    assert calls == []  # the compiled reader
    old_message = compile_writer(old.schema, prefix=MAGIC + old.fingerprint)(event)
    assert old_message[10:] == fa_write(old.schema, event.model_dump())
    assert decode(old_message, store) == event
    assert decode(memoryview(old_message), store) == event  # type: ignore[arg-type]
    assert calls == [1, 1]  # fastavro resolution
    assert store.reader(old.fingerprint) is None
    assert store.reader(new.fingerprint) is store.reader(new.fingerprint) is not None
    assert store.writer(PlateCapture) is store.writer(PlateCapture)


def test_decode_accepts_bytearray_and_memoryview() -> None:
    message = MESSAGES[0]
    expected = decode(message, STORE)
    assert decode(bytearray(message), STORE) == expected  # type: ignore[arg-type]
    assert decode(memoryview(message), STORE) == expected  # type: ignore[arg-type]


def test_decode_dict_still_uses_the_resolved_datum() -> None:
    name, datum = avro_module.decode_dict(MESSAGES[0], STORE)
    version = STORE.latest[name]
    assert same(datum, fa_read(version.schema, MESSAGES[0][10:]))
