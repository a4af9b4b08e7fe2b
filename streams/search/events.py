"""Alerts and correlations as the correlation rules raised them, newest first.

Both tables are sorted by rule (or relation) and time: a rule filter and a time range read few
granules. A plate or device filter matches any element of the record's plate or device list.
FINAL collapses a record stored twice (its id is in the sort key).
"""

from __future__ import annotations

from typing import Any

from streams.search.plates import exact_plate
from streams.search.requests import AlertSearch, CorrelationSearch
from streams.search.sql import Params, finish, paging, time_range, where
from streams.warehouse.base import Warehouse
from streams.warehouse.rows import ALERT_TABLE, CORRELATION_TABLE

ALERT_COLUMNS = [
    "occurred_at",
    "rule",
    "priority",
    "subject",
    "plate_numbers",
    "device_ids",
    "event_ids",
    "raised_at",
    "late",
    "reason",
    "case_ref",
    "watchlist_entry_id",
    "alert_id",
    "evidence",
]

CORRELATION_COLUMNS = [
    "occurred_at",
    "relation",
    "subject",
    "plate_numbers",
    "device_ids",
    "event_ids",
    "correlation_id",
    "evidence",
]


def _common(
    params: Params,
    plate: str | None,
    device_id: str | None,
    request: AlertSearch | CorrelationSearch,
) -> list[str]:
    conditions = time_range(params, "occurred_at", request.since, request.until)
    if plate is not None:
        conditions.append(f"has(plate_numbers, {params.text(exact_plate(plate))})")
    if device_id is not None:
        conditions.append(f"has(device_ids, {params.text(device_id)})")
    return conditions


def alerts(warehouse: Warehouse, request: AlertSearch) -> list[dict[str, Any]]:
    params = Params()
    conditions = _common(params, request.plate, request.device_id, request)
    if request.rules:
        conditions.append(f"rule IN {params.texts(request.rules)}")
    columns = ", ".join("toString(rule) AS rule" if c == "rule" else c for c in ALERT_COLUMNS)
    sql = (
        f"SELECT {columns} FROM {ALERT_TABLE} FINAL {where(conditions)} "  # noqa: S608
        f"ORDER BY occurred_at DESC, alert_id {paging(params, request.limit, request.offset)}"
    )
    rows = warehouse.query(sql, params.values)
    return finish(rows, ALERT_COLUMNS, times=("occurred_at", "raised_at"), json=("evidence",))


def correlations(warehouse: Warehouse, request: CorrelationSearch) -> list[dict[str, Any]]:
    params = Params()
    conditions = _common(params, request.plate, request.device_id, request)
    if request.relations:
        conditions.append(f"relation IN {params.texts(request.relations)}")
    columns = ", ".join(
        "toString(relation) AS relation" if c == "relation" else c for c in CORRELATION_COLUMNS
    )
    sql = (
        f"SELECT {columns} FROM {CORRELATION_TABLE} FINAL {where(conditions)} "  # noqa: S608
        f"ORDER BY occurred_at DESC, correlation_id "
        f"{paging(params, request.limit, request.offset)}"
    )
    rows = warehouse.query(sql, params.values)
    return finish(rows, CORRELATION_COLUMNS, times=("occurred_at",), json=("evidence",))
