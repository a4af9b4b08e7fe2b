"""Where a stage stands in event time: over several input topics read at different paces
(``InputClock``), and when every input is read to its end (``IdleClock``).

Stream time follows the received_at of the records read. A consumer catching up reads its
input partitions in large chunks, one partition far ahead of the others; ``InputClock.ahead``
names the inputs to leave unread until the slowest catches up, so windows close steadily
instead of all at once after the whole backlog was read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

# How far in received time an input may be read ahead of the slowest input of its partition
# before it is left unread. Records read ahead wait in the rules' windows for stream time, so
# this bounds that backlog; a paused input is taken up again once it leads by half as much
# (no pause and resume at every batch). A batch may still overshoot by its own span.
READ_AHEAD = timedelta(seconds=10)

# The pace of an input (received time per wall time) is measured over about this much wall time.
PACE_SPAN = timedelta(seconds=20)
PACE_MIN_SPAN = timedelta(seconds=1)
PACE_MAX = 1000.0
# Idle for less than this, time moves at the wall clock's pace: a stage downstream of a slower
# one is idle for moments while the backlog upstream is still being read, and projecting the
# pace it saw over such a moment would close windows whose records are still on their way.
PACE_AFTER_IDLE = timedelta(seconds=5)


class IdleClock:
    """Where stream time stands when every input is read to its end: the newest received_at
    seen, moved on since it was read at the pace the input's received times kept.

    Live traffic keeps the wall clock's pace, and idle time never passes the wall clock. A
    replay of recorded traffic (received times in the past, advancing S times faster than the
    clock) keeps its own pace once the input has been idle a few seconds: an idle moment
    neither jumps to the wall clock, hours ahead, closing every window and forgetting every
    remembered id, nor crawls, keeping the last windows of a replay open for minutes. A
    partition nothing was read from yet has no idle time.
    """

    def __init__(self) -> None:
        self.newest: dict[int, tuple[datetime, datetime]] = {}  # (received_at, read at)
        self._anchor: dict[int, tuple[datetime, datetime]] = {}
        self.pace: dict[int, float] = {}
        self.last_read: dict[int, datetime] = {}

    def seen(self, partition: int, received_at: datetime, now: datetime) -> None:
        self.last_read[partition] = now
        newest = self.newest.get(partition)
        if newest is not None and received_at < newest[0]:
            return
        self.newest[partition] = (received_at, now)
        anchor = self._anchor.get(partition)
        if anchor is None:
            self._anchor[partition] = (received_at, now)
            return
        wall = now - anchor[1]
        if wall >= PACE_MIN_SPAN:
            pace = (received_at - anchor[0]) / wall
            self.pace[partition] = min(max(pace, 1.0), PACE_MAX)
        if wall >= PACE_SPAN:
            self._anchor[partition] = (received_at, now)

    def forget(self, partitions: list[int]) -> None:
        for partition in partitions:
            self.newest.pop(partition, None)
            self._anchor.pop(partition, None)
            self.pace.pop(partition, None)
            self.last_read.pop(partition, None)

    def at(self, partition: int, now: datetime) -> datetime | None:
        newest = self.newest.get(partition)
        if newest is None:
            return None
        received_at, read_at = newest
        elapsed = max(now - read_at, timedelta(0))
        idle_for = now - self.last_read.get(partition, read_at)
        pace = self.pace.get(partition, 1.0) if idle_for >= PACE_AFTER_IDLE else 1.0
        projected = received_at + elapsed * pace
        return min(projected, max(now, received_at + elapsed))


class InputClock:
    """Stream time of a partition fed by several topics (plates, faces, alarms of the same
    devices). Read at different paces (catching up after an outage, one topic may be drained
    first), a topic's newest received_at runs ahead of the others'. Stream time is the newest
    received_at of the slowest topic that still has records to deliver; a topic read to its
    end holds nothing back. Until every topic has delivered or reported its end, time stands.
    """

    def __init__(self) -> None:
        self.newest: dict[tuple[str, int], datetime] = {}
        self.ended: set[tuple[str, int]] = set()

    def seen(self, topic: str, partition: int, received_at: datetime) -> None:
        key = (topic, partition)
        self.ended.discard(key)
        newest = self.newest.get(key)
        if newest is None or received_at > newest:
            self.newest[key] = received_at

    def at_end(self, topic: str, partition: int) -> None:
        self.ended.add((topic, partition))

    def forget(self, partitions: list[int]) -> None:
        for key in [k for k in self.newest if k[1] in partitions]:
            del self.newest[key]
        self.ended -= {k for k in self.ended if k[1] in partitions}

    def stream_time(self, partition: int, topics: Sequence[str]) -> datetime | None:
        pending: list[datetime] = []
        newest: datetime | None = None
        for topic in topics:
            key = (topic, partition)
            at = self.newest.get(key)
            if key in self.ended:
                if at is not None and (newest is None or at > newest):
                    newest = at
                continue
            if at is None:
                return None  # not heard from yet: it may hold older records
            pending.append(at)
        return min(pending) if pending else newest

    def ahead(
        self,
        partitions: Iterable[int],
        topics: Sequence[str],
        paused: set[tuple[str, int]],
        limit: timedelta = READ_AHEAD,
    ) -> set[tuple[str, int]]:
        """The inputs (topic, partition) to leave unread for now: those with records left to
        deliver that were read further than ``limit`` ahead of the slowest such input of their
        partition (half as far for those ``paused`` already). While an input has not delivered
        or reported its end yet, every other input of its partition waits for it. The slowest
        input is never among them, so the partition always reads on."""
        held: set[tuple[str, int]] = set()
        for partition in partitions:
            keys = [(topic, partition) for topic in topics]
            pending = [k for k in keys if k not in self.ended]
            times = [self.newest[k] for k in pending if k in self.newest]
            if len(times) < 2 and len(times) == len(pending):
                continue  # nothing to hold back, or nothing for it to wait for
            floor = min(times) if len(times) == len(pending) else None
            for key in pending:
                at = self.newest.get(key)
                if at is None:
                    continue
                lead = limit / 2 if key in paused else limit
                if floor is None or at > floor + lead:
                    held.add(key)
        return held
