"""Gathering a batch again as it was cut (streams.agents.redelivery): the intent a commit's
metadata states, when it applies, and which records a regathered batch keeps or sets aside."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from confluent_kafka import TopicPartition
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.agents.redelivery import (
    MAX_METADATA_BYTES,
    Gathered,
    Regather,
    gather_again,
    intent_metadata,
    intent_to_regather,
    parse_intent,
)


@dataclass(frozen=True)
class Record:
    """What the runner reads of a consumed message."""

    at: tuple[str, int, int]  # topic, partition, offset

    def topic(self) -> str:
        return self.at[0]

    def partition(self) -> int:
        return self.at[1]

    def offset(self) -> int:
        return self.at[2]

    def error(self) -> None:
        return None


INTENT = {("unique.plate", 0): (10, 14), ("unique.plate", 1): (3, 3), ("alerts", 0): (0, 1)}


def test_an_intent_reads_back_from_its_metadata() -> None:
    metadata = intent_metadata(INTENT)
    assert metadata is not None
    assert metadata.startswith("batch:v1:")
    assert parse_intent(metadata) == INTENT


def test_metadata_that_is_not_an_intent_is_none() -> None:
    for metadata in (
        None,
        "",
        "something a tool wrote",
        "batch:v1:",
        "batch:v1:[]",
        "batch:v1:not json",
        'batch:v1:[["t",0,5]]',  # a range without its end
        'batch:v1:[["t",0,5,4]]',  # first after last
        'batch:v1:[["t","0",1,2]]',
        'batch:v1:{"t":1}',
    ):
        assert parse_intent(metadata) is None, metadata


def test_an_intent_too_large_for_commit_metadata_is_not_stated() -> None:
    many = {(f"topic-{i:04d}", i): (i, i + 1) for i in range(200)}
    assert intent_metadata(many) is None
    fits = intent_metadata(dict(list(many.items())[:50]))
    assert fits is not None
    assert len(fits.encode()) <= MAX_METADATA_BYTES


Committed = list[tuple[tuple[str, int], int, str | None]]


def committed(offsets: dict[tuple[str, int], int], metadata: str | None) -> Committed:
    return [(p, offset, metadata) for p, offset in offsets.items()]


def test_the_batch_to_gather_again_after_an_assignment() -> None:
    metadata = intent_metadata(INTENT)
    starts = {p: first for p, (first, _last) in INTENT.items()}
    assigned = [*INTENT, ("unique.face", 0)]
    assert intent_to_regather(committed(starts, metadata), assigned) == INTENT
    # Nothing stated: a clean commit after the batch.
    assert intent_to_regather(committed(starts, None), assigned) is None
    # Not every partition of the batch assigned here (a rebalance split them): the others'
    # ranges are read apart, wherever those partitions stand now.
    split = list(INTENT)[:2]
    assert intent_to_regather(committed({p: starts[p] for p in split}, metadata), split) == INTENT
    # A partition moved on since (committed past the batch's start): not the next batch.
    moved = {**starts, ("unique.plate", 0): 15}
    assert intent_to_regather(committed(moved, metadata), assigned) is None
    # Two different intents (two consumers' batches, later assigned together).
    other = intent_metadata({("unique.face", 0): (0, 0)})
    mixed = [*committed(starts, metadata), (("unique.face", 0), 0, other)]
    assert intent_to_regather(mixed, assigned) is None


def test_a_regathered_batch_keeps_its_ranges_and_sets_the_rest_aside() -> None:
    gather = Regather(INTENT)
    gather.offer([Record(("unique.plate", 0, o)) for o in range(10, 13)])
    gather.offer([Record(("unique.face", 0, 7)), Record(("alerts", 0, 0))])
    assert not gather.complete
    gather.offer([Record(("unique.plate", 0, o)) for o in range(13, 20)])
    gather.offer([Record(("unique.plate", 1, 3)), Record(("unique.plate", 1, 4))])
    assert not gather.complete  # alerts 0 still short of its last offset
    gather.offer([Record(("alerts", 0, 1)), Record(("alerts", 0, 2))])
    assert gather.complete
    assert sorted(r.at for r in gather.kept) == sorted(
        (t, p, o) for (t, p), (first, last) in INTENT.items() for o in range(first, last + 1)
    )
    assert gather.rewind == {
        ("unique.plate", 0): 15,
        ("unique.plate", 1): 4,
        ("alerts", 0): 2,
        ("unique.face", 0): 7,  # not of the batch: read again later
    }


@settings(max_examples=200, deadline=None)
@given(
    ranges=st.dictionaries(
        st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 2)),
        st.tuples(st.integers(0, 20), st.integers(0, 6), st.integers(0, 6)),
        min_size=1,
        max_size=6,
    ),
    data=st.data(),
)
def test_regathering_takes_exactly_the_batch_however_reads_are_cut(
    ranges: dict[tuple[str, int], tuple[int, int, int]], data: st.DataObject
) -> None:
    """Each partition holds the batch's records and then ``more``; reads come in any chunks,
    in offset order per partition, interleaved across partitions."""
    intent = {p: (first, first + length) for p, (first, length, _more) in ranges.items()}
    streams = {
        p: [Record((*p, o)) for o in range(first, first + length + 1 + more)]
        for p, (first, length, more) in ranges.items()
    }
    order = data.draw(st.permutations([p for p, records in streams.items() for _ in records]))
    interleaved = [streams[p].pop(0) for p in order]
    gather = Regather(intent)
    at = 0
    while at < len(interleaved):
        size = data.draw(st.integers(1, 5))
        gather.offer(interleaved[at : at + size])
        at += size
    assert gather.complete
    assert sorted(r.at for r in gather.kept) == sorted(
        (*p, o) for p, (first, last) in intent.items() for o in range(first, last + 1)
    )
    assert gather.rewind == {p: last + 1 for p, (first, last) in intent.items() if ranges[p][2] > 0}


class Reads:
    """A consumer's reads, a chunk per call, and where it was sought back to."""

    def __init__(self, chunks: list[list[Record]], stopping: threading.Event | None = None):
        self.chunks = chunks
        self.stopping = stopping
        self.sought: dict[tuple[str, int], int] = {}

    def consume(self) -> list[Record]:
        if not self.chunks and self.stopping is not None:
            self.stopping.set()  # the worker is told to stop while the batch is incomplete
        return self.chunks.pop(0) if self.chunks else []

    def seek(self, tp: TopicPartition) -> None:
        self.sought[tp.topic, tp.partition] = tp.offset


ONE = {("t", 0): (5, 7)}


def test_gathering_again_reads_on_until_the_batch_is_whole() -> None:
    reads = Reads([[Record(("t", 0, 6))], [Record(("t", 0, 7)), Record(("t", 0, 8))]])
    gathered = gather_again(
        ONE, [Record(("t", 0, 5))], reads.consume, reads.seek, threading.Event(), 5, "s"
    )
    assert [r.at[2] for r in gathered.messages] == [5, 6, 7]
    assert gathered.whole
    assert reads.sought == {("t", 0): 8}
    assert reads.chunks == []


def test_gathering_again_gives_up_after_its_patience() -> None:
    reads = Reads([])
    gathered = gather_again(
        ONE, [Record(("t", 0, 5))], reads.consume, reads.seek, threading.Event(), 0.05, "s"
    )
    assert [r.at[2] for r in gathered.messages] == [5]  # goes on as a batch of its own
    assert not gathered.whole
    assert reads.sought == {}


def test_a_stop_while_gathering_leaves_the_whole_batch_to_the_next_start() -> None:
    stopping = threading.Event()
    reads = Reads([[Record(("t", 0, 6)), Record(("u", 1, 3))]], stopping)
    gathered = gather_again(ONE, [Record(("t", 0, 5))], reads.consume, reads.seek, stopping, 5, "s")
    assert gathered.messages == []
    assert not gathered.whole
    assert reads.sought == {("t", 0): 5, ("u", 1): 3}


APART = {("t", 1): (2, 3), ("u", 0): (0, 0)}
Ranges = dict[tuple[str, int], tuple[int, int]]


class Apart:
    """Reads the ranges of partitions assigned elsewhere (all of them, or none: ``None``)."""

    def __init__(self, readable: bool = True) -> None:
        self.readable = readable
        self.asked: list[Ranges] = []

    def __call__(self, ranges: Ranges) -> list[Record] | None:
        self.asked.append(ranges)
        if not self.readable:
            return None
        return [
            Record((*p, o)) for p, (first, last) in ranges.items() for o in range(first, last + 1)
        ]


def _gather_here_and_apart(chunks: list[list[Record]], apart: Apart) -> Gathered:
    reads = Reads(chunks)
    return gather_again(
        ONE,
        [Record(("t", 0, 5))],
        reads.consume,
        reads.seek,
        threading.Event(),
        0.2,
        "s",
        APART,
        apart,
    )


def test_the_ranges_of_partitions_assigned_elsewhere_are_read_apart() -> None:
    apart = Apart()
    gathered = _gather_here_and_apart([[Record(("t", 0, 6)), Record(("t", 0, 7))]], apart)
    assert apart.asked == [APART]
    assert sorted(r.at for r in gathered.messages) == [
        ("t", 0, 5),
        ("t", 0, 6),
        ("t", 0, 7),
        ("t", 1, 2),
        ("t", 1, 3),
        ("u", 0, 0),
    ]
    assert gathered.whole


def test_ranges_that_cannot_be_read_apart_leave_the_batch_here_to_go_on_alone() -> None:
    gathered = _gather_here_and_apart(
        [[Record(("t", 0, 6)), Record(("t", 0, 7))]], Apart(readable=False)
    )
    assert [r.at for r in gathered.messages] == [("t", 0, 5), ("t", 0, 6), ("t", 0, 7)]
    assert not gathered.whole


def test_nothing_is_read_apart_while_the_batch_here_is_incomplete() -> None:
    apart = Apart()
    gathered = _gather_here_and_apart([], apart)
    assert apart.asked == []
    assert [r.at for r in gathered.messages] == [("t", 0, 5)]
    assert not gathered.whole
