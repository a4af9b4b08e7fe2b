"""Reading what the pipeline wrote to a topic, for assertions."""

from __future__ import annotations

import time
import uuid
from typing import Any

from confluent_kafka import Consumer

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
