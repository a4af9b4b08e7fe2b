"""Reading what the pipeline wrote to a topic, for assertions."""

from __future__ import annotations

import time
import uuid
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition

from streams.codecs.avro import decode
from streams.settings import Settings


def read_topic(settings: Settings, topic: str, expected: int, timeout: float = 60) -> list[Any]:
    """Decode messages from the start of ``topic`` until ``expected`` arrived (or time is up)."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    found: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(found) < expected and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error() is not None:
                continue
            found.append(decode(message.value()))
        # Anything beyond the expected count would be a duplicate: look a little longer.
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                found.append(decode(message.value()))
    finally:
        consumer.close()
    return found


def committed_lag(settings: Settings, stage: str, topics: list[str]) -> int:
    """Messages on the topics not yet covered by a stage's committed offsets."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": f"{settings.app_id}.{stage}",
            "enable.auto.commit": False,
        }
    )
    try:
        parts = [TopicPartition(t, p) for t in topics for p in range(settings.topic_partitions)]
        lag = 0
        for tp in consumer.committed(parts, timeout=10):
            _low, high = consumer.get_watermark_offsets(tp, timeout=10)
            lag += high - max(tp.offset, 0)
        return lag
    finally:
        consumer.close()


def topic_values(settings: Settings, topic: str, timeout: float = 30) -> list[bytes]:
    """The raw values of every message in ``topic`` now, read to the end of each partition."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        parts = [TopicPartition(topic, p, 0) for p in range(settings.topic_partitions)]
        consumer.assign(parts)
        left = {tp.partition for tp in parts}
        values: list[bytes] = []
        deadline = time.monotonic() + timeout
        while left and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    left.discard(message.partition())
                continue
            values.append(message.value() or b"")
        assert not left, f"{topic}: partitions {sorted(left)} not read to their end in {timeout}s"
        return values
    finally:
        consumer.close()
