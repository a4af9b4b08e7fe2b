"""Window state that survives restarts and rebalances: a compacted change-log topic per stage.

A stateful stage keeps one set of rules per input partition (its inputs are co-partitioned:
partition *p* of every input topic holds the same keys). After each batch, once the batch's
outputs are acknowledged, every key the rules changed is written to partition *p* of the
stage's change log (value: the pickled entry; a deleted key: a tombstone) and acknowledged;
only then are the input offsets committed. When a partition is assigned (start, restart,
rebalance), its rules are rebuilt by reading that change-log partition from the beginning.

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
                payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL) if present else None
                self.publisher.produce_to(
                    self.topic, partition, payload, f"{name}{SEPARATOR}{key}".encode()
                )
                written += 1
        if written:
            COUNTERS.add(Metric.STATE_CHANGES, self.topic, written)
        return written

    def restore(self, partition: int, rules: Iterable[Stateful]) -> int:
        """Rebuild the rules' tables from the change log's partition; return records read."""
        tables = _tables(rules)
        consumer = Consumer(
            {
                "bootstrap.servers": self.settings.kafka_bootstrap_servers,
                "group.id": f"{self.settings.app_id}.restore",  # never commits
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "logger": LIBRDKAFKA_LOGGER,
            }
        )
        read = 0
        started = time.monotonic()
        try:
            low, high = self._watermarks(consumer, partition)
            if high <= low:
                return 0
            consumer.assign([TopicPartition(self.topic, partition, OFFSET_BEGINNING)])
            done = False
            while not done:
                for message in consumer.consume(10_000, timeout=1.0):
                    error = message.error()
                    if error is not None:
                        # The end of the partition (its last records may be compacted away).
                        done = done or error.code() == KafkaError._PARTITION_EOF
                        continue
                    name, _, key = (message.key() or b"").decode().partition(SEPARATOR)
                    table = tables.get(name)
                    if table is not None:  # a table a newer or older version kept: ignore
                        value = message.value()
                        # Our own change log (see the module docstring): trusted.
                        state = None if value is None else pickle.loads(value)  # noqa: S301
                        table.restore(key, state)
                    read += 1
                    done = done or (message.offset() or 0) >= high - 1
                if time.monotonic() - started > 600:
                    raise TimeoutError(f"restoring {self.topic}[{partition}] took over 10 min")
        finally:
            consumer.close()
        COUNTERS.add(Metric.STATE_RESTORED, self.topic, read)
        log.info(
            "restored %s[%d]: %d records in %.1fs",
            self.topic,
            partition,
            read,
            time.monotonic() - started,
        )
        return read

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
        self.lock = threading.Lock()

    def assign(self, partitions: Iterable[int]) -> None:
        for partition in sorted(set(partitions)):
            if partition in self.parts:
                continue
            part = self.make()
            self.changelog.restore(partition, self.rules_of(part))
            self.parts[partition] = part

    def revoke(self, partitions: Iterable[int]) -> None:
        for partition in set(partitions):
            self.parts.pop(partition, None)

    def get(self, partition: int) -> P:
        part = self.parts.get(partition)
        if part is None:  # assignment callbacks come first; this is a safety net
            self.assign([partition])
            part = self.parts[partition]
        return part

    def items(self) -> Mapping[int, P]:
        return self.parts

    def write_changes(self) -> int:
        return sum(
            self.changelog.write(partition, self.rules_of(part))
            for partition, part in sorted(self.parts.items())
        )
