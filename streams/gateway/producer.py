"""The gateway's Kafka producer, and what its health endpoints ask of it: is its poll thread
running (liveness), does the broker answer and does its queue have room (readiness)."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import KafkaException, Producer

from streams.kafka_admin import LIBRDKAFKA_LOGGER, message_limit
from streams.settings import Settings

# A payload refused for a full queue keeps the gateway unready this long (the queue may have
# drained a little since, but senders are being turned away).
QUEUE_FULL_SECONDS = 1.0
# Readiness asks the broker for metadata at most this often, with this timeout: probes stay
# cheap, and a probe with the usual timeout of a second or two still gets an answer.
BROKER_CHECK_SECONDS = 5.0
BROKER_TIMEOUT_SECONDS = 1.0
# After a push went unacknowledged, pushes are turned away at once this long before one tries.
BREAKER_COOLDOWN_SECONDS = 5.0


class RawProducer:
    """An idempotent producer whose deliveries resolve asyncio futures."""

    def __init__(self, settings: Settings) -> None:
        self._producer = Producer(
            {
                "bootstrap.servers": settings.kafka_bootstrap_servers,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 2,
                "compression.type": "lz4",
                "queue.buffering.max.messages": settings.gateway_queue_messages,
                "message.max.bytes": message_limit(settings),
                "logger": LIBRDKAFKA_LOGGER,
            }
        )
        self.max_queued = settings.gateway_queue_messages
        self.refused_at = -math.inf  # monotonic time of the last payload refused: queue full
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="gateway-producer", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.05)

    def send(
        self,
        topic: str,
        key: bytes,
        value: bytes,
        headers: list[tuple[str, str | bytes | None]],
        timestamp_ms: int = 0,
    ) -> asyncio.Future[None] | None:
        """A future of the delivery, or None when the local queue is full (backpressure)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def delivered(err: Any, _msg: Any) -> None:
            def settle() -> None:
                if future.done():
                    return
                if err is None:
                    future.set_result(None)
                else:
                    future.set_exception(KafkaException(err))

            loop.call_soon_threadsafe(settle)

        try:
            self._producer.produce(
                topic, value, key, headers=headers, on_delivery=delivered, timestamp=timestamp_ms
            )
        except BufferError:
            self.refused_at = time.monotonic()
            return None
        return future

    def queued(self) -> int:
        """Messages produced and not yet acknowledged (or failed)."""
        return len(self._producer)

    def queue_full(self) -> bool:
        return (
            self.queued() >= self.max_queued
            or time.monotonic() - self.refused_at < QUEUE_FULL_SECONDS
        )

    def alive(self) -> bool:
        """The poll thread that serves delivery reports runs (without it no send completes)."""
        return self._poller.is_alive() and not self._stop.is_set()

    def broker_problem(
        self, topics: Sequence[str], timeout: float = BROKER_TIMEOUT_SECONDS
    ) -> str | None:
        """Why the broker cannot take payloads for one of ``topics`` (one metadata request),
        or None. Blocks up to ``timeout``: call it off the event loop."""
        try:
            metadata = self._producer.list_topics(timeout=timeout)
        except KafkaException as exc:
            return f"the broker did not answer a metadata request within {timeout:g}s: {exc}"
        for topic in topics:
            found = metadata.topics.get(topic)
            if found is None or found.error is not None:
                return f"topic {topic} is not available: {found.error if found else 'missing'}"
            if not found.partitions or any(p.leader < 0 for p in found.partitions.values()):
                return f"topic {topic} has partitions without a leader"
        return None

    def close(self, timeout: float = 10.0) -> None:
        self._producer.flush(timeout)
        self._stop.set()
        self._poller.join(timeout)


class BrokerBreaker:
    """Turns pushes away at once while the broker is known not to acknowledge.

    After a push found no acknowledgement in time, every sender would otherwise wait the whole
    timeout for its 503, holding a connection, for as long as the outage lasts. For
    ``cooldown`` seconds after such a failure, pushes are refused without being produced (the
    sender retries; nothing is queued that could arrive twice). Then one push at a time is let
    through to try the broker; its acknowledgement closes the breaker, its failure opens it
    again. ``clock`` is injectable for tests."""

    def __init__(
        self,
        cooldown: float = BREAKER_COOLDOWN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cooldown = cooldown
        self.clock = clock
        self.failed_at: float | None = None  # None: closed
        self.trying = False

    def admit(self) -> bool:
        """May this push be produced? (The one a half-open breaker lets through is marked.)"""
        if self.failed_at is None:
            return True
        if self.clock() - self.failed_at < self.cooldown or self.trying:
            return False
        self.trying = True
        return True

    def delivered(self) -> None:
        self.failed_at = None
        self.trying = False

    def released(self) -> None:
        """The push let through never reached the broker (the queue was full): another may."""
        self.trying = False

    def failed(self) -> None:
        self.failed_at = self.clock()
        self.trying = False


class Readiness:
    """The gateway's readiness: its producer runs, has room, and every raw topic has a leader.
    The broker is asked at most every ``BROKER_CHECK_SECONDS``; concurrent probes share one
    request."""

    def __init__(self, producer: RawProducer, topics: Sequence[str]) -> None:
        self.producer = producer
        self.topics = list(topics)
        self._checked_at = -math.inf
        self._broker: str | None = None
        self._lock = asyncio.Lock()

    async def problem(self) -> str | None:
        if not self.producer.alive():
            return "the producer's poll thread is not running"
        if self.producer.queue_full():
            return "the producer's send queue is full"
        async with self._lock:
            if time.monotonic() - self._checked_at >= BROKER_CHECK_SECONDS:
                loop = asyncio.get_running_loop()
                self._broker = await loop.run_in_executor(
                    None, self.producer.broker_problem, self.topics
                )
                self._checked_at = time.monotonic()
        return self._broker
