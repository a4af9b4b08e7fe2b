"""The engine's rows from Avro bodies (``streams.warehouse.avro_rows``) against the Python rows
of ``streams.warehouse.rows``: stored side by side in clones of the tables, they must be equal,
column for column."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from streams.bench.correlate import make_city
from streams.codecs import avro
from streams.codecs.avro import MAGIC, MODELS, SCHEMA_DIR, AvroDecodeError, default_store
from streams.domain.plates import PROVINCES, fold_plate
from streams.errors import WarehouseError
from streams.warehouse.avro_rows import (
    FOLDED_PLATE,
    MAPPINGS,
    MAPPINGS_OF_RECORD,
    PYTHON_WHITESPACE,
    container,
    insert_mapped,
    writer_schema_json,
)
from streams.warehouse.embedded import EmbeddedWarehouse
from streams.warehouse.migrations import migrate
from streams.warehouse.rows import INDEXED_EMBEDDING_DIM, rows_by_table

pytestmark = pytest.mark.integration

EXAMPLES = SCHEMA_DIR / "examples"
MAPPED_RECORDS = ("plate_capture", "face_capture", "alarm")
TABLES = sorted({m.table for m in MAPPINGS})


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedWarehouse]:
    wh = EmbeddedWarehouse(Path(tmp_path_factory.mktemp("avro-rows")) / "wh", "streams")
    migrate(wh)
    for table in TABLES:
        for side in ("py", "en"):
            wh.command(f"CREATE TABLE {side}_{table} AS {table}")
    wh.command("CREATE TABLE plates_in (plate_number Nullable(String)) ENGINE = Memory")
    yield wh
    wh.close()


def example(name: str) -> BaseModel:
    data = json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    model = next(m for m in MODELS.values() if m.model_fields["kind"].default == data["kind"])
    return model.model_validate(data)


def message(datum: dict[str, Any], record: str, version: int) -> bytes:
    """``datum`` (model_dump form) as a single-object message of that schema version."""
    [written] = [v for v in default_store().versions[record] if v.version == version]
    body = io.BytesIO()
    fastavro.schemaless_writer(body, written.schema, datum)
    return MAGIC + written.fingerprint + body.getvalue()


def of_model(record: BaseModel, version: int, **changes: Any) -> bytes:
    name = avro.record_name(type(record))
    return message(record.model_copy(update=changes).model_dump(), name, version)


def assert_alike(warehouse: EmbeddedWarehouse, messages: Sequence[bytes]) -> int:
    """Store ``messages`` both ways and compare the tables; returns the rows compared."""
    for table in TABLES:
        for side in ("py", "en"):
            warehouse.command(f"TRUNCATE TABLE {side}_{table}")
    for table, rows in rows_by_table([avro.decode_datum(m) for m in messages]).items():
        warehouse.insert(f"py_{table}", rows)
    groups: dict[bytes, list[bytes]] = {}
    for m in messages:
        groups.setdefault(m[:10], []).append(m[10:])
    for header, bodies in groups.items():
        version = default_store().by_fingerprint[header[2:]]
        data = container(writer_schema_json(version), bodies)
        for mapping in MAPPINGS_OF_RECORD[version.name]:
            insert_mapped(warehouse, mapping, data, dedup_token=None, table=f"en_{mapping.table}")
    compared = 0
    for table in TABLES:
        order = "event_id, captured_at"
        # landed_at is the insert's time: the two inserts differ by when they ran.
        columns = "* EXCEPT (landed_at)"
        py = warehouse.query(f"SELECT {columns} FROM py_{table} ORDER BY {order}")  # noqa: S608
        en = warehouse.query(f"SELECT {columns} FROM en_{table} ORDER BY {order}")  # noqa: S608
        assert en == py, table
        compared += len(py)
    return compared


def examples_of_mapped_records() -> list[tuple[str, int]]:
    found = []
    for path in sorted(EXAMPLES.glob("*.json")):
        record, version = path.stem.rsplit(".v", 1)
        if record in MAPPED_RECORDS:
            found.append((path.stem, int(version)))
    return found


@pytest.mark.parametrize(("name", "version"), examples_of_mapped_records())
def test_every_example_gives_the_same_rows(
    warehouse: EmbeddedWarehouse, name: str, version: int
) -> None:
    record = example(name)
    messages = [of_model(record, version)]
    if name.startswith("plate_capture"):
        messages += [
            of_model(record, version, event_id="no-plate", plate_number=None, plate_raw=None),
            of_model(record, version, event_id="no-position", position=None, images=[]),
            of_model(record, version, event_id="bare", lane=None, speed_kmh=None, channel=3),
        ]
    if name.startswith("face_capture"):
        messages += [
            of_model(record, version, event_id="indexed", embedding=[0.5] * INDEXED_EMBEDDING_DIM),
            of_model(record, version, event_id="no-embedding", embedding=None),
            of_model(record, version, event_id="open", appeared_at=None, disappeared_at=None),
        ]
    if name.startswith("alarm"):
        messages += [of_model(record, version, event_id="bare", rule_name=None, target_type=None)]
    assert assert_alike(warehouse, messages) >= len(messages)


def test_v1_and_v2_bodies_of_one_batch(warehouse: EmbeddedWarehouse) -> None:
    messages = []
    for name, version in examples_of_mapped_records():
        record = example(name)
        messages += [of_model(record, version, event_id=f"{name}-{i}") for i in range(3)]
    assert assert_alike(warehouse, messages) == len(messages)


def test_face_vectors_only_for_the_indexed_length(warehouse: EmbeddedWarehouse) -> None:
    face = example("face_capture.v2")
    messages = [
        of_model(face, 2, event_id=f"f{n}", embedding=[0.25] * n)
        for n in (0, 16, INDEXED_EMBEDDING_DIM - 1, INDEXED_EMBEDDING_DIM, 512)
    ]
    assert_alike(warehouse, messages)
    assert warehouse.query("SELECT event_id FROM en_face_vectors") == [{"event_id": "f128"}]


def test_alerts_correlations_and_dead_letters_are_not_mapped() -> None:
    assert set(MAPPINGS_OF_RECORD) == {
        "streams.canonical.PlateCapture",
        "streams.canonical.FaceCapture",
        "streams.canonical.Alarm",
    }


# The characters of canonical plates (streams.domain.plates), lower case, whitespace and a few
# letters with special upper cases as well.
PLATE_CHARS = (
    "".join(sorted(PROVINCES))
    + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 "
    + "警学挂使领港澳试超应急民航消边通森金电军北南广沈兰成济海空"
    + PYTHON_WHITESPACE
    + "ßéǅ"
)
PLATE_TEXT = st.text(alphabet=PLATE_CHARS, max_size=10)
_SKIP_FIXTURE_CHECK = [HealthCheck.function_scoped_fixture]  # one warehouse for all examples
SETTINGS_40 = settings(max_examples=40, deadline=None, suppress_health_check=_SKIP_FIXTURE_CHECK)
SETTINGS_60 = settings(max_examples=60, deadline=None, suppress_health_check=_SKIP_FIXTURE_CHECK)


# Text of every kind where the rows carry vendor text: JSON escaping, UTF-8, empty strings.
TEXT = st.text(max_size=12) | st.sampled_from(["", "/", '"', "\\", "\u2028", "\x7f", "é/\x00"])
IMAGES = st.lists(
    st.fixed_dictionaries(
        {
            "kind": st.sampled_from(["scene", "plate", "vehicle", "face", "other"]),
            "url": st.none() | TEXT,
            "sha256": st.none() | TEXT,
            "width": st.none() | st.integers(-(2**31), 2**31 - 1),
            "height": st.none() | st.integers(-(2**31), 2**31 - 1),
        }
    ),
    max_size=3,
)
NUMBER = st.none() | st.floats(allow_nan=False, allow_infinity=False, width=64)


@SETTINGS_40
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "images": IMAGES,
                "plate_number": st.none() | PLATE_TEXT,
                "plate_raw": st.none() | TEXT,
                "vehicle_brand": st.none() | TEXT,
                "attributes": st.dictionaries(TEXT, TEXT, max_size=3),
                "confidence": NUMBER,
                "speed_kmh": NUMBER,
                "position": st.none()
                | st.fixed_dictionaries({"lat": NUMBER.filter(bool), "lon": NUMBER.filter(bool)}),
            }
        ),
        min_size=1,
        max_size=8,
    )
)
def test_generated_plates_give_the_same_rows(
    warehouse: EmbeddedWarehouse, changes: list[dict[str, Any]]
) -> None:
    base = example("plate_capture.v2").model_dump()
    messages = [
        message({**base, **change, "event_id": f"g{i}"}, "streams.canonical.PlateCapture", 2)
        for i, change in enumerate(changes)
    ]
    assert_alike(warehouse, messages)


def folded_by_engine(warehouse: EmbeddedWarehouse, plates: Sequence[str]) -> list[str]:
    warehouse.command("TRUNCATE TABLE plates_in")
    warehouse.insert("plates_in", [{"plate_number": p} for p in plates])
    rows = warehouse.query(
        f"SELECT plate_number, {FOLDED_PLATE} AS folded FROM plates_in"  # noqa: S608
    )
    by_plate = {r["plate_number"]: r["folded"] for r in rows}
    return [by_plate[p] for p in plates]


@SETTINGS_60
@given(st.lists(PLATE_TEXT, min_size=1, max_size=50, unique=True))
def test_folding_in_sql_is_fold_plate(warehouse: EmbeddedWarehouse, plates: list[str]) -> None:
    assert folded_by_engine(warehouse, plates) == [fold_plate(p) for p in plates]


def test_folding_every_plate_of_a_city(warehouse: EmbeddedWarehouse) -> None:
    plates = sorted(set(make_city(devices=10, vehicles=20_000).plates))
    plates += [f"{p}{rest}" for p in sorted(PROVINCES) for rest in ("A0D1B2", "O8S5G6Z", "")]
    assert folded_by_engine(warehouse, plates) == [fold_plate(p) for p in plates]


def test_the_whitespace_stripped_is_all_of_it() -> None:
    assert "".join(c for c in map(chr, range(0x110000)) if c.isspace()) == PYTHON_WHITESPACE


def refused_by_engine(warehouse: EmbeddedWarehouse, message_: bytes) -> bool:
    """Whether every mapped insert of the record's tables refuses ``message_``."""
    version = default_store().by_fingerprint[message_[2:10]]
    data = container(writer_schema_json(version), [message_[10:]])
    refusals = []
    for mapping in MAPPINGS_OF_RECORD[version.name]:
        try:
            insert_mapped(warehouse, mapping, data, dedup_token=None, table=f"en_{mapping.table}")
        except WarehouseError:
            refusals.append(True)
        else:
            refusals.append(False)
    return all(refusals)


def refused_by_python(message_: bytes) -> bool:
    try:
        avro.decode_datum(message_)
    except AvroDecodeError:
        return True
    return False


MARK = "ZZMARKZZ"


def with_bad_text(name: str, version: int, change: dict[str, Any]) -> bytes:
    """The example with ``MARK`` put where ``change`` says, then made invalid UTF-8."""
    record = example(name)
    data = message({**record.model_dump(), **change}, avro.record_name(type(record)), version)
    assert data.count(MARK.encode()) == 1
    return data.replace(MARK.encode(), b"\xff" + MARK.encode()[1:])


def string_fields(name: str) -> list[str]:
    [version] = [
        v
        for v in default_store().versions[avro.record_name(type(example(name)))]
        if v.version == int(name.rsplit(".v", 1)[1])
    ]
    return [
        f["name"]
        for f in version.schema["fields"]
        if f["type"] == "string" or (isinstance(f["type"], list) and "string" in f["type"])
    ]


NESTED_TEXT = {
    "attribute key": lambda: {"attributes": {MARK: "v"}},
    "attribute value": lambda: {"attributes": {"k": MARK}},
    "image url": lambda: {"images": [{"kind": "scene", "url": MARK}]},
    "image sha256": lambda: {"images": [{"kind": "scene", "sha256": MARK}]},
}


@pytest.mark.parametrize(("name", "version"), examples_of_mapped_records())
def test_the_engine_refuses_every_body_python_refuses(
    warehouse: EmbeddedWarehouse, name: str, version: int
) -> None:
    good = of_model(example(name), version)
    assert not refused_by_engine(warehouse, good)
    bad = {
        "bytes after the record": good + b"\x02",
        "truncated": good[:-3],
        "no body": good[:10],
        **{
            f"invalid UTF-8 in {field}": with_bad_text(name, version, {field: MARK})
            for field in string_fields(name)
        },
        **{
            f"invalid UTF-8 in {what}": with_bad_text(name, version, change())
            for what, change in NESTED_TEXT.items()
        },
    }
    if version > 1:
        bad["invalid UTF-8 in absorbed_event_ids"] = with_bad_text(
            name, version, {"absorbed_event_ids": [MARK]}
        )
    for what, data in bad.items():
        assert refused_by_engine(warehouse, data), what
        # Older versions are resolved by fastavro, which ignores bytes after the record: the
        # engine refuses more than that, and the sink then stores the rows decoded in Python.
        ignored = version < 2 and what == "bytes after the record"
        assert refused_by_python(data) is not ignored, what


@pytest.mark.parametrize("field", ["captured_at", "received_at"])
@pytest.mark.parametrize("ms", [-62_135_596_800_001, 253_402_300_800_000])
def test_timestamps_python_cannot_represent_are_refused(
    warehouse: EmbeddedWarehouse, field: str, ms: int
) -> None:
    record = example("plate_capture.v2")
    datum = {**record.model_dump(), field: ms}  # fastavro writes ints as they are
    data = message(datum, "streams.canonical.PlateCapture", 2)
    assert refused_by_python(data)
    assert refused_by_engine(warehouse, data)
    edge = -62_135_596_800_000 if ms < 0 else 253_402_300_799_999
    data = message({**datum, field: edge}, "streams.canonical.PlateCapture", 2)
    assert not refused_by_python(data)
    assert not refused_by_engine(warehouse, data)
