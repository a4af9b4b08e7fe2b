"""Producing from agents with confluent-kafka: ``produce`` is a cheap C call, and ``flush``
waits for the broker's acknowledgement of everything produced, before the agent acks its input."""

from __future__ import annotations

import asyncio
from typing import Any

from confluent_kafka import Producer

from streams.kafka_admin import LIBRDKAFKA_LOGGER, message_limit
from streams.settings import Settings


class DeliveryFailed(RuntimeError):
    """The broker did not take some messages; the input they came from must not be acked."""


def producer_config(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """The project's producer settings: idempotent, every replica acknowledges, lz4."""
    return {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "compression.type": "lz4",
        "queue.buffering.max.messages": 500_000,
        # A dead letter carries the whole vendor body, which may be megabytes (images).
        "message.max.bytes": message_limit(settings),
        "logger": LIBRDKAFKA_LOGGER,
        **overrides,
    }


class Publisher:
    def __init__(self, settings: Settings, **overrides: Any) -> None:
        self._producer = Producer(producer_config(settings, **overrides))
        self._errors: list[str] = []
        self.produced = 0

    def _delivered(self, err: Any, _msg: Any) -> None:
        if err is not None:
            self._errors.append(str(err))

    def produce(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        headers: list[tuple[str, str | bytes | None]] | None = None,
    ) -> None:
        while True:
            try:
                self._producer.produce(
                    topic, value, key, headers=headers, on_delivery=self._delivered
                )
                break
            except BufferError:  # local queue full: let librdkafka send some, then retry
                self._producer.poll(0.05)
        self.produced += 1

    def produce_to(self, topic: str, partition: int, value: bytes | None, key: bytes) -> None:
        """Produce to one partition (change logs: partition p holds the state of input p);
        a None value is a tombstone."""
        while True:
            try:
                self._producer.produce(
                    topic, value, key, partition=partition, on_delivery=self._delivered
                )
                break
            except BufferError:
                self._producer.poll(0.05)
        self.produced += 1

    def flush_sync(self, timeout: float = 30.0) -> None:
        remaining = self._producer.flush(timeout)
        if remaining:
            raise DeliveryFailed(f"{remaining} messages not acknowledged within {timeout:g}s")
        if self._errors:
            errors, self._errors = self._errors, []
            raise DeliveryFailed(f"{len(errors)} messages failed: {errors[0]}")

    async def flush(self, timeout: float = 30.0) -> None:
        """Wait (off the event loop) until the broker acknowledged everything produced."""
        await asyncio.get_running_loop().run_in_executor(None, self.flush_sync, timeout)
