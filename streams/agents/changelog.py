"""Window state that survives restarts and rebalances: a compacted change-log topic per stage.

A stateful stage keeps one set of rules per input partition (its inputs are co-partitioned:
partition *p* of every input topic holds the same keys). After each batch, once the batch's
outputs are acknowledged, every key the rules changed is written to partition *p* of the
stage's change log (value: the pickled entry; a deleted key: a tombstone) and acknowledged;
only then are the input offsets committed. When a partition is assigned (start, restart,
rebalance), its rules are rebuilt by reading that change-log partition from the beginning (the
partitions of one assignment together; only each key's last record is decoded), unless this
worker held the partition just before and nobody has written to its change log since: a
rebalance that gives partitions back to their owner (every member's partitions are revoked
and assigned again) then costs no re-reading.

So the state always covers at least what the committed offsets say was processed: a batch
redelivered after a crash is offered again to state that may already contain it, which the
rules treat as duplicates (their outputs were acknowledged before the state was written).
The change log is an internal topic of the backbone: pickled values are trusted.
"""

from __future__ import annotations

import logging
import pickle
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    TopicPartition,
)

from streams.correlate.state import Stateful, StateTable
from streams.kafka_admin import LIBRDKAFKA_LOGGER
from streams.metrics import COUNTERS, Metric
from streams.publisher import Publisher
from streams.settings import Settings

log = logging.getLogger(__name__)

SEPARATOR = "\x1f"  # between table name and key in a change-log key
P = TypeVar("P")


def _tables(rules: Iterable[Stateful]) -> dict[str, StateTable[Any]]:
    tables: dict[str, StateTable[Any]] = {}
    for rule in rules:
        for name, table in rule.tables().items():
            if name in tables:
                raise ValueError(f"two state tables are named {name!r}")
            tables[name] = table
    return tables


class Changelog:
    """Writes and reads one stage's change-log topic."""

    def __init__(self, settings: Settings, topic: str, publisher: Publisher) -> None:
        self.settings = settings
        self.topic = topic
        self.publisher = publisher

    def write(self, partition: int, rules: Iterable[Stateful]) -> int:
        """Produce every change since the last write; return how many."""
        written = 0
        for name, table in _tables(rules).items():
            for key, value, present in table.take_changes():
                payload = (
                    pickle.dumps(table.to_log(value), protocol=pickle.HIGHEST_PROTOCOL)
                    if present
                    else None
                )
                self.publisher.produce_to(
                    self.topic, partition, payload, f"{name}{SEPARATOR}{key}".encode()
                )
                written += 1
        if written:
            COUNTERS.add(Metric.STATE_CHANGES, self.topic, written)
        return written

    def restore(self, parts: Mapping[int, Iterable[Stateful]]) -> dict[int, int]:
        """Rebuild the (empty) tables of each partition's rules from its change-log partition,
        reading them all at once; return the records read per partition.

        Only each key's last record counts, so the records are first compacted here, as the
        broker's compaction would, and only the values that survive are unpickled, in the
        order of their last writes: what the change log would hold once compacted."""
        tables = {partition: _tables(rules) for partition, rules in parts.items()}
        read = dict.fromkeys(tables, 0)
        if not tables:
            return read
        started = time.monotonic()
        latest = self._latest(sorted(tables), read)
        applied = 0
        for partition, records in latest.items():
            for raw_key, value in records.items():
                if value is None:
                    continue  # deleted: an empty table has nothing to drop
                name, _, key = raw_key.decode().partition(SEPARATOR)
                table = tables[partition].get(name)
                if table is not None:  # a table a newer or older version kept: ignore
                    # Our own change log (see the module docstring): trusted.
                    table.restore(key, table.from_log(pickle.loads(value)))  # noqa: S301
                    applied += 1
        COUNTERS.add(Metric.STATE_RESTORED, self.topic, sum(read.values()))
        log.info(
            "restored %s%s: %d records read, %d entries in %.1fs",
            self.topic,
            sorted(read),
            sum(read.values()),
            applied,
            time.monotonic() - started,
        )
        return read

    def _latest(
        self, partitions: list[int], read: dict[int, int]
    ) -> dict[int, dict[bytes, bytes | None]]:
        """Each partition's last value per key (None: deleted), in the order of the last
        writes, counting the records read into ``read``."""
        latest: dict[int, dict[bytes, bytes | None]] = {p: {} for p in partitions}
        consumer = self._consumer()
        started = time.monotonic()
        try:
            # Read up to each partition's end as it is now (its last records may be compacted
            # away: its end-of-partition event then says it is done).
            left = {}
            for partition in partitions:
                low, high = self._watermarks(consumer, partition)
                if high > low:
                    left[partition] = high
            consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in sorted(left)])
            while left:
                # A short wait: the call returns what has arrived instead of waiting to fill
                # the batch (a partition's tail would otherwise cost a whole timeout).
                for message in consumer.consume(10_000, timeout=0.1):
                    partition = message.partition() or 0
                    error = message.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            left.pop(partition, None)
                        continue
                    records = latest[partition]
                    key = message.key() or b""
                    records.pop(key, None)  # a rewrite moves the key to its new place
                    records[key] = message.value()
                    read[partition] += 1
                    if (message.offset() or 0) >= left.get(partition, 0) - 1:
                        left.pop(partition, None)
                if time.monotonic() - started > 600:
                    raise TimeoutError(f"restoring {self.topic} {sorted(left)} took over 10 min")
        finally:
            consumer.close()
        return latest

    def ends(self, partitions: Iterable[int]) -> dict[int, int]:
        """The end offset of each of these change-log partitions (what the next write gets)."""
        consumer = self._consumer()
        try:
            return {p: self._watermarks(consumer, p)[1] for p in sorted(set(partitions))}
        finally:
            consumer.close()

    def _consumer(self) -> Consumer:
        return Consumer(
            {
                "bootstrap.servers": self.settings.kafka_bootstrap_servers,
                "group.id": f"{self.settings.app_id}.restore",  # never commits
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "logger": LIBRDKAFKA_LOGGER,
            }
        )

    def _watermarks(self, consumer: Consumer, partition: int) -> tuple[int, int]:
        """The partition's offsets; a topic created a moment ago may not have a leader yet."""
        tp = TopicPartition(self.topic, partition)
        deadline = time.monotonic() + self.settings.kafka_timeout_seconds
        while True:
            try:
                low, high = consumer.get_watermark_offsets(
                    tp, timeout=self.settings.kafka_timeout_seconds
                )
                return int(low), int(high)
            except KafkaException as exc:
                error = exc.args[0] if exc.args else None
                retriable = error is not None and (
                    error.retriable()
                    or error.code()
                    in (KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError._UNKNOWN_PARTITION)
                )
                if not retriable or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


class PartitionedRules(Generic[P]):
    """One set of rules per assigned input partition, rebuilt from the change log on assignment
    and dropped on revocation. ``make`` builds an empty set; ``rules_of`` lists its Stateful parts.

    A set whose every change was written when its partition was revoked is kept aside, with the
    change log's end offset then. If the next assignment gives the partition back and that end
    has not moved, nobody else wrote state for it: the set is exactly what reading the change
    log would rebuild, and is taken up again as it is.
    """

    def __init__(
        self,
        changelog: Changelog,
        make: Callable[[], P],
        rules_of: Callable[[P], Iterable[Stateful]],
    ) -> None:
        self.changelog = changelog
        self.make = make
        self.rules_of = rules_of
        self.parts: dict[int, P] = {}
        self.kept: dict[int, tuple[P, int]] = {}  # revoked, all written: (set, change-log end)
        self.lock = threading.Lock()

    def assign(self, partitions: Iterable[int]) -> None:
        """The stage's whole new assignment (the consumer's rebalances revoke everything first,
        then assign): sets kept aside for partitions not in it are dropped."""
        wanted = sorted(set(partitions) - self.parts.keys())
        kept, self.kept = self.kept, {}
        ends = self._ends([p for p in wanted if p in kept])
        rebuild = []
        for partition in wanted:
            held = kept.get(partition)
            if held is not None and ends.get(partition) == held[1]:
                self.parts[partition] = held[0]
                COUNTERS.add(Metric.STATE_KEPT, self.changelog.topic)
                log.info("kept %s[%d]: nobody wrote to it since", self.changelog.topic, partition)
            else:
                rebuild.append(partition)
        self._restore(rebuild)

    def revoke(self, partitions: Iterable[int], *, written: bool = False) -> None:
        """Drop these partitions' sets; keep them aside if ``written`` (every change of every
        set is acknowledged by the change log)."""
        popped = {p: self.parts.pop(p, None) for p in set(partitions)}
        revoked = {p: part for p, part in popped.items() if part is not None}
        if written and revoked:
            ends = self._ends(list(revoked))
            self.kept.update((p, (part, ends[p])) for p, part in revoked.items() if p in ends)

    def get(self, partition: int) -> P:
        part = self.parts.get(partition)
        if part is None:  # assignment callbacks come first; this is a safety net
            self._restore([partition])
            part = self.parts[partition]
        return part

    def _restore(self, partitions: list[int]) -> None:
        """New sets for these partitions, rebuilt from the change log together."""
        made = {partition: self.make() for partition in partitions}
        self.changelog.restore({p: self.rules_of(part) for p, part in made.items()})
        self.parts.update(made)

    def _ends(self, partitions: list[int]) -> dict[int, int]:
        """Change-log ends, or none when the broker cannot say (then sets are rebuilt)."""
        if not partitions:
            return {}
        try:
            return self.changelog.ends(partitions)
        except KafkaException as exc:
            log.warning("change-log ends of %s not read (%s)", self.changelog.topic, exc)
            return {}

    def items(self) -> Mapping[int, P]:
        return self.parts

    def write_changes(self) -> int:
        return sum(
            self.changelog.write(partition, self.rules_of(part))
            for partition, part in sorted(self.parts.items())
        )
