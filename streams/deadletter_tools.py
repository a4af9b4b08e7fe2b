"""``streams deadletters list|replay``: look at dead letters, and send them through again.

Replay produces each selected dead letter's original bytes, key and headers back to the topic
it came from (header ``x-replay-of: topic:partition:offset``): a payload the normalize stage
refused to its raw topic, so a fixed adapter normalizes it; a record a warehouse stage could not
store to the topic that stage read (``unique.plate``, ``raw.<source>``, ...), so it lands once
the table is fixed. Replay reads with its own consumer group and commits what it replayed:
running it again continues after the last replayed dead letter. Records of a payload that were
fine the first time come out again with the same event ids, which deduplication recognises.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaError

from streams.canonical import DeadLetter
from streams.codecs.avro import AvroDecodeError
from streams.codecs.wire import wire_format
from streams.kafka_admin import LIBRDKAFKA_LOGGER, existing_topics
from streams.publisher import Publisher
from streams.settings import Settings
from streams.topics import ALL_TOPICS, DEAD_LETTERS, SOURCES, raw_topic_name


def _consumer(settings: Settings, group: str) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "logger": LIBRDKAFKA_LOGGER,
        }
    )


def read_dead_letters(consumer: Consumer, settings: Settings) -> Iterator[tuple[Any, DeadLetter]]:
    """(message, dead letter) until every partition reached its end."""
    topic = settings.topic(DEAD_LETTERS.name)
    metadata = consumer.list_topics(topic, timeout=settings.kafka_timeout_seconds)
    partitions = len(metadata.topics[topic].partitions)
    wire = wire_format(settings)
    consumer.subscribe([topic])
    finished: set[int] = set()
    idle = 0
    while len(finished) < partitions and idle < 20:
        message = consumer.poll(0.5)
        if message is None:
            idle += 1  # no assignment yet, or nothing at all
            continue
        idle = 0
        error = message.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                finished.add(message.partition() or 0)
            continue
        try:
            letter = wire.decode(message.value() or b"")
        except AvroDecodeError:
            continue
        if isinstance(letter, DeadLetter):
            yield message, letter


@dataclass(frozen=True)
class LetterFilter:
    """Which dead letters a command takes: each given criterion must hold."""

    source: str | None = None
    stage: str | None = None
    contains: str | None = None  # text of the reason

    def matches(self, letter: DeadLetter) -> bool:
        if self.source is not None and letter.source != self.source:
            return False
        if self.stage is not None and letter.stage != self.stage:
            return False
        return self.contains is None or self.contains in letter.reason


def list_dead_letters(settings: Settings, which: LetterFilter, *, limit: int, as_json: bool) -> int:
    existing_topics(settings)  # a clear error when the broker is down
    consumer = _consumer(settings, f"{settings.app_id}-deadletter-list-{id(settings)}")
    shown = 0
    try:
        for _message, letter in read_dead_letters(consumer, settings):
            if not which.matches(letter):
                continue
            if as_json:
                sys.stdout.write(letter.model_dump_json() + "\n")
            else:
                where = f"{letter.topic}:{letter.partition}:{letter.offset}"
                sys.stdout.write(
                    f"{letter.failed_at:%Y-%m-%d %H:%M:%S} {letter.stage:9} "
                    f"{where:32} {len(letter.payload):>7}B  {letter.reason}\n"
                )
            shown += 1
            if shown >= limit:
                break
    finally:
        consumer.close()
    if not as_json:
        sys.stdout.write(f"{shown} dead letters shown\n")
    return 0


def _destination(settings: Settings, letter: DeadLetter) -> str | None:
    """Where a replay sends ``letter``: its source's raw topic, or else the topic it was read
    from when that is one of this deployment's topics (never the dead-letter topic itself)."""
    if letter.source in SOURCES:
        return settings.topic(raw_topic_name(letter.source))
    ours = {settings.topic(spec.name) for spec in ALL_TOPICS if spec != DEAD_LETTERS}
    return letter.topic if letter.topic in ours else None


def replay_dead_letters(settings: Settings, which: LetterFilter, *, dry_run: bool) -> int:
    existing_topics(settings)
    consumer = _consumer(settings, f"{settings.app_id}-deadletter-replay")
    publisher = None if dry_run else Publisher(settings)
    replayed: Counter[str] = Counter()
    passed_over = 0
    read_any = False
    try:
        for _message, letter in read_dead_letters(consumer, settings):
            read_any = True
            destination = _destination(settings, letter)
            if not which.matches(letter) or destination is None:
                passed_over += 1
                continue
            replayed[letter.source or destination] += 1
            if publisher is None:
                continue
            headers: list[tuple[str, str | bytes | None]] = [
                (h.key, h.value) for h in letter.headers if h.key != "x-replay-of"
            ]
            headers.append(("x-replay-of", f"{letter.topic}:{letter.partition}:{letter.offset}"))
            publisher.produce(
                destination,
                letter.payload,
                letter.key,
                headers,
            )
        if publisher is not None and read_any:
            publisher.flush_sync()
            consumer.commit(asynchronous=False)  # only after the broker took every replay
    finally:
        consumer.close()
    summary = {"replayed": dict(replayed), "passed_over": passed_over, "dry_run": dry_run}
    sys.stdout.write(orjson.dumps(summary).decode() + "\n")
    return 0
