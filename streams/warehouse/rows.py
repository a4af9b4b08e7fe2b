"""Warehouse rows of the canonical events, alerts, correlations and dead letters.

Rows are made from the decoded Avro datum (``streams.codecs.avro.decode_datum``: records as
dicts, enums as their symbols, timestamps as UTC datetimes), resolved to the newest schema of
the record, so the sink builds no models. The column names are those of
``schemas/clickhouse/0002_events_and_search.sql``. Absent strings become ``''`` (sort keys and
LowCardinality columns stay non-nullable); absent numbers stay ``None``. Image references and
evidence are JSON text: searches hand them back as they came.

On the embedded warehouse, the engine makes the rows of plate, face and alarm captures itself
from the Avro bodies, with the SQL twin of these functions in ``streams.warehouse.avro_rows``;
the functions here make them for the ClickHouse server backend, for Confluent-framed messages,
for a group of bodies the engine refused (the sink's fallback), and the rows of alerts,
correlations and dead letters everywhere. A change here must be made there as well (the tests
compare the two).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from pydantic import BaseModel

from streams.canonical.models import rfc3339_millis
from streams.codecs import avro
from streams.domain.plates import fold_plate

# The embedding length the face_vectors HNSW index is built for (fixed by migration 0002).
INDEXED_EMBEDDING_DIM = 128

PLATE_TABLE = "plate_captures"
# Which days each plate was read on (filled by a view on PLATE_TABLE): pattern searches.
PLATE_DAYS_TABLE = "plate_days"
# Every readable plate once, with its days (a view on PLATE_TABLE): long-range pattern searches.
PLATE_NAMES_TABLE = "plate_names"
FACE_TABLE = "face_captures"
FACE_VECTOR_TABLE = "face_vectors"
ALARM_TABLE = "alarms"
ALERT_TABLE = "alerts"
CORRELATION_TABLE = "correlations"
DEAD_LETTER_TABLE = "dead_letters"

Row = dict[str, Any]
Datum = dict[str, Any]
TableRows = tuple[tuple[str, Row], ...]


class NoTable(ValueError):
    """A record of a kind that has no warehouse table (e.g. a watchlist entry)."""


def _without_none(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if v is not None}


def _images_json(images: list[dict[str, Any]]) -> str:
    if not images:  # the common case, without a call into orjson
        return "[]"
    return orjson.dumps([_without_none(i) for i in images]).decode()


def _event_columns(d: Datum) -> Row:
    position = d["position"]
    return {
        "event_id": d["event_id"],
        "source": d["source"],
        "source_event_id": d["source_event_id"] or "",
        "device_id": d["device_id"],
        "channel": d["channel"],
        "captured_at": d["captured_at"],
        "received_at": d["received_at"],
        "time_source": d["time_source"],
        "lat": position["lat"] if position is not None else None,
        "lon": position["lon"] if position is not None else None,
        "confidence": d["confidence"],
        "late": d["late"],
        "absorbed_event_ids": d["absorbed_event_ids"],
        "images": _images_json(d["images"]),
        "attributes": d["attributes"],
    }


# Plates repeat (a vehicle passes many cameras): fold each distinct plate once. Bounded, so a
# long-running sink keeps the plates of the recent traffic only.
_FOLDED: dict[str, str] = {}
_FOLDED_MAX = 200_000


def _folded(plate: str) -> str:
    folded = _FOLDED.get(plate)
    if folded is None:
        if len(_FOLDED) >= _FOLDED_MAX:
            _FOLDED.clear()
        folded = _FOLDED[plate] = fold_plate(plate) if plate else ""
    return folded


def plate_row(d: Datum) -> Row:
    row = _event_columns(d)
    plate = d["plate_number"] or ""
    row["plate_number"] = plate
    row["plate_folded"] = _folded(plate)
    row["plate_raw"] = d["plate_raw"] or ""
    row["plate_color"] = d["plate_color"]
    row["plate_class"] = d["plate_class"] or ""
    row["vehicle_color"] = d["vehicle_color"] or ""
    row["vehicle_type"] = d["vehicle_type"] or ""
    row["vehicle_brand"] = d["vehicle_brand"] or ""
    row["lane"] = d["lane"]
    row["direction"] = d["direction"] or ""
    row["speed_kmh"] = d["speed_kmh"]
    return row


def face_row(d: Datum) -> Row:
    row = _event_columns(d)
    row["track_id"] = d["track_id"] or ""
    row["quality"] = d["quality"]
    row["gender"] = d["gender"]
    row["age_min"] = d["age_min"]
    row["age_max"] = d["age_max"]
    row["glasses"] = d["glasses"]
    row["mask"] = d["mask"]
    row["embedding"] = d["embedding"] or []
    row["appeared_at"] = d["appeared_at"]
    row["disappeared_at"] = d["disappeared_at"]
    return row


def face_vector_row(d: Datum) -> Row | None:
    """The face_vectors row of a capture whose embedding has the indexed length, else None."""
    embedding = d["embedding"]
    if embedding is None or len(embedding) != INDEXED_EMBEDDING_DIM:
        return None
    position = d["position"]
    return {
        "event_id": d["event_id"],
        "device_id": d["device_id"],
        "captured_at": d["captured_at"],
        "lat": position["lat"] if position is not None else None,
        "lon": position["lon"] if position is not None else None,
        "embedding": embedding,
    }


def alarm_row(d: Datum) -> Row:
    row = _event_columns(d)
    row["alarm_type"] = d["alarm_type"]
    row["state"] = d["state"]
    row["vendor_event_type"] = d["vendor_event_type"]
    row["rule_name"] = d["rule_name"] or ""
    row["target_type"] = d["target_type"] or ""
    return row


def _sighting(s: dict[str, Any]) -> dict[str, Any]:
    """A sighting of the evidence as JSON values, absent fields left out (the JSON form of
    ``streams.correlate.records.Sighting``)."""
    out = _without_none(s)
    out["captured_at"] = rfc3339_millis(s["captured_at"])
    out["images"] = [_without_none(i) for i in s["images"]]
    return out


def _evidence_json(d: Datum) -> str:
    return orjson.dumps([_sighting(s) for s in d["evidence"]]).decode()


def _finding_columns(d: Datum) -> Row:
    """What alerts and correlations share: subject, time, the ids involved, the evidence."""
    return {
        "subject": d["subject"],
        "occurred_at": d["occurred_at"],
        "plate_numbers": d["plate_numbers"],
        "device_ids": d["device_ids"],
        "event_ids": d["event_ids"],
        "evidence": _evidence_json(d),
        "details": d["details"],
    }


def alert_row(d: Datum) -> Row:
    row = _finding_columns(d)
    row["alert_id"] = d["alert_id"]
    row["rule"] = d["rule"]
    row["priority"] = d["priority"]
    row["raised_at"] = d["raised_at"]
    row["late"] = d["late"]
    row["watchlist_entry_id"] = d["watchlist_entry_id"] or ""
    row["reason"] = d["reason"] or ""
    row["case_ref"] = d["case_ref"] or ""
    return row


def correlation_row(d: Datum) -> Row:
    row = _finding_columns(d)
    row["correlation_id"] = d["correlation_id"]
    row["relation"] = d["relation"]
    return row


def dead_letter_row(d: Datum) -> Row:
    payload: bytes = d["payload"]
    return {
        "dead_letter_id": d["dead_letter_id"],
        "stage": d["stage"],
        "reason": d["reason"],
        "source": d["source"] or "",
        "topic": d["topic"] or "",
        "partition": d["partition"],
        "offset": d["offset"],
        "key": (d["key"] or b"").decode("utf-8", errors="replace"),
        "payload_base64": base64.b64encode(payload).decode("ascii"),
        "payload_size": len(payload),
        "failed_at": d["failed_at"],
    }


def _face_rows(d: Datum) -> TableRows:
    vector = face_vector_row(d)
    if vector is None:
        return ((FACE_TABLE, face_row(d)),)
    return ((FACE_TABLE, face_row(d)), (FACE_VECTOR_TABLE, vector))


def _one(table: str, row: Callable[[Datum], Row]) -> Callable[[Datum], TableRows]:
    return lambda d: ((table, row(d)),)


_ROWS_OF_KIND: dict[str, Callable[[Datum], TableRows]] = {
    "plate": _one(PLATE_TABLE, plate_row),
    "face": _face_rows,
    "alarm": _one(ALARM_TABLE, alarm_row),
    "alert": _one(ALERT_TABLE, alert_row),
    "correlation": _one(CORRELATION_TABLE, correlation_row),
    "dead_letter": _one(DEAD_LETTER_TABLE, dead_letter_row),
}

TABLES: tuple[str, ...] = (
    PLATE_TABLE,
    FACE_TABLE,
    FACE_VECTOR_TABLE,
    ALARM_TABLE,
    ALERT_TABLE,
    CORRELATION_TABLE,
    DEAD_LETTER_TABLE,
)


def rows_of(d: Datum) -> TableRows:
    """The (table, row) pairs of one datum: one row, two for a face with an indexed
    embedding. Raises NoTable for a record kind that is not stored."""
    rows = _ROWS_OF_KIND.get(d.get("kind", ""))
    if rows is None:
        raise NoTable(f"no warehouse table for records of kind {d.get('kind')!r}")
    return rows(d)


def datum_of(record: BaseModel) -> Datum:
    """The datum of a model, as a consumer of its Avro bytes decodes it."""
    return avro.decode_datum(avro.encode(record))


def rows_by_table(records: Iterable[Datum | BaseModel]) -> dict[str, list[Row]]:
    """The rows of decoded records (data, or models), grouped by the table each lands in."""
    tables: dict[str, list[Row]] = {}
    for record in records:
        datum = datum_of(record) if isinstance(record, BaseModel) else record
        for table, row in rows_of(datum):
            tables.setdefault(table, []).append(row)
    return tables
