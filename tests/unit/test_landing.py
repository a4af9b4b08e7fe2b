from __future__ import annotations

import asyncio
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.warehouse.landing import (
    Backoff,
    OffsetRange,
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
    slept: list[float] = []
    failures: list[Exception] = []

    async def insert() -> int:
        attempts.append(1)
        if len(attempts) < 4:
            raise ConnectionError("warehouse down")
        return 42

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    landed = asyncio.run(
        land_with_retry(
            insert, Backoff(0.5, 1.0), what="t", on_failure=failures.append, sleep=fake_sleep
        )
    )
    assert landed == 42
    assert len(attempts) == 4
    assert slept == [0.5, 1.0, 1.0]
    assert all(isinstance(f, ConnectionError) for f in failures)


def test_land_with_retry_stops_on_cancellation() -> None:
    async def insert() -> int:
        raise ConnectionError("down")

    async def main() -> None:
        task = asyncio.create_task(land_with_retry(insert, Backoff(10, 10), what="t"))
        await asyncio.sleep(0.05)
        task.cancel()
        await task

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(main())
