from __future__ import annotations

import itertools
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.warehouse.landing import (
    Backoff,
    MustStop,
    OffsetRange,
    Stopped,
    dedup_token,
    land_with_retry,
    offset_ranges,
)


def test_offset_ranges_collapse_per_partition() -> None:
    positions = [("a", 0, 5), ("a", 0, 3), ("a", 1, 7), ("b", 0, 1), ("a", 0, 4)]
    assert offset_ranges(positions) == [
        OffsetRange("a", 0, 3, 5),
        OffsetRange("a", 1, 7, 7),
        OffsetRange("b", 0, 1, 1),
    ]


@given(st.lists(st.tuples(st.sampled_from("xyz"), st.integers(0, 3), st.integers(0, 10**6))))
def test_dedup_token_ignores_arrival_order(positions: list[tuple[str, int, int]]) -> None:
    shuffled = list(reversed(positions))
    assert dedup_token("t", offset_ranges(positions)) == dedup_token("t", offset_ranges(shuffled))


def test_dedup_token_differs_between_tables_and_batches() -> None:
    one = offset_ranges([("a", 0, 1), ("a", 0, 9)])
    other = offset_ranges([("a", 0, 10), ("a", 0, 19)])
    assert dedup_token("t", one) != dedup_token("t", other)
    assert dedup_token("t", one) != dedup_token("u", one)


def test_backoff_grows_to_its_maximum() -> None:
    delays = list(itertools.islice(Backoff(0.1, 1.0).delays(), 6))
    assert delays == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]


def test_land_with_retry_retries_until_the_insert_succeeds() -> None:
    attempts: list[int] = []
    failures: list[Exception] = []

    def insert() -> int:
        attempts.append(1)
        if len(attempts) < 4:
            raise ConnectionError("warehouse down")
        return 42

    landed = land_with_retry(
        insert, Backoff(0.001, 0.002), threading.Event(), what="t", on_failure=failures.append
    )
    assert landed == 42
    assert len(attempts) == 4
    assert len(failures) == 3
    assert all(isinstance(f, ConnectionError) for f in failures)


def test_land_with_retry_gives_up_only_when_stopping() -> None:
    stopping = threading.Event()
    calls: list[int] = []

    def insert() -> int:
        calls.append(1)
        if len(calls) == 3:
            stopping.set()
        raise ConnectionError("down")

    with pytest.raises(Stopped):
        land_with_retry(insert, Backoff(0.001, 0.001), stopping, what="t")
    assert len(calls) == 3


def test_land_with_retry_does_not_retry_what_must_stop_the_worker() -> None:
    calls: list[int] = []

    def insert() -> int:
        calls.append(1)
        raise MustStop("the table refuses most rows")

    with pytest.raises(MustStop, match="refuses most rows"):
        land_with_retry(insert, Backoff(0.001, 0.001), threading.Event(), what="t")
    assert calls == [1]
