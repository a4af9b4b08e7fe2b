"""Face search (以图搜图): the stored faces nearest to a query embedding by cosine distance.

The query is an embedding, or the embedding of a stored capture (``event_id``; that capture is
left out of its own results). Embeddings of the indexed length (128) are searched in
``face_vectors``:

- without filters, through its HNSW index (approximate: recall is measured by the benchmark);
- with a time, device or area filter that leaves at most ``EXACT_MAX_ROWS`` rows to read, by
  exact distance over those rows: a device filter reads ``face_captures`` (sorted by device), a
  time filter ``face_vectors`` with the engine's ``prefilter`` strategy (filter first, then
  compare). The rows to read are what the sort key and the partitions leave (the engine's
  estimate), not the rows that match: where a day's part holds fewer faces than a granule per
  device, a device filter reads every part whole;
- with a broader filter, through the index asked for ``FETCH_FACTOR`` times the neighbours that
  hold ``top_k`` passing the filter at the share of faces that pass it (``postfilter``); when
  that share is too small for the index to find ``top_k`` of them, or fewer than ``top_k``
  survive the filter, the exact search runs instead, so a filter never loses results.

Other lengths are searched in ``face_captures`` by exact distance over the rows of that length.
Duplicate rows are dropped by event id after the nearest-neighbour step (FINAL would stop the
index from being used), which is why a few more neighbours than ``top_k`` are fetched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streams.search.areas import narrow_devices
from streams.search.requests import FaceSearch
from streams.search.sql import (
    TIME_TYPE,
    Params,
    distinct_page,
    fetch_size,
    finish,
    stored_time,
    time_range,
    where,
)
from streams.warehouse.base import Warehouse
from streams.warehouse.rows import FACE_TABLE, FACE_VECTOR_TABLE, INDEXED_EMBEDDING_DIM

# Exact search over this many vectors costs about as much as an index search with a filter.
EXACT_MAX_ROWS = 100_000
# A filtered index search asks for this many times the neighbours that, at the share of faces
# passing the filter, hold top_k that pass on average. Measured for a 3 km area (2-3 % of 1
# million faces): recall@10 against the exact top 10 0.91 with 2, 0.97 with 4, 0.985 with 8
# (at twice the time).
FETCH_FACTOR = 4.0
# Below this share of faces passing the filter the index reads about as much as the exact
# search over every face, and may still not find top_k that pass.
MIN_INDEX_SHARE = 0.01
# The engine refuses an index search with a larger LIMIT unless told otherwise.
MAX_INDEX_LIMIT = 10_000
# Candidates the HNSW search keeps per step (ef_search); higher is slower and more exact.
HNSW_CANDIDATES = 256

FACE_COLUMNS = [
    "distance",
    "captured_at",
    "device_id",
    "lat",
    "lon",
    "track_id",
    "gender",
    "quality",
    "event_id",
    "images",
]


def query_embedding(warehouse: Warehouse, request: FaceSearch) -> list[float]:
    if request.embedding is not None:
        return list(request.embedding)
    # Neither table is sorted by event id: the three monthly parts of face_vectors scan faster
    # than the daily parts of face_captures, which holds the embeddings of other lengths.
    rows: list[dict[str, Any]] = []
    for table in (FACE_VECTOR_TABLE, FACE_TABLE):
        params = Params()
        rows = warehouse.query(
            f"SELECT embedding FROM {table} "  # noqa: S608
            f"WHERE event_id = {params.text(request.event_id or '')} LIMIT 1",
            params.values,
        )
        if rows:
            break
    if not rows:
        raise ValueError(f"no face capture with event_id {request.event_id!r}")
    embedding = [float(x) for x in rows[0]["embedding"]]
    if not embedding or not any(embedding):
        raise ValueError(f"the face capture {request.event_id!r} has no embedding")
    return embedding


def face_search(warehouse: Warehouse, request: FaceSearch) -> list[dict[str, Any]]:
    embedding = query_embedding(warehouse, request)
    devices = narrow_devices(warehouse, request.area, request.devices)
    if devices is not None and not devices:
        return []
    if len(embedding) == INDEXED_EMBEDDING_DIM:
        found = _indexed(warehouse, request, embedding, devices)
    else:
        found = _exact(warehouse, request, embedding, devices, FACE_TABLE)
    return _with_capture_details(warehouse, found)


def _filters(params: Params, request: FaceSearch, devices: list[str] | None) -> list[str]:
    conditions = time_range(params, "captured_at", request.since, request.until)
    if devices is not None:
        conditions.append(f"device_id IN {params.texts(devices)}")
    if request.event_id is not None:
        conditions.append(f"event_id != {params.text(request.event_id)}")
    return conditions


def nearest_sql(
    table: str, params: Params, embedding: list[float], conditions: list[str], fetch: str
) -> str:
    """The nearest rows first. The shape is what the vector index needs: ``ORDER BY`` the
    distance to a constant vector (a bound parameter is one), ``LIMIT`` a constant."""
    query = params.add(embedding, "Array(Float32)", "q")
    return (
        f"SELECT event_id, toString(device_id) AS device_id, captured_at, lat, lon, "  # noqa: S608
        f"cosineDistance(embedding, {query}) AS distance FROM {table} {where(conditions)} "
        f"ORDER BY distance LIMIT {fetch}"
    )


def _nearest(
    warehouse: Warehouse,
    request: FaceSearch,
    embedding: list[float],
    conditions: Callable[[Params], list[str]],
    table: str,
    settings: str,
) -> list[dict[str, Any]]:
    """The ``top_k`` nearest distinct faces (duplicates dropped after the index step)."""
    params = Params()
    fetch, slot = params.slot()
    sql = nearest_sql(table, params, embedding, conditions(params), fetch)
    if settings:
        sql += f" SETTINGS {settings}"
    rows = distinct_page(warehouse, sql, params, slot, limit=request.top_k, offset=0)
    return sorted(rows, key=lambda row: (float(row["distance"]), str(row["event_id"])))


def _exact(
    warehouse: Warehouse,
    request: FaceSearch,
    embedding: list[float],
    devices: list[str] | None,
    table: str,
) -> list[dict[str, Any]]:
    def conditions(params: Params) -> list[str]:
        found = _filters(params, request, devices)
        if table == FACE_TABLE:
            found.append(f"length(embedding) = {params.count(len(embedding))}")
        return found

    # prefilter: the filters first, then the exact distance of every remaining row.
    settings = "vector_search_filter_strategy = 'prefilter'" if table == FACE_VECTOR_TABLE else ""
    return _nearest(warehouse, request, embedding, conditions, table, settings)


def _indexed(
    warehouse: Warehouse, request: FaceSearch, embedding: list[float], devices: list[str] | None
) -> list[dict[str, Any]]:
    def conditions(params: Params) -> list[str]:
        return _filters(params, request, devices)

    filtered = devices is not None or request.since is not None or request.until is not None
    settings = (
        f"hnsw_candidate_list_size_for_search = {HNSW_CANDIDATES}, "
        f"max_limit_for_vector_search_queries = {MAX_INDEX_LIMIT}"
    )
    if filtered:
        # Exact search reads the table sorted the filter's way (face_captures by device then
        # time, face_vectors by time): cheap when the sort key leaves few rows to read.
        table = FACE_TABLE if devices is not None else FACE_VECTOR_TABLE
        if _rows_to_read(warehouse, table, conditions) <= EXACT_MAX_ROWS:
            return _exact(warehouse, request, embedding, devices, table)
        params = Params()
        counted = warehouse.query(
            f"SELECT count() AS n, "  # noqa: S608
            f"(SELECT count() FROM {FACE_VECTOR_TABLE}) AS total "
            f"FROM {FACE_VECTOR_TABLE} {where(conditions(params))}",
            params.values,
        )
        share = int(counted[0]["n"]) / max(1, int(counted[0]["total"]))
        if share < MIN_INDEX_SHARE:
            return _exact(warehouse, request, embedding, devices, table)
        # The engine multiplies the query's LIMIT (top_k and the slack for duplicates); its
        # settings take numbers only, and this one is computed here, not given.
        neighbours = FETCH_FACTOR * request.top_k / share
        multiplier = max(1.0, neighbours / fetch_size(request.top_k))
        settings += (
            ", vector_search_filter_strategy = 'postfilter'"
            f", vector_search_index_fetch_multiplier = {multiplier:.1f}"
        )
    rows = _nearest(warehouse, request, embedding, conditions, FACE_VECTOR_TABLE, settings)
    if filtered and len(rows) < request.top_k:
        return _exact(warehouse, request, embedding, devices, FACE_VECTOR_TABLE)
    return rows


def _rows_to_read(
    warehouse: Warehouse, table: str, conditions: Callable[[Params], list[str]]
) -> int:
    """The rows a query of ``table`` with these conditions reads, as the engine estimates them
    from its sort key and partitions (no rows are read). Without an estimate (a Distributed
    table may give none), every row."""
    params = Params()
    estimated = warehouse.query(
        f"EXPLAIN ESTIMATE SELECT 1 FROM {table} {where(conditions(params))}",  # noqa: S608
        params.values,
    )
    if not estimated:
        return 2**63 - 1
    return sum(int(row["rows"]) for row in estimated)


def _with_capture_details(
    warehouse: Warehouse, found: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Track, attributes and images from face_captures, read through its key (device, time)."""
    if not found:
        return []
    params = Params()
    times = [stored_time(r["captured_at"]) for r in found]
    conditions = [
        f"device_id IN {params.texts(sorted({str(r['device_id']) for r in found}))}",
        f"captured_at IN {params.add(times, f'Array({TIME_TYPE})')}",
        f"event_id IN {params.texts([str(r['event_id']) for r in found])}",
    ]
    details = warehouse.query(
        f"SELECT event_id, track_id, toString(gender) AS gender, quality, images "  # noqa: S608
        f"FROM {FACE_TABLE} {where(conditions)} LIMIT 1 BY event_id",
        params.values,
    )
    by_id = {str(d["event_id"]): d for d in details}
    rows = []
    for row in found:
        detail = by_id.get(str(row["event_id"]), {})
        rows.append(
            {
                **row,
                "track_id": detail.get("track_id"),
                "gender": detail.get("gender"),
                "quality": detail.get("quality"),
                "images": detail.get("images"),
            }
        )
    return finish(rows, FACE_COLUMNS, times=("captured_at",), json=("images",))
