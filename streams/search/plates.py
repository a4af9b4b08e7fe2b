"""Plate search: exact, wildcard and fuzzy plate numbers, unreadable plates, vehicle attributes.

- exact: the input is canonicalised as the pipeline canonicalises reads (``浙a 8o015`` is
  ``浙A80015``), then compared with ``plate_number``: the table's sort key, so a few granules
  per day partition are read.
- wildcard: ``*`` any run of characters, ``?`` exactly one, turned into a LIKE pattern with the
  LIKE metacharacters of the input escaped. A literal prefix uses the sort key. Otherwise the
  newest day of the range is scanned first (a common pattern fills its page there); then the
  (plate, day) pairs of the newest matches are looked up, and ``plate_captures`` is read for
  those plates on those days only, instead of scanning the plate column of every day. Over a
  short range the pattern is matched against ``plate_days`` (one row per plate and day, sorted
  newest day first); over a longer one against ``plate_names`` (each plate once, with its
  days), which has fewer rows than a fortnight of ``plate_days``.
- fuzzy: equality on ``plate_folded`` (:func:`streams.domain.plates.fold_plate`: province dropped,
  OCR-confusable characters folded to one representative), helped by its bloom filter index.
  Fuzzy and wildcard combine: the pattern is folded and matched against ``plate_folded``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from streams.domain.plates import canonical_plate, fold_plate
from streams.search.areas import narrow_devices
from streams.search.requests import PlateSearch
from streams.search.sql import Params, distinct_page, finish, stored_time, time_range, where
from streams.warehouse.base import Warehouse
from streams.warehouse.rows import PLATE_DAYS_TABLE, PLATE_NAMES_TABLE, PLATE_TABLE

WILDCARDS = "*?"

# Reading in key order merges one stream per part (a day each): for the few granules a plate
# touches, reading them all and sorting the matches is cheaper.
READ_SETTINGS = "SETTINGS optimize_read_in_order = 0"
# The by_device projection serves device and area filters only. Where it cannot help, weighing
# it still costs a look at the projection of every day's part (a fifth of an exact plate
# lookup over 90 days, measured before migration 0005).
KEY_READ_SETTINGS = READ_SETTINGS + ", optimize_use_projections = 0"
# A pattern page asks plate_days for this many times more pairs on each retry. Past the cap it
# scans the whole range: each pair costs a granule read, so a few thousand cost as much as a
# scan of a fortnight, and filters that strict need the scan anyway.
PAIRS_GROWTH = 4
MAX_PAIRS = 2_000
NEWEST_DAY = timedelta(days=1)
# Pairs of a range longer than this are found by matching each plate once (plate_names) rather
# than once per day it was read (plate_days). A city's distinct plates are those of a few days
# (100 million reads over 90 days: 4.3 million plates, 0.7 million plate-days a day); a rare
# pattern reads all the rows the range has, and a common one mostly stops at the newest day.
NAMES_AFTER = timedelta(days=14)

PLATE_COLUMNS = [
    "captured_at",
    "plate_number",
    "device_id",
    "lat",
    "lon",
    "plate_color",
    "vehicle_color",
    "vehicle_type",
    "vehicle_brand",
    "direction",
    "speed_kmh",
    "plate_raw",
    "confidence",
    "event_id",
    "images",
]

_SELECT = ", ".join(
    "toString(device_id) AS device_id" if c == "device_id" else c
    for c in PLATE_COLUMNS
    if c not in ("plate_color", "vehicle_color", "vehicle_type", "vehicle_brand", "direction")
)
# LowCardinality columns come back as plain strings on both backends.
_SELECT += ", " + ", ".join(
    f"toString({c}) AS {c}"
    for c in ("plate_color", "vehicle_color", "vehicle_type", "vehicle_brand", "direction")
)


def has_wildcard(text: str) -> bool:
    return any(ch in text for ch in WILDCARDS)


def wildcard_to_like(pattern: str) -> str:
    """A plate pattern with ``*`` and ``?`` as a LIKE pattern; LIKE's own ``%``, ``_`` and ``\\``
    in the input are escaped so they match themselves.

    Raises:
        ValueError: the pattern is empty or has nothing but wildcards (it would match every
            plate: that is a time or area search, not a plate search).
    """
    if not pattern:
        raise ValueError("the plate pattern is empty")
    if all(ch in WILDCARDS for ch in pattern):
        raise ValueError(
            f"the plate pattern {pattern!r} has only wildcards: give at least one character"
        )
    out = []
    for ch in pattern:
        if ch == "*":
            out.append("%")
        elif ch == "?":
            out.append("_")
        elif ch in "%_\\":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def normalise_pattern(text: str) -> str:
    """Upper case without spaces, as plates are stored (patterns are not canonicalised: a
    partial plate is not a plate)."""
    return "".join(text.split()).upper()


def exact_plate(text: str) -> str:
    """The canonical form of a typed plate; a string that is no valid plate is kept as typed
    (upper case, no spaces) so foreign or odd plates remain searchable."""
    return canonical_plate(text) or normalise_pattern(text)


def plate_condition(params: Params, plate: str, fuzzy: bool) -> str:
    """The WHERE condition of a plate, pattern or fuzzy plate."""
    if has_wildcard(plate):
        pattern = normalise_pattern(plate)
        if fuzzy:
            pattern = fold_plate(pattern)
        like = wildcard_to_like(pattern)
        column = "plate_folded" if fuzzy else "plate_number"
        return f"{column} LIKE {params.text(like)}"
    exact = exact_plate(plate)
    if fuzzy:
        folded = fold_plate(exact)
        if not folded:
            raise ValueError(f"the plate {plate!r} has nothing to match after the province")
        return f"plate_folded = {params.text(folded)}"
    return f"plate_number = {params.text(exact)}"


def plate_search(warehouse: Warehouse, request: PlateSearch) -> list[dict[str, Any]]:
    devices = narrow_devices(warehouse, request.area, request.devices)
    if devices is not None and not devices:
        return []

    def page(narrow: Narrowing | None = None) -> list[dict[str, Any]]:
        params = Params()
        conditions: list[str] = narrow(params) if narrow is not None else []
        if request.plate is not None:
            conditions.append(plate_condition(params, request.plate, request.fuzzy))
        elif request.unreadable:
            conditions.append("plate_number = ''")
        if devices is not None:
            conditions.append(f"device_id IN {params.texts(devices)}")
        conditions += time_range(params, "captured_at", request.since, request.until)
        for column in ("plate_color", "vehicle_color", "vehicle_type", "vehicle_brand"):
            value = getattr(request, column)
            if value is not None:
                conditions.append(f"{column} = {params.text(value)}")
        fetch, slot = params.slot()
        # The plate, not the event id, breaks ties on time: it is read for the filter anyway,
        # while the event id column would be read for every matching row (the rows are put
        # in full order below; a page boundary inside one millisecond of one plate is rare).
        settings = READ_SETTINGS if devices and not _on_sort_key(request) else KEY_READ_SETTINGS
        sql = (
            f"SELECT {_SELECT} FROM {PLATE_TABLE} {where(conditions)} "  # noqa: S608
            f"ORDER BY captured_at DESC, plate_number LIMIT {fetch} {settings}"
        )
        rows = distinct_page(
            warehouse, sql, params, slot, limit=request.limit, offset=request.offset
        )
        rows.sort(key=lambda r: (r["plate_number"], r["event_id"]))
        rows.sort(key=lambda r: stored_time(r["captured_at"]), reverse=True)
        return rows

    if request.plate is not None and has_wildcard(request.plate):
        # A common pattern fills its page from the newest day alone: scanning that day is
        # cheaper than looking up its many (plate, day) pairs.
        newest = request.until or _newest(warehouse, request.since)
        if newest is None:
            return []
        start = newest - NEWEST_DAY
        if request.since is None or start > request.since:
            rows = page(_since(start))
            if len(rows) == request.limit:
                return _finish(rows)
        return _finish(_pattern_page(warehouse, request, page))
    return _finish(page())


def _on_sort_key(request: PlateSearch) -> bool:
    """The plate condition narrows the sort key (plate first): an exact plate, an unreadable
    plate, or a pattern with a literal prefix."""
    if request.unreadable:
        return True
    if request.plate is None or request.fuzzy:
        return False
    return normalise_pattern(request.plate)[:1] not in ("", *WILDCARDS)


def _since(start: datetime) -> Narrowing:
    return lambda params: [f"captured_at >= {params.time(start)}"]


def _newest(warehouse: Warehouse, since: datetime | None) -> datetime | None:
    """The newest capture time (from the parts' min/max index: no rows are read)."""
    params = Params()
    rows = warehouse.query(
        f"SELECT count() AS n, max(captured_at) AS newest FROM {PLATE_TABLE} "  # noqa: S608
        f"{where(time_range(params, 'captured_at', since, None))}",
        params.values,
    )
    if not rows or not int(rows[0]["n"]):
        return None
    return stored_time(rows[0]["newest"]) + timedelta(milliseconds=1)


# Extra conditions on plate_captures, given the query's parameters.
Narrowing = Callable[[Params], list[str]]


def _pattern_page(
    warehouse: Warehouse,
    request: PlateSearch,
    page: Callable[[Narrowing | None], list[dict[str, Any]]],
) -> list[dict[str, Any]]:
    """The page of a plate pattern, read through the (plate, day) pairs of its newest matches.

    The newest ``n`` matching pairs cover every matching plate on each day after the oldest day
    among them; that oldest day may be cut short, so its pairs are asked for again, all of them.
    When those days give a full page it is the page of the whole range (every other row is
    older); when they do not, more pairs are asked for.
    """
    assert request.plate is not None
    want = request.offset + request.limit
    n = want + max(16, want // 8)
    while n <= MAX_PAIRS:
        pairs = _matching_pairs(warehouse, request, n)
        if len(pairs) < n:  # every match of the range
            if not pairs:
                return []
            return page(_on_pairs(pairs))
        oldest = pairs[-1][1]
        pairs = [pair for pair in pairs if pair[1] != oldest]
        rows = page(_on_pairs(pairs + _matching_pairs(warehouse, request, None, day=oldest)))
        if len(rows) == request.limit:
            return rows
        n *= PAIRS_GROWTH
    return page(None)


def _on_pairs(pairs: list[tuple[str, str]]) -> Narrowing:
    """Only the rows of these (plate, day) pairs."""

    def narrow(params: Params) -> list[str]:
        pair_type = "Array(Tuple(String, Date))"
        return [f"(plate_number, toDate(captured_at)) IN {params.add(pairs, pair_type)}"]

    return narrow


def _matching_pairs(
    warehouse: Warehouse, request: PlateSearch, n: int | None, *, day: str | None = None
) -> list[tuple[str, str]]:
    """The newest ``n`` (plate, day) pairs matching the request's pattern, newest day first;
    every pair of ``day`` when it is given (``n`` None: no limit)."""
    assert request.plate is not None
    if day is None and _long_range(request):
        return _pairs_by_name(warehouse, request, n)
    params = Params()
    conditions = [plate_condition(params, request.plate, request.fuzzy)]
    if day is not None:
        conditions.append(f"day = {params.add(day, 'Date')}")
    conditions += _days_in_range(params, request)
    limit = f"LIMIT {params.count(n)}" if n is not None else ""
    rows = warehouse.query(
        f"SELECT plate_number, toString(day) AS read_on FROM {PLATE_DAYS_TABLE} "  # noqa: S608
        f"{where(conditions)} ORDER BY day DESC {limit}",
        params.values,
    )
    return _pairs(rows)


def _long_range(request: PlateSearch) -> bool:
    if request.since is None:
        return True
    return (request.until or datetime.now(UTC)) - request.since > NAMES_AFTER


def _pairs_by_name(
    warehouse: Warehouse, request: PlateSearch, n: int | None
) -> list[tuple[str, str]]:
    """:func:`_matching_pairs` through plate_names: each matching plate once, its days unrolled.

    A plate's set of days may still list days retention has dropped (the row lives while the
    plate is read): only days from the oldest that plate_days keeps count, so that no pair
    names a day whose rows are gone.
    """
    assert request.plate is not None
    params = Params()
    matching = plate_condition(params, request.plate, request.fuzzy)
    kept = ["day >= kept_from", *_days_in_range(params, request)]
    limit = f"LIMIT {params.count(n)}" if n is not None else ""
    rows = warehouse.query(
        f"WITH (SELECT min(day) FROM {PLATE_DAYS_TABLE}) AS kept_from "  # noqa: S608
        "SELECT plate_number, toString(day) AS read_on FROM ("
        f"SELECT plate_number, groupUniqArrayArray(days) AS read_days FROM {PLATE_NAMES_TABLE} "
        f"{where([matching])} GROUP BY plate_number) ARRAY JOIN read_days AS day "
        f"{where(kept)} ORDER BY day DESC, plate_number {limit}",
        params.values,
    )
    return _pairs(rows)


def _days_in_range(params: Params, request: PlateSearch) -> list[str]:
    """The ``day`` conditions of the request's range, whole days around it: the rows
    themselves are filtered to the exact times."""
    conditions = []
    if request.since is not None:
        conditions.append(f"day >= toDate({params.time(request.since)})")
    if request.until is not None:
        conditions.append(f"day <= toDate({params.time(request.until)})")
    return conditions


def _pairs(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(str(r["plate_number"]), str(r["read_on"])) for r in rows]


def _finish(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return finish(rows, PLATE_COLUMNS, times=("captured_at",), json=("images",))
