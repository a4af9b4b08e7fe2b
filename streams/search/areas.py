"""Areas: which devices lie in a circle or polygon, and the area (stakeout) search.

A capture is in an area when its device's last known position (``device_positions``, kept from
the captures' own positions) lies in it: the circle test is the haversine distance on the mean
Earth sphere (boundary included), the polygon test the ray casting of
:mod:`streams.domain.geo`. The engine narrows the devices with a bounding box; the exact test
runs here so both shapes mean exactly what the domain functions say. The capture tables are then
read with ``device_id IN (...)``: the sort key of faces and alarms, and the ``by_device``
projection of plates, turn that into a few ranges per device.
"""

from __future__ import annotations

from typing import Any

from streams.domain.geo import point_in_polygon, within_radius
from streams.search.requests import Area, AreaSearch
from streams.search.sql import Params, distinct_page, finish, time_range, where
from streams.warehouse.base import Warehouse
from streams.warehouse.rows import ALARM_TABLE, FACE_TABLE, PLATE_TABLE

POSITIONS_TABLE = "device_positions"

AREA_COLUMNS = [
    "captured_at",
    "kind",
    "subject",
    "device_id",
    "lat",
    "lon",
    "event_id",
    "images",
]

# (table, the column that names what was seen) per capture kind.
_SOURCES: dict[str, tuple[str, str]] = {
    "plate": (PLATE_TABLE, "plate_number"),
    "face": (FACE_TABLE, "track_id"),
    "alarm": (ALARM_TABLE, "toString(alarm_type)"),
}


def contains(area: Area, lat: float, lon: float) -> bool:
    if area.polygon is not None:
        return point_in_polygon(lat, lon, area.polygon)
    assert area.lat is not None
    assert area.lon is not None
    assert area.radius_m is not None
    return within_radius(lat, lon, area.lat, area.lon, area.radius_m)


def devices_in_area(warehouse: Warehouse, area: Area) -> list[str]:
    """Ids of the devices whose last known position lies in ``area``, sorted."""
    params = Params()
    min_lat, max_lat, min_lon, max_lon = area.bounding_box()
    conditions = [
        f"lat >= {params.add(min_lat, 'Float64')}",
        f"lat <= {params.add(max_lat, 'Float64')}",
        f"lon >= {params.add(min_lon, 'Float64')}",
        f"lon <= {params.add(max_lon, 'Float64')}",
    ]
    # FINAL: a device that moved has one row per position until merged; the newest counts.
    rows = warehouse.query(
        f"SELECT device_id, lat, lon FROM {POSITIONS_TABLE} FINAL {where(conditions)}",  # noqa: S608
        params.values,
    )
    return sorted(
        str(r["device_id"]) for r in rows if contains(area, float(r["lat"]), float(r["lon"]))
    )


def narrow_devices(warehouse: Warehouse, area: Area | None, devices: list[str]) -> list[str] | None:
    """The device filter of a request: ``None`` for no filter, else the allowed ids (maybe none).

    With both an area and a device list, a device must be in both.
    """
    if area is None:
        return sorted(set(devices)) if devices else None
    inside = devices_in_area(warehouse, area)
    if devices:
        wanted = set(devices)
        inside = [d for d in inside if d in wanted]
    return inside


def area_search(warehouse: Warehouse, request: AreaSearch) -> list[dict[str, Any]]:
    devices = devices_in_area(warehouse, request.area)
    if not devices:
        return []
    params = Params()
    device_list = params.texts(devices)
    fetch, slot = params.slot()
    branches = []
    for kind in dict.fromkeys(request.kinds):
        table, subject = _SOURCES[kind]
        conditions = [
            f"device_id IN {device_list}",
            *time_range(params, "captured_at", request.since, request.until),
        ]
        # Each branch keeps its newest rows only; duplicates are dropped after the union.
        branches.append(
            f"SELECT {params.text(kind)} AS kind, event_id, captured_at, "  # noqa: S608
            f"toString(device_id) AS device_id, lat, lon, {subject} AS subject, images "
            f"FROM {table} {where(conditions)} "
            f"ORDER BY captured_at DESC, event_id LIMIT {fetch}"
        )
    union = " UNION ALL ".join(f"({b})" for b in branches)
    sql = (
        f"SELECT * FROM ({union}) "  # noqa: S608
        f"ORDER BY captured_at DESC, event_id, kind LIMIT {fetch}"
    )
    rows = distinct_page(
        warehouse,
        sql,
        params,
        slot,
        limit=request.limit,
        offset=request.offset,
        key=lambda row: (row["kind"], row["event_id"]),
    )
    return finish(rows, AREA_COLUMNS, times=("captured_at",), json=("images",))
