"""Warehouse rows of each record kind, from the records as the sink decodes them."""

from __future__ import annotations

import base64
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fastavro
import orjson
import pytest
from pydantic import BaseModel

from streams.canonical import Alarm, DeadLetter, FaceCapture, PlateCapture
from streams.codecs import avro
from streams.codecs.avro import MAGIC, MODELS, SCHEMA_DIR, default_store
from streams.correlate.records import Alert, Correlation, WatchlistEntry
from streams.warehouse.rows import (
    ALARM_TABLE,
    ALERT_TABLE,
    CORRELATION_TABLE,
    DEAD_LETTER_TABLE,
    FACE_TABLE,
    FACE_VECTOR_TABLE,
    INDEXED_EMBEDDING_DIM,
    PLATE_TABLE,
    NoTable,
    datum_of,
    rows_by_table,
    rows_of,
)

EXAMPLES = SCHEMA_DIR / "examples"
MIGRATION = Path(__file__).parents[2] / "schemas" / "clickhouse" / "0002_events_and_search.sql"


def example(name: str) -> Any:
    data = json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    model = next(m for m in MODELS.values() if m.model_fields["kind"].default == data["kind"])
    return model.model_validate(data)


def only_row(record: BaseModel, table: str) -> dict[str, Any]:
    tables = rows_by_table([datum_of(record)])
    assert list(tables) == [table]
    [row] = tables[table]
    return row


def table_columns(table: str) -> list[str]:
    """Column names of ``table`` in migration 0002."""
    sql = MIGRATION.read_text(encoding="utf-8")
    body = sql.split(f"CREATE TABLE IF NOT EXISTS {table}\n(", 1)[1].split("\n)\nENGINE", 1)[0]
    names = []
    for line in body.splitlines():
        word = line.strip().split(" ", 1)[0]
        if word.isidentifier() and word.islower():  # not INDEX, PROJECTION, SELECT, ...
            names.append(word)
    return names


def test_plate_row() -> None:
    row = only_row(example("plate_capture.v2"), PLATE_TABLE)
    assert row["event_id"] == "5f1c9d0e8b7a6c5d4e3f2a1b0c9d8e7f"
    assert row["plate_number"] == "浙A12345"
    assert row["plate_folded"] == "A12345"  # province dropped, fuzzy key
    assert row["plate_raw"] == "浙A·12345"
    assert row["plate_color"] == "blue"
    assert row["time_source"] == "device_zone"
    assert (row["lat"], row["lon"]) == (30.2741, 120.1551)
    assert row["captured_at"] == datetime(2026, 3, 1, 0, 30, 15, tzinfo=UTC)
    assert row["captured_at"].tzinfo is not None
    assert row["channel"] is None
    assert row["lane"] == 2
    assert row["speed_kmh"] == 47.5
    assert row["attributes"] == {"InfoKind": "1", "TollgateID": "33010200001210000001"}
    # Image references as JSON, absent fields left out.
    assert orjson.loads(row["images"]) == [
        {"kind": "vehicle", "url": "http://viid.example.invalid/pic/4151-58659-0.jpg"},
        {
            "kind": "plate",
            "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "width": 240,
            "height": 80,
        },
    ]


def test_plate_without_a_plate_keeps_sort_keys_non_null() -> None:
    event = example("plate_capture.v2").model_copy(
        update={"plate_number": None, "plate_raw": None, "position": None, "images": []}
    )
    row = only_row(event, PLATE_TABLE)
    assert row["plate_number"] == row["plate_folded"] == row["plate_raw"] == ""
    assert row["lat"] is None
    assert row["lon"] is None
    assert row["images"] == "[]"


def test_folding_maps_ocr_confusions_alike() -> None:
    read = example("plate_capture.v2")
    misread = read.model_copy(update={"plate_number": "苏AI2B45"})
    clean = read.model_copy(update={"plate_number": "浙A12845"})
    assert only_row(misread, PLATE_TABLE)["plate_folded"] == "A12845"
    assert only_row(clean, PLATE_TABLE)["plate_folded"] == "A12845"


def test_face_row_and_short_embedding_stays_out_of_face_vectors() -> None:
    face = example("face_capture.v2")
    assert len(face.embedding) != INDEXED_EMBEDDING_DIM
    row = only_row(face, FACE_TABLE)
    assert row["gender"] == "female"
    assert row["glasses"] == "no"
    assert (row["age_min"], row["age_max"]) == (25, 34)
    assert row["track_id"] == "54"
    assert row["embedding"] == face.embedding
    assert row["appeared_at"] == datetime(2026, 3, 1, 0, 30, 14, 100_000, tzinfo=UTC)
    assert row["lat"] is None


@pytest.mark.parametrize("length", [127, 129, 512])
def test_embeddings_of_other_lengths_stay_out_of_face_vectors(length: int) -> None:
    face = example("face_capture.v2").model_copy(update={"embedding": [0.5] * length})
    assert list(rows_by_table([face])) == [FACE_TABLE]


def test_indexed_embedding_also_goes_to_face_vectors() -> None:
    vector = [i / 128 for i in range(INDEXED_EMBEDDING_DIM)]
    face = FaceCapture.model_validate(
        {**example("face_capture.v2").model_dump(), "embedding": vector}
    )
    tables = rows_by_table([face])
    assert sorted(tables) == [FACE_TABLE, FACE_VECTOR_TABLE]
    [row] = tables[FACE_VECTOR_TABLE]
    assert row["event_id"] == face.event_id
    assert row["embedding"] == vector  # exact in float32: i/128
    assert row["captured_at"] == face.captured_at
    assert tables[FACE_TABLE][0]["embedding"] == vector


def test_face_without_embedding() -> None:
    face = example("face_capture.v2").model_copy(update={"embedding": None})
    assert only_row(face, FACE_TABLE)["embedding"] == []


def test_alarm_row() -> None:
    row = only_row(example("alarm.v2"), ALARM_TABLE)
    assert row["alarm_type"] == "line_crossing"
    assert row["state"] == "start"
    assert row["vendor_event_type"] == "CrossLineDetection"
    assert row["rule_name"] == "Rule1"
    assert row["target_type"] == "human"
    assert row["source_event_id"] == "542"


def test_alert_row() -> None:
    alert = example("alert.v1")
    row = only_row(alert, ALERT_TABLE)
    assert row["alert_id"] == "5f2b9c1e0d7a4b3c8e6f1a2b3c4d5e6f"
    assert row["rule"] == "cloned_plate"
    assert row["priority"] == 2
    assert row["watchlist_entry_id"] == row["reason"] == row["case_ref"] == ""
    assert row["details"]["speed_kmh"] == "1623.1"
    assert row["device_ids"] == ["31010100001320000001", "32010100001320000007"]
    # Evidence as the JSON form of the records' sightings.
    expected = [s.model_dump(mode="json", exclude_none=True) for s in alert.evidence]
    assert orjson.loads(row["evidence"]) == expected
    assert orjson.loads(row["evidence"])[0]["captured_at"] == "2024-03-05T01:02:03.456Z"


def test_correlation_row() -> None:
    correlation = example("correlation.v1")
    row = only_row(correlation, CORRELATION_TABLE)
    assert row["relation"] == "person_vehicle"
    assert row["subject"] == "沪A12345"
    assert row["details"] == {"gap_ms": "644"}
    evidence = orjson.loads(row["evidence"])
    assert evidence[1]["track_id"] == "88"
    assert "plate_number" not in evidence[1]
    assert evidence == [s.model_dump(mode="json", exclude_none=True) for s in correlation.evidence]


def test_dead_letter_payload_round_trips_through_base64() -> None:
    letter = example("dead_letter.v1")
    binary = bytes(range(256)) + b"\xff\xfe not utf-8"
    letter = letter.model_copy(update={"payload": binary, "key": b"3301\xff"})
    row = only_row(letter, DEAD_LETTER_TABLE)
    assert base64.b64decode(row["payload_base64"]) == binary
    assert row["payload_size"] == len(binary)
    assert row["key"] == "3301\ufffd"
    assert (row["topic"], row["partition"], row["offset"]) == ("raw.gat1400", 1, 4711)
    assert row["stage"] == "normalize"


@pytest.mark.parametrize(
    ("record", "table"),
    [
        ("plate_capture.v2", PLATE_TABLE),
        ("face_capture.v2", FACE_TABLE),
        ("alarm.v2", ALARM_TABLE),
        ("alert.v1", ALERT_TABLE),
        ("correlation.v1", CORRELATION_TABLE),
        ("dead_letter.v1", DEAD_LETTER_TABLE),
    ],
)
def test_row_columns_are_the_tables_columns(record: str, table: str) -> None:
    row = only_row(example(record), table)
    assert sorted(row) == sorted(table_columns(table))


def test_face_vector_columns_are_the_tables_columns() -> None:
    face = example("face_capture.v2").model_copy(update={"embedding": [0.0] * 128})
    [row] = rows_by_table([face])[FACE_VECTOR_TABLE]
    assert sorted(row) == sorted(table_columns(FACE_VECTOR_TABLE))


def _single_object(record: BaseModel, version: int) -> bytes:
    """``record`` written with an older schema version, as an older producer would."""
    store = default_store()
    [written] = [v for v in store.versions[avro.record_name(type(record))] if v.version == version]
    body = io.BytesIO()
    fastavro.schemaless_writer(body, written.schema, record.model_dump())
    return MAGIC + written.fingerprint + body.getvalue()


@pytest.mark.parametrize("name", ["plate_capture.v1", "face_capture.v1", "alarm.v1"])
def test_records_of_an_older_schema_give_the_same_rows(name: str) -> None:
    record = example(name)
    old = avro.decode_datum(_single_object(record, 1))
    new = datum_of(record)
    assert rows_of(old) == rows_of(new)


def test_models_and_data_give_the_same_rows() -> None:
    records = [example("plate_capture.v2"), example("alert.v1")]
    assert rows_by_table(records) == rows_by_table([datum_of(r) for r in records])


def test_a_record_without_table_is_refused() -> None:
    entry = WatchlistEntry(
        entry_id="e1", target="plate", pattern="浙A*", reason="r", created_at=datetime.now(UTC)
    )
    with pytest.raises(NoTable, match="watchlist_entry"):
        rows_of(datum_of(entry))


def test_every_record_kind_has_an_example() -> None:
    kinds = {PlateCapture, FaceCapture, Alarm, Alert, Correlation, DeadLetter}
    seen = {type(example(p.stem)) for p in EXAMPLES.glob("*.json")}
    assert kinds <= seen
