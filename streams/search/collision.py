"""Collision analysis (区域碰撞): what was present in at least k of several (area, range) sets.

Plates: a plate matches a set when it was read by a device of the set's area within the set's
range; results are the plates matching ``min_sets`` sets or more, ranked by sets matched, then
sightings in those sets, then plate.

Faces: there is no identity to compare, only similarity. A face matches a set when it lies in
it, or when a face of that set is within ``face_threshold`` cosine distance of it (same
embedding length only). Every face of the sets is a candidate, so the faces of one matched
person appear as several rows; ranked by sets matched, then matching faces. The pairwise
comparison is quadratic: sets with more than ``MAX_COLLISION_FACES`` faces together are refused.
"""

from __future__ import annotations

from typing import Any

from streams.search.areas import devices_in_area
from streams.search.requests import CollisionSearch
from streams.search.sql import Params, finish, paging, rfc3339, time_range, where
from streams.warehouse.base import Warehouse
from streams.warehouse.rows import FACE_TABLE, PLATE_TABLE

MAX_COLLISION_FACES = 2_000

PLATE_COLLISION_COLUMNS = ["plate_number", "sets_matched", "sightings", "sets"]
FACE_COLLISION_COLUMNS = [
    "event_id",
    "set",
    "captured_at",
    "device_id",
    "sets_matched",
    "matching_faces",
    "sets",
]


def _set_branches(
    warehouse: Warehouse, request: CollisionSearch, params: Params, select: str, table: str
) -> list[str]:
    """One SELECT per set whose area has devices (a set without devices matches nothing)."""
    branches = []
    for index, item in enumerate(request.sets):
        devices = devices_in_area(warehouse, item.area)
        if not devices:
            continue
        conditions = [
            f"device_id IN {params.texts(devices)}",
            *time_range(params, "captured_at", item.since, item.until),
        ]
        branches.append(
            f"SELECT toUInt8({index}) AS s, {select} FROM {table} {where(conditions)}"  # noqa: S608
        )
    return branches


def plate_collision(warehouse: Warehouse, request: CollisionSearch) -> list[dict[str, Any]]:
    params = Params()
    branches = _set_branches(
        warehouse,
        request,
        params,
        "plate_number, event_id, captured_at, toString(device_id) AS device_id",
        PLATE_TABLE,
    )
    if len(branches) < request.required_sets:
        return []
    union = " UNION ALL ".join(f"({b} AND plate_number != '')" for b in branches)
    # Per (plate, set): first sighting and distinct reads; then per plate over its sets.
    sql = f"""
SELECT plate_number,
       toUInt32(count()) AS sets_matched,
       toUInt32(sum(reads)) AS sightings,
       arraySort(groupArray(s)) AS set_indexes,
       arraySort((x, i) -> i, groupArray(first), groupArray(s)) AS firsts,
       arraySort((x, i) -> i, groupArray(device), groupArray(s)) AS devices,
       arraySort((x, i) -> i, groupArray(reads), groupArray(s)) AS set_reads
FROM
(
    SELECT plate_number, s, min(captured_at) AS first,
           argMin(device_id, (captured_at, event_id)) AS device,
           toUInt32(uniqExact(event_id)) AS reads
    FROM ({union})
    GROUP BY plate_number, s
)
GROUP BY plate_number
HAVING sets_matched >= {params.count(request.required_sets)}
ORDER BY sets_matched DESC, sightings DESC, plate_number
{paging(params, request.limit, request.offset)}
"""  # noqa: S608  (table and column names only; values are bound)
    rows = warehouse.query(sql, params.values)
    for row in rows:
        row["sets"] = [
            {"set": int(s), "first_seen": rfc3339(first), "device_id": device, "sightings": reads}
            for s, first, device, reads in zip(
                row["set_indexes"], row["firsts"], row["devices"], row["set_reads"], strict=True
            )
        ]
    return finish(rows, PLATE_COLLISION_COLUMNS)


def face_collision(warehouse: Warehouse, request: CollisionSearch) -> list[dict[str, Any]]:
    params = Params()
    branches = _set_branches(
        warehouse,
        request,
        params,
        "event_id, captured_at, toString(device_id) AS device_id, embedding",
        FACE_TABLE,
    )
    if len(branches) < request.required_sets:
        return []
    # The branches hold column names and placeholders only.
    union = " UNION ALL ".join(f"({b} AND notEmpty(embedding))" for b in branches)
    faces = f"(SELECT * FROM ({union}) LIMIT 1 BY s, event_id)"  # noqa: S608
    own = warehouse.query(
        f"SELECT event_id, groupUniqArray(s) AS sets, min(captured_at) AS captured_at, "  # noqa: S608
        f"any(device_id) AS device_id FROM {faces} GROUP BY event_id",
        params.values,
    )
    if len(own) > MAX_COLLISION_FACES:
        raise ValueError(
            f"the sets hold {len(own)} faces together, more than {MAX_COLLISION_FACES} can be "
            "compared pairwise: narrow the areas or the time ranges"
        )
    if not own:
        return []
    threshold = params.add(request.face_threshold, "Float64")
    # Pairs of distinct faces with embeddings of one length within the threshold; per candidate
    # and set of the other face, the earliest such face.
    pairs = warehouse.query(
        f"""
SELECT a.event_id AS event_id, b.s AS s, min(b.captured_at) AS first_seen,
       argMin(b.event_id, (b.captured_at, b.event_id)) AS first_event_id,
       argMin(b.device_id, (b.captured_at, b.event_id)) AS first_device_id,
       toUInt32(uniqExact(b.event_id)) AS faces
FROM {faces} AS a
INNER JOIN {faces} AS b ON length(a.embedding) = length(b.embedding)
WHERE a.event_id != b.event_id AND cosineDistance(a.embedding, b.embedding) <= {threshold}
GROUP BY a.event_id, b.s
""",  # noqa: S608  (table and column names only; values are bound)
        params.values,
    )
    return _rank_faces(request, own, pairs)


def _rank_faces(
    request: CollisionSearch, own: list[dict[str, Any]], pairs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Per candidate face: its own sets plus the sets of its similar faces."""
    matched: dict[str, dict[int, dict[str, Any]]] = {}
    similar: dict[str, int] = {}
    for face in own:
        entry = {
            "first_seen": rfc3339(face["captured_at"]),
            "event_id": face["event_id"],
            "device_id": face["device_id"],
        }
        matched[face["event_id"]] = {int(s): dict(entry) for s in face["sets"]}
        similar[face["event_id"]] = 0
    for pair in pairs:
        sets = matched[pair["event_id"]]
        index = int(pair["s"])
        first = {
            "first_seen": rfc3339(pair["first_seen"]),
            "event_id": pair["first_event_id"],
            "device_id": pair["first_device_id"],
        }
        if index not in sets or str(first["first_seen"]) < str(sets[index]["first_seen"]):
            sets[index] = first
        similar[pair["event_id"]] += int(pair["faces"])
    rows = []
    for face in own:
        event_id = face["event_id"]
        sets = matched[event_id]
        if len(sets) < request.required_sets:
            continue
        rows.append(
            {
                "event_id": event_id,
                "set": min(int(s) for s in face["sets"]),
                "captured_at": rfc3339(face["captured_at"]),
                "device_id": face["device_id"],
                "sets_matched": len(sets),
                "matching_faces": similar[event_id],
                "sets": [{"set": s, **sets[s]} for s in sorted(sets)],
            }
        )
    rows.sort(
        key=lambda r: (-r["sets_matched"], -r["matching_faces"], r["captured_at"], r["event_id"])
    )
    page = rows[request.offset : request.offset + request.limit]
    return finish(page, FACE_COLLISION_COLUMNS)
