"""Rows the warehouse refuses for good, told apart from failures to store anything, and landing
a batch around them.

An insert fails either because the warehouse cannot store anything just now (unreachable, out of
space, a table missing during a migration) or because of rows in it: a value the column cannot
hold, a constraint of the table, a materialized view that throws. The first kind is retried until
it lands. Retrying the second is futile and would hold the stage (and its committed offsets)
forever. ClickHouse names the cause by an error code; the codes in ``REFUSAL_CODES`` are the
data's fault.

A refused batch is split until each refused row stands alone; everything else lands. Where the
engine names the row it refused (``at row N``: a constraint, a value it could not parse), that
row is tried alone and the batch is split around it; otherwise the part is halved. Each part has
a token of its own, derived from the batch's, so a retry of the same batch splits the same way
and the parts that landed before are absorbed.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable

# ClickHouse error codes that mean "these values cannot be stored", whatever the warehouse's
# state. Codes of a missing table or column, of memory, space, time or the network are not here:
# those are retried.
REFUSAL_CODES: dict[int, str] = {
    6: "CANNOT_PARSE_TEXT",
    26: "CANNOT_PARSE_QUOTED_STRING",
    27: "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
    38: "CANNOT_PARSE_DATE",
    41: "CANNOT_PARSE_DATETIME",
    53: "TYPE_MISMATCH",
    69: "ARGUMENT_OUT_OF_BOUND",
    70: "CANNOT_CONVERT_TYPE",
    72: "CANNOT_PARSE_NUMBER",
    117: "INCORRECT_DATA",
    128: "TOO_LARGE_ARRAY_SIZE",
    131: "TOO_LARGE_STRING_SIZE",
    190: "SIZES_OF_ARRAYS_DONT_MATCH",
    321: "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
    349: "CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN",
    395: "FUNCTION_THROW_IF_VALUE_IS_NON_ZERO",
    407: "DECIMAL_OVERFLOW",
    469: "VIOLATED_CONSTRAINT",
}

_CODE = re.compile(r"\bCode: (\d+)\.")
_ROW = re.compile(r"\bat row (\d+)\b")


def error_code(exc: BaseException) -> int | None:
    """The ClickHouse error code of ``exc`` or of the first exception it was raised from that
    has one: clickhouse-driver's ``code`` attribute, or ``Code: N.`` in chDB's message."""
    current: BaseException | None = exc
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        code = getattr(current, "code", None)
        if isinstance(code, int):
            return code
        found = _CODE.search(str(current))
        if found:
            return int(found.group(1))
        current = current.__cause__ or current.__context__
    return None


def refusal(exc: BaseException) -> str | None:
    """The name of the error when ``exc`` is the warehouse refusing the data itself, else None."""
    code = error_code(exc)
    return None if code is None else REFUSAL_CODES.get(code)


def refused_row(exc: BaseException) -> int | None:
    """The 0-based row of the insert that ``exc`` names (``at row N``, 1-based), if any."""
    found = _ROW.search(str(exc))
    return int(found.group(1)) - 1 if found else None


def part_token(token: str, first: int, after: int, count: int) -> str:
    """The idempotency token of rows [first, after) of a batch of ``count`` under ``token``."""
    return token if (first, after) == (0, count) else f"{token}|rows {first}-{after}"


def land_apart(
    insert: Callable[[int, int, str], int],
    count: int,
    token: str,
    refused: Callable[[int, str, BaseException], None],
) -> int:
    """Land rows [0, count) by ``insert(first, after, token)``, which returns the rows it
    landed. A part the warehouse refuses (see ``refusal``) is split until single rows remain:
    around the row the error names, when it names one, else in halves. Each refused row is
    passed to ``refused(index, error name, error)``. Any other failure propagates: the caller
    retries the whole batch, and the parts that landed are absorbed by their tokens."""
    landed = 0
    trust_names = True  # until a named row lands: then the names are not the refused rows
    pending = [(0, count, False)]  # (first, after, the row an error named)
    while pending:
        first, after, named = pending.pop()
        if first >= after:
            continue
        try:
            landed += insert(first, after, part_token(token, first, after, count))
        except Exception as exc:
            name = refusal(exc)
            if name is None:
                raise
            if after - first == 1:
                refused(first, name, exc)
                continue
            row = refused_row(exc) if trust_names else None
            if row is not None and 0 <= row < after - first:
                row += first
                # The named row alone, then the rows before it, then those after.
                pending += [(row + 1, after, False), (first, row, False), (row, row + 1, True)]
            else:
                middle = (first + after) // 2
                pending += [(middle, after, False), (first, middle, False)]  # first half first
        else:
            if named:
                trust_names = False
    return landed


class RefusedShare:
    """The share of rows refused among a table's recent inserts, over at least ``window`` rows.

    ``record`` returns a message once more than ``limit`` of them were refused, when at least
    ``minimum`` rows were seen: a table that refuses most rows is wrong, not the data, and its
    stage stops instead of draining the feed into dead letters.
    """

    def __init__(self, limit: float, window: int = 1000, minimum: int = 100) -> None:
        self.limit = limit
        self.window = window
        self.minimum = min(minimum, window)
        self._recent: deque[tuple[int, int]] = deque()  # (rows, refused) per insert
        self._rows = 0
        self._refused = 0

    def record(self, rows: int, refused: int) -> str | None:
        self._recent.append((rows, refused))
        self._rows += rows
        self._refused += refused
        while len(self._recent) > 1 and self._rows - self._recent[0][0] >= self.window:
            old_rows, old_refused = self._recent.popleft()
            self._rows -= old_rows
            self._refused -= old_refused
        if self._rows >= self.minimum and self._refused > self.limit * self._rows:
            return (
                f"{self._refused} of the last {self._rows} rows were refused "
                f"({self._refused / self._rows:.0%} > limit {self.limit:.0%})"
            )
        return None
