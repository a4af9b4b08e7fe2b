"""The watchlist on Kafka: a compacted topic keyed by entry id (a null value deletes the entry).

Every worker follows the whole topic (all partitions, no consumer group), so an entry added by
the CLI or the API matches captures on every worker within a poll interval.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from streams import topics
from streams.codecs.confluent import RegistryError
from streams.codecs.wire import WireFormat
from streams.correlate.records import WatchlistEntry
from streams.correlate.watchlist import Watchlist
from streams.kafka_admin import LIBRDKAFKA_LOGGER
from streams.metrics import COUNTERS, Metric
from streams.publisher import Publisher
from streams.settings import Settings

log = logging.getLogger(__name__)


class WatchlistFollower:
    """Applies the watchlist topic to a :class:`Watchlist`: all of it at start, then changes."""

    def __init__(self, settings: Settings, watchlist: Watchlist, wire: WireFormat) -> None:
        self.settings = settings
        self.watchlist = watchlist
        self.wire = wire
        self.topic = settings.topic(topics.WATCHLIST.name)
        self.consumer = Consumer(
            {
                "bootstrap.servers": settings.kafka_bootstrap_servers,
                "group.id": f"{settings.app_id}.watchlist-{uuid.uuid4().hex[:8]}",  # no commits
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "logger": LIBRDKAFKA_LOGGER,
            }
        )
        metadata = self.consumer.list_topics(self.topic, timeout=settings.kafka_timeout_seconds)
        partitions = sorted(metadata.topics[self.topic].partitions)
        self.consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in partitions])
        self.at_end: set[int] = set()
        self.partitions = set(partitions)

    def catch_up(self, timeout: float = 60.0) -> int:
        """Read until the end of every partition; return the entries applied."""
        applied = 0
        deadline = datetime.now(UTC).timestamp() + timeout
        while self.at_end != self.partitions:
            # A short wait: each call returns what has arrived (a long one would be waited
            # out in full at the end of the topic, which is every start).
            applied += self.poll(0.1)
            if datetime.now(UTC).timestamp() > deadline:
                raise TimeoutError(f"reading {self.topic} took over {timeout:g}s")
        return applied

    def poll(self, timeout: float = 0.0) -> int:
        applied = 0
        for message in self.consumer.consume(1000, timeout=timeout):
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    self.at_end.add(message.partition() or 0)
                continue
            key = (message.key() or b"").decode("utf-8", "replace")
            value = message.value()
            if value is None:
                self.watchlist.apply(key, None)
            else:
                try:
                    entry = self.wire.decode(value)
                except RegistryError:
                    raise  # skipping the entry would miss its alerts: stop instead
                except ValueError as exc:
                    log.warning("watchlist entry %s cannot be read: %s", key, exc)
                    continue
                if isinstance(entry, WatchlistEntry):
                    self.watchlist.apply(key, entry)
            applied += 1
        if applied:
            COUNTERS.add(Metric.WATCHLIST_ENTRIES, "", applied)
        return applied

    def close(self) -> None:
        self.consumer.close()


def read_watchlist(settings: Settings, wire: WireFormat | None = None) -> Watchlist:
    """The current watchlist, read from the topic."""
    watchlist = Watchlist()
    follower = WatchlistFollower(settings, watchlist, wire or WireFormat())
    try:
        follower.catch_up()
    finally:
        follower.close()
    return watchlist


def publish_entries(
    settings: Settings, entries: list[WatchlistEntry], wire: WireFormat | None = None
) -> None:
    wire = wire or WireFormat()
    topic = settings.topic(topics.WATCHLIST.name)
    publisher = Publisher(settings)
    for entry in entries:
        publisher.produce(topic, wire.encode(entry, topic), entry.entry_id.encode())
    publisher.flush_sync()


def remove_entries(settings: Settings, entry_ids: list[str]) -> None:
    topic = settings.topic(topics.WATCHLIST.name)
    publisher = Publisher(settings)
    for entry_id in entry_ids:
        publisher.produce(topic, None, entry_id.encode())  # a tombstone deletes the entry
    publisher.flush_sync()
