"""Pieces every query shares: bound parameters, time filters, and JSON-ready rows.

Only table and column names from constants are written into SQL text; every value goes through
:class:`Params`, which hands out ``{name:Type}`` placeholders that the engine binds server-side.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from streams.canonical.models import rfc3339_millis
from streams.warehouse.base import Warehouse

TIME_TYPE = "DateTime64(3, 'UTC')"


class Params:
    """Collects bound values and returns their placeholders."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def add(self, value: Any, type_: str, prefix: str = "p") -> str:
        name = f"{prefix}{len(self.values)}"
        self.values[name] = value
        return f"{{{name}:{type_}}}"

    def time(self, value: datetime) -> str:
        return self.add(value, TIME_TYPE, "t")

    def text(self, value: str) -> str:
        return self.add(value, "String", "s")

    def texts(self, values: Sequence[str]) -> str:
        return self.add(list(values), "Array(String)", "a")

    def count(self, value: int) -> str:
        return self.add(value, "UInt64", "n")

    def slot(self, type_: str = "UInt64") -> tuple[str, str]:
        """A placeholder whose value is set later: (placeholder, parameter name)."""
        name = f"v{len(self.values)}"
        self.values[name] = None
        return f"{{{name}:{type_}}}", name


def time_range(
    params: Params, column: str, since: datetime | None, until: datetime | None
) -> list[str]:
    """Conditions for ``since <= column < until`` (either end optional)."""
    conditions = []
    if since is not None:
        conditions.append(f"{column} >= {params.time(since)}")
    if until is not None:
        conditions.append(f"{column} < {params.time(until)}")
    return conditions


def where(conditions: Iterable[str]) -> str:
    found = [c for c in conditions if c]
    return ("WHERE " + " AND ".join(found)) if found else ""


def paging(params: Params, limit: int, offset: int) -> str:
    return f"LIMIT {params.count(limit)} OFFSET {params.count(offset)}"


def stored_time(value: Any) -> datetime:
    """A stored time as a UTC-aware datetime, whichever backend read it.

    The embedded engine returns DateTime64 as text (``2026-03-01 00:30:15.000``); the server
    driver returns datetimes, naive ones in UTC for a ``'UTC'`` column.
    """
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(str(value).replace(" ", "T"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def rfc3339(value: Any) -> str | None:
    """A stored time as RFC 3339 UTC with milliseconds and ``Z`` (``None`` stays ``None``)."""
    return None if value is None else rfc3339_millis(stored_time(value))


def decode_json(value: Any) -> Any:
    """Images and evidence are stored as JSON text; hand them back decoded."""
    if value is None or value == "":
        return []
    if isinstance(value, str | bytes):
        return orjson.loads(value)
    return value


def finish(
    rows: list[dict[str, Any]],
    columns: Sequence[str],
    *,
    times: Iterable[str] = (),
    json: Iterable[str] = (),
    time_lists: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """Rows in ``columns`` order with times as RFC 3339 strings and JSON text decoded."""
    time_names = set(times)
    json_names = set(json)
    list_names = set(time_lists)
    out: list[dict[str, Any]] = []
    for row in rows:
        item: dict[str, Any] = {}
        for name in columns:
            value = row.get(name)
            if name in time_names:
                value = rfc3339(value)
            elif name in json_names:
                value = decode_json(value)
            elif name in list_names:
                value = [rfc3339(v) for v in value or ()]
            elif isinstance(value, tuple):
                value = list(value)
            item[name] = value
        out.append(item)
    return out


def fetch_size(want: int) -> int:
    """The rows :func:`distinct_page` asks for first to find ``want`` distinct ones."""
    return want + max(16, want // 8)


def distinct_page(
    warehouse: Warehouse,
    sql: str,
    params: Params,
    fetch_placeholder: str,
    *,
    limit: int,
    offset: int,
    key: Callable[[dict[str, Any]], Hashable] = lambda row: row["event_id"],
) -> list[dict[str, Any]]:
    """One page of distinct rows from ``sql`` (ordered, ending in ``LIMIT <fetch_placeholder>``).

    Duplicates (a redelivered capture stored twice) sort next to each other, so the first
    ``offset + limit`` distinct rows lie within the first ``offset + limit + duplicates`` rows.
    Fetching a few rows more and dropping repeats here keeps the query a plain ``ORDER BY ...
    LIMIT``, which the engine answers reading the wide columns (images) of the returned rows
    only; ``LIMIT 1 BY`` or ``FINAL`` would read them for every matching row. When the slack was
    not enough the query runs again with more.
    """
    want = offset + limit
    fetch = fetch_size(want)
    while True:
        params.values[fetch_placeholder] = fetch
        rows = warehouse.query(sql, params.values)
        seen: set[Hashable] = set()
        distinct = []
        for row in rows:
            identity = key(row)
            if identity not in seen:
                seen.add(identity)
                distinct.append(row)
        if len(rows) < fetch or len(distinct) >= want:
            return distinct[offset:want]
        fetch *= 4
