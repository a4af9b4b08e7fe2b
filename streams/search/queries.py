"""``run_search``: one request in, one JSON-ready result out, whichever kind it is."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from streams.search import areas, collision, cotravel, events, faces, plates, stats, trajectory
from streams.search.requests import (
    REQUEST_MODELS,
    AlertSearch,
    AreaSearch,
    CollisionSearch,
    CorrelationSearch,
    CotravelSearch,
    DeviceStatsSearch,
    FaceSearch,
    FirstSeenSearch,
    PlateSearch,
    SearchRequest,
    TrajectorySearch,
)
from streams.warehouse.base import Warehouse

KINDS: dict[str, type[SearchRequest]] = {model.kind: model for model in REQUEST_MODELS}


class SearchResult(BaseModel):
    """Rows of one search: JSON-ready values (times as RFC 3339 UTC strings with milliseconds
    and ``Z``, images and evidence as lists), and the column order a table printer should use."""

    kind: str = Field(description="The query kind that produced the rows.")
    columns: list[str] = Field(description="Column order for display.")
    rows: list[dict[str, Any]] = Field(description="The result rows, in result order.")


Runner = Callable[[Warehouse, Any], list[dict[str, Any]]]


def _collision(warehouse: Warehouse, request: CollisionSearch) -> list[dict[str, Any]]:
    if request.target == "face":
        return collision.face_collision(warehouse, request)
    return collision.plate_collision(warehouse, request)


_RUNNERS: dict[type[SearchRequest], tuple[Runner, Callable[[Any], list[str]]]] = {
    PlateSearch: (plates.plate_search, lambda _: plates.PLATE_COLUMNS),
    TrajectorySearch: (trajectory.trajectory, lambda _: trajectory.TRAJECTORY_COLUMNS),
    FirstSeenSearch: (trajectory.first_seen, lambda _: trajectory.FIRST_SEEN_COLUMNS),
    AreaSearch: (areas.area_search, lambda _: areas.AREA_COLUMNS),
    CollisionSearch: (
        _collision,
        lambda r: (
            collision.FACE_COLLISION_COLUMNS
            if r.target == "face"
            else collision.PLATE_COLLISION_COLUMNS
        ),
    ),
    CotravelSearch: (cotravel.cotravel, lambda _: cotravel.COTRAVEL_COLUMNS),
    FaceSearch: (faces.face_search, lambda _: faces.FACE_COLUMNS),
    AlertSearch: (events.alerts, lambda _: events.ALERT_COLUMNS),
    CorrelationSearch: (events.correlations, lambda _: events.CORRELATION_COLUMNS),
    DeviceStatsSearch: (stats.device_stats, lambda _: stats.STATS_COLUMNS),
}


def run_search(warehouse: Warehouse, request: SearchRequest) -> SearchResult:
    """Run one search.

    Raises:
        ValueError: the request cannot be answered as asked (e.g. a pattern of wildcards only,
            an unknown face capture, too many faces to compare); the message says why.
        streams.errors.WarehouseError: the warehouse failed.
    """
    entry = _RUNNERS.get(type(request))
    if entry is None:
        raise ValueError(f"no search of kind {getattr(request, 'kind', '?')!r}")
    runner, columns = entry
    rows = runner(warehouse, request)
    return SearchResult(kind=request.kind, columns=list(columns(request)), rows=rows)
