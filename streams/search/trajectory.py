"""Trajectory (every sighting in time order) and first / last seen.

A plate's rows are found through the sort key of plate_captures (plate, then time). A face
track has no index of its own in face_captures (sorted by device, then time): its trajectory
scans the track column of the time range, so give a range on large data.
"""

from __future__ import annotations

from typing import Any

from streams.search.areas import devices_in_area
from streams.search.plates import KEY_READ_SETTINGS, READ_SETTINGS, exact_plate
from streams.search.requests import FirstSeenSearch, TrajectorySearch
from streams.search.sql import Params, distinct_page, finish, time_range, where
from streams.warehouse.base import Warehouse
from streams.warehouse.rows import FACE_TABLE, PLATE_TABLE

TRAJECTORY_COLUMNS = [
    "captured_at",
    "device_id",
    "lat",
    "lon",
    "subject",
    "event_id",
    "images",
]

FIRST_SEEN_COLUMNS = [
    "plate_number",
    "first_seen",
    "first_device_id",
    "first_lat",
    "first_lon",
    "last_seen",
    "last_device_id",
    "last_lat",
    "last_lon",
    "sightings",
    "devices",
]


def trajectory(warehouse: Warehouse, request: TrajectorySearch) -> list[dict[str, Any]]:
    params = Params()
    if request.plate is not None:
        table, subject, settings = PLATE_TABLE, "plate_number", KEY_READ_SETTINGS
        conditions = [f"plate_number = {params.text(exact_plate(request.plate))}"]
    else:
        assert request.track_id is not None
        table, subject, settings = FACE_TABLE, "track_id", READ_SETTINGS
        conditions = [f"track_id = {params.text(request.track_id)}"]
    conditions += time_range(params, "captured_at", request.since, request.until)
    fetch, slot = params.slot()
    sql = (
        f"SELECT captured_at, toString(device_id) AS device_id, lat, lon, "  # noqa: S608
        f"{subject} AS subject, event_id, images FROM {table} {where(conditions)} "
        f"ORDER BY captured_at, event_id LIMIT {fetch} {settings}"
    )
    rows = distinct_page(warehouse, sql, params, slot, limit=request.limit, offset=request.offset)
    return finish(rows, TRAJECTORY_COLUMNS, times=("captured_at",), json=("images",))


def first_seen(warehouse: Warehouse, request: FirstSeenSearch) -> list[dict[str, Any]]:
    """One row: the first and the last sighting, or no row when the plate was not seen.

    Minimum, maximum and arg-min/arg-max ignore duplicate rows by nature and the count is of
    distinct event ids, so this reads without FINAL.
    """
    params = Params()
    plate = exact_plate(request.plate)
    conditions = [f"plate_number = {params.text(plate)}"]
    if request.area is not None:
        devices = devices_in_area(warehouse, request.area)
        if not devices:
            return []
        conditions.append(f"device_id IN {params.texts(devices)}")
    conditions += time_range(params, "captured_at", request.since, request.until)
    # One tuple per end, so device and position come from the same row (a Nullable argument
    # alone would skip rows without a position); ties on the time go to the smaller event id.
    key = "(captured_at, event_id)"
    sql = (
        f"SELECT min(captured_at) AS first_seen, max(captured_at) AS last_seen, "  # noqa: S608
        f"argMin(tuple(toString(device_id), lat, lon), {key}) AS first_at, "
        f"argMax(tuple(toString(device_id), lat, lon), {key}) AS last_at, "
        f"toUInt32(uniqExact(event_id)) AS sightings, "
        f"toUInt32(uniqExact(device_id)) AS devices "
        f"FROM {PLATE_TABLE} {where(conditions)} HAVING count() > 0 {KEY_READ_SETTINGS}"
    )
    rows = warehouse.query(sql, params.values)
    for row in rows:
        row["plate_number"] = plate
        for end in ("first", "last"):
            device, lat, lon = row.pop(f"{end}_at")
            row.update({f"{end}_device_id": device, f"{end}_lat": lat, f"{end}_lon": lon})
    return finish(rows, FIRST_SEEN_COLUMNS, times=("first_seen", "last_seen"))
