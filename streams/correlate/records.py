"""What the correlation rules publish and read: alerts, correlations, watchlist entries.

pydantic models of ``schemas/avro/{alert,correlation,watchlist_entry}.v1.avsc`` (a test keeps
them in step). Ids are deterministic digests of the evidence, so a subscriber drops repeats by id
(delivery is at-least-once) and a replay of the same input yields the same ids.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from streams.canonical.models import (
    CanonicalEvent,
    Float32Vector,
    GeoPoint,
    ImageRef,
    Int32,
    PlateCapture,
    UtcMillis,
)

DEFAULT_PRIORITY = 3


class Rule(StrEnum):
    WATCHLIST = "watchlist"
    CLONED_PLATE = "cloned_plate"
    CONVOY = "convoy"
    ALARM_CONTEXT = "alarm_context"


class Relation(StrEnum):
    PERSON_VEHICLE = "person_vehicle"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Sighting(_Record):
    event_id: str
    kind: str
    device_id: str
    captured_at: UtcMillis
    position: GeoPoint | None = None
    plate_number: str | None = None
    track_id: str | None = None
    images: list[ImageRef] = Field(default_factory=list)


class Alert(_Record):
    kind: Literal["alert"] = "alert"
    alert_id: str
    rule: str
    priority: Int32
    subject: str
    occurred_at: UtcMillis
    raised_at: UtcMillis
    late: bool = False
    plate_numbers: list[str] = Field(default_factory=list)
    device_ids: list[str] = Field(default_factory=list)
    event_ids: list[str] = Field(default_factory=list)
    evidence: list[Sighting] = Field(default_factory=list)
    watchlist_entry_id: str | None = None
    reason: str | None = None
    case_ref: str | None = None
    details: dict[str, str] = Field(default_factory=dict)


class Correlation(_Record):
    kind: Literal["correlation"] = "correlation"
    correlation_id: str
    relation: str
    subject: str
    occurred_at: UtcMillis
    plate_numbers: list[str] = Field(default_factory=list)
    device_ids: list[str] = Field(default_factory=list)
    event_ids: list[str] = Field(default_factory=list)
    evidence: list[Sighting] = Field(default_factory=list)
    details: dict[str, str] = Field(default_factory=dict)


class WatchTarget(StrEnum):
    PLATE = "plate"
    FACE = "face"


class WatchlistEntry(_Record):
    kind: Literal["watchlist_entry"] = "watchlist_entry"
    entry_id: str
    target: str
    pattern: str | None = None
    embedding: Float32Vector = None
    threshold: float | None = None
    priority: Int32 = DEFAULT_PRIORITY
    reason: str
    case_ref: str | None = None
    created_by: str | None = None
    created_at: UtcMillis
    expires_at: UtcMillis | None = None


def digest_id(*parts: str) -> str:
    """A 32-hex-digit id from its parts (order matters; callers sort where it must not)."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()


def sighting(event: CanonicalEvent) -> Sighting:
    """The evidence form of a canonical event."""
    return Sighting(
        event_id=event.event_id,
        kind=event.kind,
        device_id=event.device_id,
        captured_at=event.captured_at,
        position=event.position,
        plate_number=event.plate_number if isinstance(event, PlateCapture) else None,
        track_id=getattr(event, "track_id", None),
        images=list(event.images),
    )
