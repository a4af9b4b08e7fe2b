"""Co-travel (伴随车): vehicles that pass the target's devices within a gap of the target.

Definition: a co-pass is a read of another plate at a device within ``gap_seconds`` of a read of
the target at the same device (in ``[since, until)``). Results are the plates with co-passes at
``min_devices`` or more distinct devices, ranked by distinct shared devices, then co-passes
(distinct reads), then plate; with the first and last co-pass.

The target's passes come first, from the plate sort key; the second query reads only the
target's devices (``by_device`` projection) over the span of its passes and joins on device.
Counts are of distinct event ids, so duplicate rows change nothing and no FINAL is needed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from streams.search.plates import exact_plate
from streams.search.requests import CotravelSearch
from streams.search.sql import TIME_TYPE, Params, finish, paging, stored_time, time_range, where
from streams.warehouse.base import Warehouse
from streams.warehouse.rows import PLATE_TABLE

# A target with more passes than this in the range is a bus or a taxi: narrow the range.
MAX_TARGET_PASSES = 20_000

COTRAVEL_COLUMNS = [
    "plate_number",
    "shared_devices",
    "co_passes",
    "first_co_pass",
    "last_co_pass",
    "device_ids",
]


def cotravel(warehouse: Warehouse, request: CotravelSearch) -> list[dict[str, Any]]:
    params = Params()
    plate = exact_plate(request.plate)
    conditions = [
        f"plate_number = {params.text(plate)}",
        *time_range(params, "captured_at", request.since, request.until),
    ]
    passes = warehouse.query(
        f"SELECT DISTINCT toString(device_id) AS device_id, captured_at "  # noqa: S608
        f"FROM {PLATE_TABLE} {where(conditions)} "
        f"ORDER BY captured_at LIMIT {MAX_TARGET_PASSES + 1}",
        params.values,
    )
    if len(passes) > MAX_TARGET_PASSES:
        raise ValueError(
            f"{plate} has more than {MAX_TARGET_PASSES} reads in the range: narrow since/until"
        )
    if not passes:
        return []
    devices = sorted({str(p["device_id"]) for p in passes})
    if len(devices) < request.min_devices:
        return []
    gap = timedelta(seconds=request.gap_seconds)
    start = stored_time(passes[0]["captured_at"]) - gap
    end = stored_time(passes[-1]["captured_at"]) + gap

    params = Params()
    target_devices = params.add([str(p["device_id"]) for p in passes], "Array(String)")
    target_times = params.add(
        [stored_time(p["captured_at"]) for p in passes], f"Array({TIME_TYPE})"
    )
    gap_ms = params.count(request.gap_seconds * 1000)
    others = [
        f"device_id IN {params.texts(devices)}",
        f"captured_at >= {params.time(start)}",
        f"captured_at <= {params.time(end)}",
        f"plate_number != {params.text(plate)}",
        "plate_number != ''",
    ]
    sql = f"""
SELECT plate_number,
       toUInt32(uniqExact(o.device_id)) AS shared_devices,
       toUInt32(uniqExact(o.event_id)) AS co_passes,
       min(o.captured_at) AS first_co_pass,
       max(o.captured_at) AS last_co_pass,
       arraySort(groupUniqArray(toString(o.device_id))) AS device_ids
FROM
(
    SELECT event_id, toString(device_id) AS device_id, captured_at, plate_number
    FROM {PLATE_TABLE} {where(others)}
) AS o
INNER JOIN
(
    SELECT pass.1 AS device_id, pass.2 AS at
    FROM (SELECT arrayJoin(arrayZip({target_devices}, {target_times})) AS pass)
) AS t ON o.device_id = t.device_id
WHERE abs(toUnixTimestamp64Milli(o.captured_at) - toUnixTimestamp64Milli(t.at)) <= {gap_ms}
GROUP BY plate_number
HAVING shared_devices >= {params.count(request.min_devices)}
ORDER BY shared_devices DESC, co_passes DESC, plate_number
{paging(params, request.limit, request.offset)}
"""  # noqa: S608  (table and column names only; values are bound)
    rows = warehouse.query(sql, params.values)
    return finish(rows, COTRAVEL_COLUMNS, times=("first_co_pass", "last_co_pass"))
