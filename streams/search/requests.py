"""The search requests: one pydantic model per query kind, validated before any SQL is built.

Field descriptions feed the HTTP API's OpenAPI document and the CLI's help, so they say what a
value means to an investigator, not how it is queried. Times are UTC-aware (a naive time is
refused: a camera network spans no time zone the server could guess); ``since`` is inclusive,
``until`` exclusive.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Annotated, ClassVar, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

MAX_LIMIT = 10_000
DEFAULT_LIMIT = 100
MAX_OFFSET = 1_000_000
# An area search reads every capture of the area's devices in the range; a month bounds it.
MAX_AREA_RANGE = timedelta(days=31)
MAX_COLLISION_SETS = 10
MAX_POLYGON_POINTS = 1_000
MAX_RADIUS_M = 200_000.0
MAX_TOP_K = 1_000
MAX_EMBEDDING_DIM = 4_096
MAX_LIST_ITEMS = 10_000


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            "times must carry a zone, e.g. 2026-03-01T08:00:00Z or 2026-03-01T16:00:00+08:00; "
            "a naive time is refused"
        )
    return value.astimezone(UTC)


UtcTime = Annotated[datetime, AfterValidator(_utc)]
Latitude = Annotated[float, Field(ge=-90.0, le=90.0)]
Longitude = Annotated[float, Field(ge=-180.0, le=180.0)]
Identifiers = Annotated[list[str], Field(max_length=MAX_LIST_ITEMS)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Area(_Model):
    """A circle (``lat``, ``lon``, ``radius_m``) or a polygon (``polygon``), WGS-84 degrees."""

    lat: Latitude | None = Field(None, description="Circle centre latitude (WGS-84 degrees).")
    lon: Longitude | None = Field(None, description="Circle centre longitude (WGS-84 degrees).")
    radius_m: float | None = Field(
        None, gt=0, le=MAX_RADIUS_M, description="Circle radius in metres."
    )
    polygon: list[tuple[Latitude, Longitude]] | None = Field(
        None,
        description="Polygon vertices as [lat, lon] pairs (WGS-84 degrees), at least 3; "
        "the ring closes by itself.",
        max_length=MAX_POLYGON_POINTS,
    )

    @model_validator(mode="after")
    def _one_shape(self) -> Self:
        circle = (self.lat, self.lon, self.radius_m)
        has_circle = any(v is not None for v in circle)
        if has_circle and self.polygon is not None:
            raise ValueError("an area is a circle (lat, lon, radius_m) or a polygon, not both")
        if has_circle and any(v is None for v in circle):
            raise ValueError("a circle needs all of lat, lon and radius_m")
        if not has_circle and self.polygon is None:
            raise ValueError("an area needs a circle (lat, lon, radius_m) or a polygon")
        if self.polygon is not None and len(self.polygon) < 3:
            raise ValueError(f"a polygon needs at least 3 points, got {len(self.polygon)}")
        return self

    @property
    def is_circle(self) -> bool:
        return self.polygon is None

    def bounding_box(self) -> tuple[float, float, float, float]:
        """(min_lat, max_lat, min_lon, max_lon), a little wider than the area itself."""
        if self.polygon is not None:
            lats = [p[0] for p in self.polygon]
            lons = [p[1] for p in self.polygon]
            return min(lats), max(lats), min(lons), max(lons)
        assert self.lat is not None
        assert self.lon is not None
        assert self.radius_m is not None
        # 1% wider than a degree of the mean sphere, so rounding never drops an edge point.
        dlat = self.radius_m / 111_195.0 * 1.01
        dlon = dlat / max(math.cos(math.radians(self.lat)), 1e-6)
        return self.lat - dlat, self.lat + dlat, self.lon - dlon, self.lon + dlon


class SearchRequest(_Model):
    """One search; ``kind`` names the query (see :data:`streams.search.KINDS`)."""

    kind: ClassVar[str]

    @model_validator(mode="after")
    def _ordered_range(self) -> Self:
        since = getattr(self, "since", None)
        until = getattr(self, "until", None)
        if since is not None and until is not None and since >= until:
            raise ValueError("since must be earlier than until")
        return self


class _Paged(SearchRequest):
    limit: int = Field(
        DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Rows per page (at most 10000)."
    )
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Rows to skip (the page start).")


_SINCE = "Earliest capture time, inclusive (UTC-aware)."
_UNTIL = "Latest capture time, exclusive (UTC-aware)."


class PlateSearch(_Paged):
    """Plate reads: exact, wildcard (* and ?) or fuzzy over OCR confusions, with filters; newest
    first."""

    kind: ClassVar[str] = "plate"

    plate: str | None = Field(
        None,
        max_length=32,
        description="Plate number, exact (e.g. 浙A80015), or a pattern with * (any run of "
        "characters) and ? (exactly one character), e.g. 浙A8*5 or *8001?.",
    )
    fuzzy: bool = Field(
        False,
        description="Also match reads that differ by OCR confusions (O/0/D, I/1, B/8, Z/2, "
        "S/5, G/6, in any positions) or in the province character.",
    )
    unreadable: bool = Field(False, description="Captures whose plate could not be read.")
    since: UtcTime | None = Field(None, description=_SINCE)
    until: UtcTime | None = Field(None, description=_UNTIL)
    devices: Identifiers = Field(
        default_factory=list, description="Only these device ids (empty: every device)."
    )
    area: Area | None = Field(None, description="Only captures of devices inside this area.")
    plate_color: str | None = Field(
        None, description="Plate colour: blue, yellow, white, black, green, yellow_green, ..."
    )
    vehicle_color: str | None = Field(None, description="Vehicle colour as the camera reports.")
    vehicle_type: str | None = Field(None, description="Vehicle type as the camera reports.")
    vehicle_brand: str | None = Field(None, description="Vehicle brand as the camera reports.")

    @model_validator(mode="after")
    def _what(self) -> Self:
        if self.unreadable and (self.plate is not None or self.fuzzy):
            raise ValueError("unreadable=true searches captures without a plate: give no plate")
        if self.plate is not None and not self.plate.strip():
            raise ValueError("plate is empty")
        if self.fuzzy and self.plate is None:
            raise ValueError("fuzzy needs a plate")
        if self.plate is None and not self.unreadable and not self.devices and not self.area:
            raise ValueError("give a plate, unreadable=true, devices or an area")
        return self


class TrajectorySearch(_Paged):
    """Every sighting of a plate or a face track, in time order, with positions."""

    kind: ClassVar[str] = "trajectory"

    plate: str | None = Field(None, max_length=32, description="Exact plate number.")
    track_id: str | None = Field(None, max_length=256, description="Face track id.")
    since: UtcTime | None = Field(None, description=_SINCE)
    until: UtcTime | None = Field(None, description=_UNTIL)

    @model_validator(mode="after")
    def _one_subject(self) -> Self:
        if (self.plate is None) == (self.track_id is None):
            raise ValueError("give exactly one of plate or track_id")
        if not (self.plate or self.track_id or "").strip():
            raise ValueError("plate or track_id is empty")
        return self


class FirstSeenSearch(SearchRequest):
    """First and last sighting of a plate, optionally inside an area."""

    kind: ClassVar[str] = "first-seen"

    plate: str = Field(min_length=1, max_length=32, description="Exact plate number.")
    area: Area | None = Field(None, description="Only sightings by devices inside this area.")
    since: UtcTime | None = Field(None, description=_SINCE)
    until: UtcTime | None = Field(None, description=_UNTIL)


CaptureKind = Literal["plate", "face", "alarm"]


def _all_capture_kinds() -> list[CaptureKind]:
    return ["plate", "face", "alarm"]


class AreaSearch(_Paged):
    """Everything seen in an area (circle or polygon) during a time range; newest first."""

    kind: ClassVar[str] = "area"

    area: Area = Field(description="The area: a circle or a polygon.")
    since: UtcTime = Field(description=_SINCE)
    until: UtcTime = Field(description=_UNTIL + " At most 31 days after since.")
    kinds: list[CaptureKind] = Field(
        default_factory=_all_capture_kinds,
        min_length=1,
        description="Which captures: plate, face, alarm (default: all).",
    )

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        if self.until - self.since > MAX_AREA_RANGE:
            raise ValueError(
                f"an area search covers at most {MAX_AREA_RANGE.days} days; narrow since/until"
            )
        return self


class CollisionSet(_Model):
    area: Area = Field(description="Where.")
    since: UtcTime = Field(description=_SINCE)
    until: UtcTime = Field(description=_UNTIL)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.since >= self.until:
            raise ValueError("since must be earlier than until")
        return self


class CollisionSearch(_Paged):
    """Plates (or similar faces) present in all, or at least k, of several (area, time range)
    sets."""

    kind: ClassVar[str] = "collision"

    sets: list[CollisionSet] = Field(
        min_length=2,
        max_length=MAX_COLLISION_SETS,
        description="Two to ten (area, since, until) sets.",
    )
    min_sets: int | None = Field(
        None, ge=1, description="Matches must appear in at least this many sets (default: all)."
    )
    target: Literal["plate", "face"] = Field(
        "plate", description="plate: the same plate number; face: similar faces."
    )
    face_threshold: float = Field(
        0.3,
        ge=0.0,
        le=2.0,
        description="Faces match when their cosine distance is at most this (target=face).",
    )

    @model_validator(mode="after")
    def _k(self) -> Self:
        if self.min_sets is not None and self.min_sets > len(self.sets):
            raise ValueError(f"min_sets is {self.min_sets} but only {len(self.sets)} sets given")
        return self

    @property
    def required_sets(self) -> int:
        return len(self.sets) if self.min_sets is None else self.min_sets


class CotravelSearch(_Paged):
    """Vehicles that passed the same devices as a target plate within a gap, ranked."""

    kind: ClassVar[str] = "cotravel"

    plate: str = Field(min_length=1, max_length=32, description="The target's exact plate.")
    since: UtcTime | None = Field(None, description=_SINCE)
    until: UtcTime | None = Field(None, description=_UNTIL)
    gap_seconds: int = Field(
        30, ge=1, le=3600, description="Another vehicle co-passes when within this many seconds."
    )
    min_devices: int = Field(
        3, ge=1, le=1000, description="Co-passes at no fewer distinct devices than this."
    )


class FaceSearch(SearchRequest):
    """Nearest faces to a stored capture or an embedding, filtered by time and place."""

    kind: ClassVar[str] = "face"

    event_id: str | None = Field(
        None, max_length=256, description="A stored face capture whose embedding is the query."
    )
    embedding: list[float] | None = Field(
        None,
        min_length=1,
        max_length=MAX_EMBEDDING_DIM,
        description="The query embedding (same model as the stored captures).",
    )
    top_k: int = Field(10, ge=1, le=MAX_TOP_K, description="How many nearest faces.")
    since: UtcTime | None = Field(None, description=_SINCE)
    until: UtcTime | None = Field(None, description=_UNTIL)
    area: Area | None = Field(None, description="Only faces captured by devices in this area.")
    devices: Identifiers = Field(
        default_factory=list, description="Only these device ids (empty: every device)."
    )

    @model_validator(mode="after")
    def _one_query(self) -> Self:
        if (self.event_id is None) == (self.embedding is None):
            raise ValueError("give exactly one of event_id or embedding")
        if self.embedding is not None:
            if not all(math.isfinite(x) for x in self.embedding):
                raise ValueError("the embedding has a value that is not a finite number")
            if not any(self.embedding):
                raise ValueError("the embedding is all zeros: it has no direction")
        return self


class AlertSearch(_Paged):
    """Alerts by rule, plate, device and time; newest first."""

    kind: ClassVar[str] = "alerts"

    rules: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="Rules: watchlist, cloned_plate, convoy, alarm_context (empty: all).",
    )
    plate: str | None = Field(None, max_length=32, description="Alerts about this plate.")
    device_id: str | None = Field(None, description="Alerts involving this device.")
    since: UtcTime | None = Field(None, description="Earliest occurrence, inclusive.")
    until: UtcTime | None = Field(None, description="Latest occurrence, exclusive.")


class CorrelationSearch(_Paged):
    """Correlations (person-vehicle) by relation, plate, device and time; newest first."""

    kind: ClassVar[str] = "correlations"

    relations: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="Relations, e.g. person_vehicle (empty: all).",
    )
    plate: str | None = Field(None, max_length=32, description="Correlations of this plate.")
    device_id: str | None = Field(None, description="Correlations involving this device.")
    since: UtcTime | None = Field(None, description="Earliest occurrence, inclusive.")
    until: UtcTime | None = Field(None, description="Latest occurrence, exclusive.")


class DeviceStatsSearch(_Paged):
    """Captures per device and hour (or day), from the hourly counts."""

    kind: ClassVar[str] = "device-stats"

    devices: Identifiers = Field(
        default_factory=list, description="Device ids (empty: every device)."
    )
    since: UtcTime | None = Field(None, description="Earliest hour, inclusive.")
    until: UtcTime | None = Field(None, description="Latest hour, exclusive.")
    bucket: Literal["hour", "day"] = Field("hour", description="Count per hour or per day (UTC).")


REQUEST_MODELS: tuple[type[SearchRequest], ...] = (
    PlateSearch,
    TrajectorySearch,
    FirstSeenSearch,
    AreaSearch,
    CollisionSearch,
    CotravelSearch,
    FaceSearch,
    AlertSearch,
    CorrelationSearch,
    DeviceStatsSearch,
)
