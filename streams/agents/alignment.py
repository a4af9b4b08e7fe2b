"""Reading several input partitions in step, by received time.

Catching up on a backlog, a consumer fetches each partition in chunks of hundreds of records, so
one source's raw partition can be read minutes (of received time) ahead of another's. The
normalize stage merges every source into the same capture topics, and the dedup stage's stream
time then runs ahead of records still unread on the slower source: their windows have closed by
the time they arrive, and one pass becomes two. Measured before this existed: a default load test
replayed faster than the worker could read put captures up to 25 minutes of received time out of
order.

So the stage pauses any partition whose newest record is more than ``span`` ahead of the
slowest partition that still has records to deliver, and resumes it once the others caught up.
The slowest is never paused, so reading always progresses; a partition read to its end, or not
heard from yet, holds nothing back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

Key = tuple[str, int]


class TimeAlignment:
    def __init__(self, span_seconds: float) -> None:
        self.span_ms = int(span_seconds * 1000)
        self.newest: dict[Key, int] = {}
        self.ended: set[Key] = set()
        self.paused: set[Key] = set()

    def observe(self, messages: Iterable[Any]) -> None:
        newest = self.newest
        for message in messages:
            key = (message.topic() or "", message.partition() or 0)
            stamp = message.timestamp()[1]
            self.ended.discard(key)
            if stamp > newest.get(key, -1):
                newest[key] = stamp

    def at_end(self, key: Key) -> None:
        self.ended.add(key)

    def forget(self, keys: Iterable[Key]) -> None:
        for key in keys:
            self.newest.pop(key, None)
            self.ended.discard(key)
            self.paused.discard(key)

    def decide(self) -> tuple[list[Key], list[Key]]:
        """Partitions to pause and to resume now."""
        pending = [stamp for key, stamp in self.newest.items() if key not in self.ended]
        ahead: set[Key] = set()
        if pending:
            limit = min(pending) + self.span_ms
            ahead = {
                key for key, stamp in self.newest.items() if key not in self.ended and stamp > limit
            }
        pause = sorted(ahead - self.paused)
        resume = sorted(self.paused - ahead)
        self.paused = ahead
        return pause, resume


def aligned(keys: Sequence[Key]) -> list[Any]:
    """TopicPartitions for pause/resume."""
    from confluent_kafka import TopicPartition

    return [TopicPartition(topic, partition) for topic, partition in keys]
