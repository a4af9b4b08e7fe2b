"""Runs the worker's stages: batch loops on confluent-kafka consumers inside the faust worker.

faust's own consumer path moves about two thousand messages a second on one of our cores (its
floor, measured with an agent that does nothing; see docs/benchmarks.md), while librdkafka moves
over a hundred thousand. So each stage is a plain loop in its own thread:

    consume a batch -> stage.process(batch) -> stage.flush() -> commit exactly that batch

``flush`` makes the stage's outputs durable (producer acknowledged by the broker, or warehouse
insert succeeded) before the offsets are committed: delivery is at-least-once and nothing is
committed past unfinished work. A stage that raises stops the worker (no commit for that batch).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import mode
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from streams.kafka_admin import LIBRDKAFKA_LOGGER
from streams.settings import Settings
from streams.warehouse.landing import Stopped

log = logging.getLogger(__name__)


class Stage(Protocol):
    """One step of the pipeline: what it reads, and what it does with a batch."""

    name: str
    topics: Sequence[str]

    def process(self, messages: Sequence[Any]) -> None:
        """Handle a batch (produce outputs, prepare rows). Raise only for a bug or a stop."""

    def flush(self, stopping: threading.Event) -> None:
        """Make the batch's outputs durable; return only once they are (or ``stopping`` is set,
        then raise ``Stopped``)."""

    def after_commit(self) -> None:
        """Called once the batch is committed; may raise to stop the worker."""


@runtime_checkable
class StatefulStage(Stage, Protocol):
    """A stage with window state per input partition (see ``streams.agents.changelog``)."""

    def assign(self, partitions: list[int]) -> None:
        """Partitions were assigned: rebuild their state before their messages arrive."""

    def revoke(self, partitions: list[int]) -> None:
        """Partitions were taken away: drop their state (the new owner rebuilds it)."""

    def idle(self) -> None:
        """No input arrived within the poll timeout: advance windows with the clock."""


class StageRunner(threading.Thread):
    def __init__(
        self, settings: Settings, stage: Stage, on_fatal: Callable[[BaseException], None]
    ) -> None:
        super().__init__(name=f"stage-{stage.name}", daemon=True)
        self.settings = settings
        self.stage = stage
        self.on_fatal = on_fatal
        self.stopping = threading.Event()
        self.ready = threading.Event()
        self.batches = 0

    def _consumer(self) -> Consumer:
        return Consumer(
            {
                "bootstrap.servers": self.settings.kafka_bootstrap_servers,
                "group.id": f"{self.settings.app_id}.{self.stage.name}",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "max.poll.interval.ms": 600_000,  # a batch waits for a warehouse outage this long
                "logger": LIBRDKAFKA_LOGGER,
            }
        )

    def run(self) -> None:
        consumer = self._consumer()
        try:
            consumer.subscribe(
                list(self.stage.topics), on_assign=self._assigned, on_revoke=self._revoked
            )
            while not self.stopping.is_set():
                self._one_batch(consumer)
        except Stopped:
            log.info(
                "stage %s stopped before its last batch was durable; it will be redelivered",
                self.stage.name,
            )
        except BaseException as exc:  # a bug, or a stage that decided the worker must stop
            log.exception("stage %s failed", self.stage.name)
            self.on_fatal(exc)
        finally:
            consumer.close()

    def _assigned(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if isinstance(self.stage, StatefulStage):
            self.stage.assign(sorted({tp.partition for tp in partitions}))
        self.ready.set()

    def _revoked(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Every batch is committed before the next poll, so nothing is in flight here.
        if isinstance(self.stage, StatefulStage):
            self.stage.revoke(sorted({tp.partition for tp in partitions}))

    def _one_batch(self, consumer: Consumer) -> None:
        messages = consumer.consume(
            self.settings.sink_batch_size, timeout=self.settings.sink_flush_seconds
        )
        good = []
        for message in messages:
            error = message.error()
            if error is None:
                good.append(message)
            elif error.code() != KafkaError._PARTITION_EOF:
                log.warning("stage %s: consumer error %s", self.stage.name, error)
        if not good:
            if isinstance(self.stage, StatefulStage):
                self.stage.idle()
                self.stage.flush(self.stopping)
            return
        self.ready.set()
        self.stage.process(good)
        self.stage.flush(self.stopping)
        try:
            consumer.commit(offsets=next_offsets(good), asynchronous=False)
        except KafkaException as exc:
            # Typically a rebalance took the partitions away: the new owner re-reads them.
            log.warning(
                "stage %s: commit failed (%s); the batch will be redelivered", self.stage.name, exc
            )
        self.batches += 1
        self.stage.after_commit()

    def stop(self) -> None:
        self.stopping.set()


def next_offsets(messages: Sequence[Any]) -> list[TopicPartition]:
    """The offsets to commit after a batch: one past the highest offset per partition."""
    highest: dict[tuple[str, int], int] = {}
    for message in messages:
        key = (message.topic(), message.partition())
        if message.offset() >= highest.get(key, -1):
            highest[key] = message.offset()
    return [TopicPartition(t, p, o + 1) for (t, p), o in sorted(highest.items())]


class StageService(mode.Service):
    """Starts and stops the stage threads with the faust worker; a failed stage stops it."""

    def __init__(self, runners: list[StageRunner], **kwargs: Any) -> None:
        self.runners = runners
        super().__init__(**kwargs)

    async def on_start(self) -> None:
        loop = asyncio.get_running_loop()

        def fatal(exc: BaseException) -> None:
            asyncio.run_coroutine_threadsafe(self.crash(exc), loop)

        for runner in self.runners:
            runner.on_fatal = fatal
            runner.start()

    async def on_stop(self) -> None:
        for runner in self.runners:
            runner.stop()
        loop = asyncio.get_running_loop()
        for runner in self.runners:
            await loop.run_in_executor(None, runner.join, 60)

    def ready(self) -> bool:
        return all(r.is_alive() and r.ready.is_set() for r in self.runners)
