from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.errors import WarehouseError
from streams.warehouse.refusals import (
    RefusedShare,
    error_code,
    land_apart,
    part_token,
    refusal,
    refused_row,
)

CONSTRAINT = (
    "Code: 469. DB::Exception: Constraint `c` for table db.t is violated at row 2. "
    "(VIOLATED_CONSTRAINT) (version 26.9.2.1)"
)


class ServerError(Exception):
    """Shaped like clickhouse-driver's ServerException: the code is an attribute."""

    def __init__(self, code: int) -> None:
        super().__init__("Code: 1. something else")
        self.code = code


def test_error_code_from_messages_attributes_and_causes() -> None:
    assert error_code(RuntimeError(CONSTRAINT)) == 469
    assert error_code(ServerError(53)) == 53  # the attribute wins over the text
    outer = WarehouseError("insert into t failed")
    outer.__cause__ = RuntimeError("Code: 60. DB::Exception: Unknown table t. (UNKNOWN_TABLE)")
    assert error_code(outer) == 60
    assert error_code(ConnectionError("connection refused")) is None
    # "Code: N." only: a number after other words is not a code.
    assert error_code(RuntimeError("Error Code 469 seen")) is None


def test_refusals_are_the_data_faults_only() -> None:
    assert refusal(WarehouseError(f"insert into t failed: {CONSTRAINT}")) == "VIOLATED_CONSTRAINT"
    assert refusal(ServerError(321)) == "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE"
    for transient in (60, 241, 243, 252, 209, 210, 16):  # table gone, memory, space, parts, net
        assert refusal(ServerError(transient)) is None
    assert refusal(ConnectionError("warehouse unavailable")) is None


class Warehouse:
    """Inserts of row ranges: refuses any part holding a bad row, as ClickHouse refuses a
    whole block; records what landed under which token. ``names``: how the error names the
    refused row: not at all, rightly (the first bad row of the part), or wrongly."""

    def __init__(self, bad: set[int], transient_failures: int = 0, names: str = "none") -> None:
        self.bad = bad
        self.transient_failures = transient_failures
        self.names = names
        self.landed: dict[str, range] = {}
        self.calls = 0

    def insert(self, first: int, after: int, token: str) -> int:
        self.calls += 1
        if token in self.landed:
            return 0  # absorbed, as insert_deduplication_token does
        bad = [i for i in range(first, after) if i in self.bad]
        if bad:
            at = {"none": "", "right": f" at row {bad[0] - first + 1}.", "wrong": " at row 1."}
            raise WarehouseError(f"insert into t failed: Code: 469. violated{at[self.names]}")
        if self.transient_failures and self.calls > 1:
            self.transient_failures -= 1
            raise WarehouseError("insert into t failed: Code: 210. (NETWORK_ERROR)")
        self.landed[token] = range(first, after)
        return after - first


@given(st.integers(1, 300), st.sampled_from(["none", "right", "wrong"]), st.data())
def test_everything_but_the_refused_rows_lands_once(
    count: int, names: str, data: st.DataObject
) -> None:
    bad = set(data.draw(st.lists(st.integers(0, count - 1), max_size=8)))
    warehouse = Warehouse(bad, names=names)
    refused: list[int] = []

    landed = land_apart(
        warehouse.insert, count, "t|x:0:0-9", lambda i, name, exc: refused.append(i)
    )

    assert sorted(refused) == sorted(bad)
    rows = [i for part in warehouse.landed.values() for i in part]
    assert sorted(rows) == [i for i in range(count) if i not in bad]  # each once
    assert landed == count - len(bad)
    if not bad:
        assert list(warehouse.landed) == ["t|x:0:0-9"]  # the batch's own token, one insert
    # A few inserts per refused row, not one per row; three when the error names the row, and
    # a wrong name costs two before the names are ignored.
    wasted = 2 if names == "wrong" else 0
    assert warehouse.calls <= 1 + 2 * len(bad) * max(1, count.bit_length()) + wasted
    if names == "right":
        assert warehouse.calls <= 1 + 3 * len(bad)


def test_the_row_an_error_names() -> None:
    assert refused_row(RuntimeError(CONSTRAINT)) == 1
    assert refused_row(RuntimeError("Cannot parse DateTime: (at row 1)")) == 0
    assert refused_row(RuntimeError("Value passed to 'throwIf' function is non-zero")) is None


def test_an_outage_while_splitting_propagates_and_a_retry_absorbs_what_landed() -> None:
    warehouse = Warehouse({5}, transient_failures=1)
    refused: list[int] = []

    def keep(i: int, name: str, exc: BaseException) -> None:
        refused.append(i)

    with pytest.raises(WarehouseError, match="NETWORK_ERROR"):
        land_apart(warehouse.insert, 16, "tok", keep)
    before = dict(warehouse.landed)
    landed = land_apart(warehouse.insert, 16, "tok", keep)
    assert set(before) <= set(warehouse.landed)  # same split, same tokens
    assert sorted(i for part in warehouse.landed.values() for i in part) == [
        i for i in range(16) if i != 5
    ]
    assert landed + sum(len(p) for p in before.values()) == 15
    assert refused == [5]  # the first attempt failed before reaching row 5


def test_part_tokens() -> None:
    assert part_token("t|a:0:0-9", 0, 10, 10) == "t|a:0:0-9"
    assert part_token("t|a:0:0-9", 0, 5, 10) == "t|a:0:0-9|rows 0-5"
    assert part_token("t|a:0:0-9", 5, 10, 10) != part_token("t|a:0:0-9", 0, 5, 10)


def test_the_refused_share_counts_small_inserts_together_over_a_window() -> None:
    share = RefusedShare(0.5, window=1000, minimum=100)
    # Small inserts, each refused whole: nothing said until 100 rows were seen.
    assert [share.record(10, 10) for _ in range(9)] == [None] * 9
    verdict = share.record(10, 10)
    assert verdict == "100 of the last 100 rows were refused (100% > limit 50%)"

    healthy = RefusedShare(0.5, window=1000, minimum=100)
    assert healthy.record(20_000, 3) is None  # a few refused rows in a large insert
    # The window slides: an old large clean insert stops counting once newer rows fill it.
    for _ in range(99):
        assert healthy.record(10, 10) is None
    assert healthy.record(10, 10) is not None


@given(st.lists(st.tuples(st.integers(0, 500), st.integers(0, 500)), max_size=40))
def test_the_refused_share_speaks_only_over_its_limit(inserts: list[tuple[int, int]]) -> None:
    share = RefusedShare(0.5, window=1000, minimum=100)
    for rows, refused in inserts:
        refused = min(refused, rows)
        verdict = share.record(rows, refused)
        if verdict is not None:
            bad, seen = (int(n) for n in re.findall(r"\d+", verdict)[:2])
            assert seen >= 100
            assert bad > 0.5 * seen
