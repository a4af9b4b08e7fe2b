"""Per-device capture counts from ``device_hourly`` (kept by materialized views on insert).

The table is a SummingMergeTree: rows of one (device, hour, kind) are summed here, as merges
may not have folded them yet. Counts are of rows inserted, so a redelivery that slipped past
insert deduplication counts twice (the event tables themselves collapse it).
"""

from __future__ import annotations

from typing import Any

from streams.search.requests import DeviceStatsSearch
from streams.search.sql import Params, finish, paging, where
from streams.warehouse.base import Warehouse

HOURLY_TABLE = "device_hourly"

STATS_COLUMNS = ["device_id", "bucket", "kind", "events", "late"]

_BUCKETS = {"hour": "hour", "day": "toStartOfDay(hour)"}


def device_stats(warehouse: Warehouse, request: DeviceStatsSearch) -> list[dict[str, Any]]:
    params = Params()
    conditions = []
    if request.devices:
        conditions.append(f"device_id IN {params.texts(sorted(set(request.devices)))}")
    # A bucket counts when its hour starts in [since, until).
    if request.since is not None:
        conditions.append(f"hour >= toDateTime({params.time(request.since)}, 'UTC')")
    if request.until is not None:
        conditions.append(f"hour < toDateTime({params.time(request.until)}, 'UTC')")
    bucket = _BUCKETS[request.bucket]
    sql = (
        f"SELECT toString(device_id) AS device_id, {bucket} AS bucket, "  # noqa: S608
        f"toString(kind) AS kind, sum(events) AS events, sum(late) AS late "
        f"FROM {HOURLY_TABLE} {where(conditions)} "
        f"GROUP BY device_id, bucket, kind ORDER BY device_id, bucket, kind "
        f"{paging(params, request.limit, request.offset)}"
    )
    rows = warehouse.query(sql, params.values)
    for row in rows:
        row["events"] = int(row["events"])
        row["late"] = int(row["late"])
    return finish(rows, STATS_COLUMNS, times=("bucket",))
