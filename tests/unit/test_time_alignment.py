"""Reading input partitions in step by received time (the normalize stage's consumer)."""

from __future__ import annotations

from typing import Any

from streams.agents.alignment import TimeAlignment


class _Message:
    def __init__(self, topic: str, partition: int, stamp_ms: int) -> None:
        self._key = (topic, partition)
        self._stamp = stamp_ms

    def topic(self) -> str:
        return self._key[0]

    def partition(self) -> int:
        return self._key[1]

    def timestamp(self) -> tuple[int, int]:
        return (1, self._stamp)


def _read(align: TimeAlignment, *records: tuple[str, int, int]) -> Any:
    align.observe([_Message(t, p, ms) for t, p, ms in records])
    return align.decide()


def test_a_partition_read_ahead_waits_for_the_slowest() -> None:
    align = TimeAlignment(5.0)
    pause, resume = _read(align, ("raw.a", 0, 1_000), ("raw.b", 0, 60_000), ("raw.b", 1, 4_000))
    assert pause == [("raw.b", 0)]  # 59 s ahead of raw.a/0; raw.b/1 is within 5 s
    assert resume == []
    # raw.a/0 jumps ahead too: raw.b/1 is now the one behind, and both wait for it.
    assert _read(align, ("raw.a", 0, 58_000)) == ([("raw.a", 0)], [])
    assert _read(align, ("raw.b", 1, 57_000)) == ([], [("raw.a", 0), ("raw.b", 0)])


def test_a_partition_at_its_end_or_unheard_of_holds_nothing_back() -> None:
    align = TimeAlignment(5.0)
    assert _read(align, ("raw.a", 0, 1_000), ("raw.b", 0, 60_000)) == ([("raw.b", 0)], [])
    align.at_end(("raw.a", 0))  # drained: the rest may go on
    assert align.decide() == ([], [("raw.b", 0)])
    # New records on it count again.
    assert _read(align, ("raw.a", 0, 2_000)) == ([("raw.b", 0)], [])
    align.forget([("raw.a", 0), ("raw.b", 0)])  # revoked
    assert align.decide() == ([], [])
    assert align.paused == set()


def test_the_slowest_is_never_paused() -> None:
    align = TimeAlignment(0.0)
    pause, _ = _read(align, ("raw.a", 0, 10), ("raw.a", 1, 10), ("raw.b", 0, 11))
    assert pause == [("raw.b", 0)]
    assert ("raw.a", 0) not in align.paused
    assert ("raw.a", 1) not in align.paused
