"""Warehouse rows of the canonical events, alerts, correlations and dead letters.

One function per table family; the column names are those of
``schemas/clickhouse/0002_events_and_search.sql``. Absent strings become ``''`` (sort keys and
LowCardinality columns stay non-nullable); absent numbers stay ``None``. Image references and
evidence are JSON text: searches hand them back as they came.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import orjson
from pydantic import BaseModel

from streams.canonical.models import Alarm, CanonicalEvent, DeadLetter, FaceCapture, PlateCapture
from streams.correlate.records import Alert, Correlation
from streams.domain.plates import fold_plate

# The embedding length the face_vectors HNSW index is built for (fixed by migration 0002).
INDEXED_EMBEDDING_DIM = 128

PLATE_TABLE = "plate_captures"
FACE_TABLE = "face_captures"
FACE_VECTOR_TABLE = "face_vectors"
ALARM_TABLE = "alarms"
ALERT_TABLE = "alerts"
CORRELATION_TABLE = "correlations"
DEAD_LETTER_TABLE = "dead_letters"

Row = dict[str, Any]


def _images_json(event: CanonicalEvent) -> str:
    return orjson.dumps(
        [i.model_dump(mode="json", exclude_none=True) for i in event.images]
    ).decode()


def _event_columns(event: CanonicalEvent) -> Row:
    position = event.position
    return {
        "event_id": event.event_id,
        "source": event.source,
        "source_event_id": event.source_event_id or "",
        "device_id": event.device_id,
        "channel": event.channel,
        "captured_at": event.captured_at,
        "received_at": event.received_at,
        "time_source": str(event.time_source),
        "lat": position.lat if position is not None else None,
        "lon": position.lon if position is not None else None,
        "confidence": event.confidence,
        "late": event.late,
        "absorbed_event_ids": list(event.absorbed_event_ids),
        "images": _images_json(event),
        "attributes": dict(event.attributes),
    }


def plate_row(event: PlateCapture) -> Row:
    row = _event_columns(event)
    plate = event.plate_number or ""
    row.update(
        plate_number=plate,
        plate_folded=fold_plate(plate) if plate else "",
        plate_raw=event.plate_raw or "",
        plate_color=str(event.plate_color),
        plate_class=event.plate_class or "",
        vehicle_color=event.vehicle_color or "",
        vehicle_type=event.vehicle_type or "",
        vehicle_brand=event.vehicle_brand or "",
        lane=event.lane,
        direction=event.direction or "",
        speed_kmh=event.speed_kmh,
    )
    return row


def face_row(event: FaceCapture) -> Row:
    row = _event_columns(event)
    row.update(
        track_id=event.track_id or "",
        quality=event.quality,
        gender=str(event.gender),
        age_min=event.age_min,
        age_max=event.age_max,
        glasses=str(event.glasses),
        mask=str(event.mask),
        embedding=list(event.embedding or ()),
        appeared_at=event.appeared_at,
        disappeared_at=event.disappeared_at,
    )
    return row


def face_vector_row(event: FaceCapture) -> Row | None:
    """The face_vectors row of a capture whose embedding has the indexed length, else None."""
    embedding = event.embedding
    if embedding is None or len(embedding) != INDEXED_EMBEDDING_DIM:
        return None
    position = event.position
    return {
        "event_id": event.event_id,
        "device_id": event.device_id,
        "captured_at": event.captured_at,
        "lat": position.lat if position is not None else None,
        "lon": position.lon if position is not None else None,
        "embedding": list(embedding),
    }


def alarm_row(event: Alarm) -> Row:
    row = _event_columns(event)
    row.update(
        alarm_type=str(event.alarm_type),
        state=str(event.state),
        vendor_event_type=event.vendor_event_type,
        rule_name=event.rule_name or "",
        target_type=event.target_type or "",
    )
    return row


def _evidence_json(record: Alert | Correlation) -> str:
    return orjson.dumps(
        [s.model_dump(mode="json", exclude_none=True) for s in record.evidence]
    ).decode()


def alert_row(alert: Alert) -> Row:
    return {
        "alert_id": alert.alert_id,
        "rule": alert.rule,
        "priority": alert.priority,
        "subject": alert.subject,
        "occurred_at": alert.occurred_at,
        "raised_at": alert.raised_at,
        "late": alert.late,
        "plate_numbers": list(alert.plate_numbers),
        "device_ids": list(alert.device_ids),
        "event_ids": list(alert.event_ids),
        "evidence": _evidence_json(alert),
        "watchlist_entry_id": alert.watchlist_entry_id or "",
        "reason": alert.reason or "",
        "case_ref": alert.case_ref or "",
        "details": dict(alert.details),
    }


def correlation_row(record: Correlation) -> Row:
    return {
        "correlation_id": record.correlation_id,
        "relation": record.relation,
        "subject": record.subject,
        "occurred_at": record.occurred_at,
        "plate_numbers": list(record.plate_numbers),
        "device_ids": list(record.device_ids),
        "event_ids": list(record.event_ids),
        "evidence": _evidence_json(record),
        "details": dict(record.details),
    }


def dead_letter_row(letter: DeadLetter) -> Row:
    return {
        "dead_letter_id": letter.dead_letter_id,
        "stage": letter.stage,
        "reason": letter.reason,
        "source": letter.source or "",
        "topic": letter.topic or "",
        "partition": letter.partition,
        "offset": letter.offset,
        "key": (letter.key or b"").decode("utf-8", errors="replace"),
        "payload_base64": base64.b64encode(letter.payload).decode("ascii"),
        "payload_size": len(letter.payload),
        "failed_at": letter.failed_at,
    }


def rows_by_table(records: Sequence[BaseModel]) -> dict[str, list[Row]]:
    """The rows of decoded records, grouped by the table each lands in."""
    tables: dict[str, list[Row]] = {}
    for record in records:
        if isinstance(record, PlateCapture):
            tables.setdefault(PLATE_TABLE, []).append(plate_row(record))
        elif isinstance(record, FaceCapture):
            tables.setdefault(FACE_TABLE, []).append(face_row(record))
            vector = face_vector_row(record)
            if vector is not None:
                tables.setdefault(FACE_VECTOR_TABLE, []).append(vector)
        elif isinstance(record, Alarm):
            tables.setdefault(ALARM_TABLE, []).append(alarm_row(record))
        elif isinstance(record, Alert):
            tables.setdefault(ALERT_TABLE, []).append(alert_row(record))
        elif isinstance(record, Correlation):
            tables.setdefault(CORRELATION_TABLE, []).append(correlation_row(record))
        elif isinstance(record, DeadLetter):
            tables.setdefault(DEAD_LETTER_TABLE, []).append(dead_letter_row(record))
        else:
            raise TypeError(f"no warehouse table for {type(record).__name__}")
    return tables
