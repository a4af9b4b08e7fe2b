"""Runs the worker's stages: batch loops on confluent-kafka consumers inside the faust worker.

faust's own consumer path moves about two thousand messages a second on one of our cores (its
floor, measured with an agent that does nothing; see docs/benchmarks.md), while librdkafka moves
over a hundred thousand. So each stage is a plain loop in its own thread:

    consume a batch -> stage.process(batch) -> ... -> stage.flush() -> commit what was processed

Batches are small and quick on the path to alerts; checkpoints (``flush`` then commit) come at
most every ``checkpoint_seconds`` of the stage, after every batch for warehouse sinks.
``flush`` makes the stage's outputs durable (producer acknowledged by the broker, or warehouse
insert succeeded, and a stateful stage's change log written) before the offsets are committed:
delivery is at-least-once and nothing is committed past unfinished work. A stage that raises
stops the worker (no commit for what it had not made durable). A stage whose outputs are
deduplicated by batch (``regathers_batches``: the warehouse sinks) gets a batch cut short by a
crash redelivered exactly as it was cut (:mod:`streams.agents.redelivery`).

A stage whose windows wait for several inputs (the dedup stage: plates, faces and alarms of the
same devices) names, after each batch, the inputs it read too far ahead in event time; the
runner pauses them until the others catch up (``_pace``). Without that, a worker catching up a
backlog is handed one partition's records for minutes of event time before another's, and
holds them all in its windows until the slowest input has spoken.

Between batches, at most every few seconds, the runner sets the stage's consumer-lag gauge;
the time its loop last came round is what the worker's ``/healthz`` checks.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import mode
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from streams.agents.redelivery import (
    Intent,
    gather_again,
    intent_metadata,
    intent_to_regather,
    read_ranges,
)
from streams.kafka_admin import LIBRDKAFKA_LOGGER
from streams.metrics import COUNTERS, GAUGES, Metric
from streams.settings import Settings
from streams.warehouse.landing import Stopped

log = logging.getLogger(__name__)

# A batch may wait this long for a warehouse outage; past it the consumer has left its group
# (max.poll.interval.ms), so a loop that has not come round for longer is wedged.
MAX_POLL_INTERVAL_SECONDS = 600.0
# Consumer lag is measured between batches at most this often (never per message).
LAG_SECONDS = 5.0
LAG_TIMEOUT_SECONDS = 1.0
# Gathering a batch again after a restart gives up after this long (its records are normally
# all there at once).
REGATHER_SECONDS = 30.0


class ConsumerFailed(RuntimeError):
    """A stage's consumer failed for good (e.g. fenced by another worker of the same name)."""

    def __init__(self, stage: str, error: KafkaError) -> None:
        hint = ""
        if "group.instance.id" in error.str():  # librdkafka names no code for it (_FATAL)
            hint = (
                ": another worker joined under the same STREAMS_WORKER_INSTANCE_ID; "
                "every running worker needs a name of its own"
            )
        super().__init__(f"stage {stage}: its consumer failed for good ({error.str()}){hint}")


class Stage(Protocol):
    """One step of the pipeline: what it reads, and what it does with a batch."""

    name: str
    topics: Sequence[str]
    # A batch is at most ``batch_size`` messages, gathered for at most ``batch_wait`` seconds:
    # large and slow for warehouse sinks, small and quick on the path to alerts.
    batch_size: int
    batch_wait: float
    # Outputs are made durable and offsets committed at most this often (0: after every
    # batch). Between checkpoints a crash redelivers input: at-least-once, ids absorb repeats.
    checkpoint_seconds: float

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

    def at_end(self, topic: str, partition: int) -> None:
        """The stage has read everything on this input partition for now."""

    def ahead(self, paused: set[tuple[str, int]]) -> set[tuple[str, int]]:
        """The input partitions to leave unread for now (given those left unread so far):
        read too far ahead in event time of the inputs the stage's windows wait for."""


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
        self.batches = 0  # checkpoints that committed offsets
        self.pending: dict[tuple[str, int], int] = {}  # highest processed offset, uncommitted
        # Lowest processed offset, uncommitted (kept for stages that regather batches only).
        self.first: dict[tuple[str, int], int] = {}
        self.regathers: bool = getattr(stage, "regathers_batches", False)
        self.newly_assigned: list[tuple[str, int]] = []  # to look for a batch to gather again
        # A batch gathered again with records of partitions another worker owns now: those
        # partitions (never committed here) and the whole batch's ranges (stated again).
        self.apart: set[tuple[str, int]] = set()
        self.stated: Intent | None = None
        self.checkpointed = time.monotonic()
        self.looped = time.monotonic()  # the last time the loop came round (liveness)
        self.lag_measured = 0.0
        self.held: set[tuple[str, int]] = set()  # input partitions paused (see ``_pace``)

    def _consumer(self) -> Consumer:
        return Consumer(
            {
                "bootstrap.servers": self.settings.kafka_bootstrap_servers,
                "group.id": self._group(),
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "max.poll.interval.ms": int(MAX_POLL_INTERVAL_SECONDS * 1000),
                # The broker answers a fetch at once when data is there, else within the
                # stage's batch wait (its default of 500 ms would sit on the path to alerts).
                "fetch.wait.max.ms": max(10, int(self.stage.batch_wait * 1000)),
                # A crashed worker's partitions move to the others after this long.
                "session.timeout.ms": int(self.settings.stage_session_timeout_seconds * 1000),
                # Stateful stages hold stream time to inputs that still have records to deliver.
                "enable.partition.eof": isinstance(self.stage, StatefulStage),
                "logger": LIBRDKAFKA_LOGGER,
                # Static membership: a restart under the same name is no rebalance.
                **(
                    {"group.instance.id": self.settings.worker_instance_id}
                    if self.settings.worker_instance_id
                    else {}
                ),
            }
        )

    def _group(self) -> str:
        return f"{self.settings.app_id}.{self.stage.name}"

    def run(self) -> None:
        consumer = self._consumer()
        try:
            consumer.subscribe(
                list(self.stage.topics), on_assign=self._assigned, on_revoke=self._revoked
            )
            while not self.stopping.is_set():
                self.looped = time.monotonic()
                self._one_batch(consumer)
                if self.looped - self.lag_measured >= LAG_SECONDS:
                    self._measure_lag(consumer)
            self._checkpoint(consumer)  # a clean stop leaves nothing to redeliver
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
            close = getattr(self.stage, "close", None)
            if close is not None:  # the stage's own clients, closed in this thread
                close()

    def _assigned(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        COUNTERS.add(Metric.STAGE_ASSIGNMENTS, self.stage.name)
        if self.regathers:  # looked at outside the callback, before the next batch
            self.newly_assigned += [(tp.topic, tp.partition) for tp in partitions]
        if isinstance(self.stage, StatefulStage):
            self.stage.assign(sorted({tp.partition for tp in partitions}))
        self.ready.set()
        self.lag_measured = 0.0  # measure the new assignment after the next batch

    def _revoked(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Make what was processed durable and committed before another worker takes over.
        try:
            self._checkpoint(consumer)
        except Stopped:  # stopping during an outage: nothing committed, all redelivered
            self._forget()
        revoked = {(tp.topic, tp.partition) for tp in partitions}
        if self.held & revoked:  # whoever is assigned them next reads them at once
            consumer.resume([TopicPartition(t, p) for t, p in sorted(self.held & revoked)])
            self.held -= revoked
            GAUGES.set(Metric.INPUTS_HELD, self.stage.name, len(self.held))
        if isinstance(self.stage, StatefulStage):
            self.stage.revoke(sorted({tp.partition for tp in partitions}))

    def _one_batch(self, consumer: Consumer) -> None:
        messages = consumer.consume(self.stage.batch_size, timeout=self.stage.batch_wait)
        regathered = None
        if self.newly_assigned:  # assigned during that call, which may have read on already
            regathered = self._regathered(consumer, messages)
            if regathered is not None:
                messages = regathered
        good = []
        ends = []
        for message in messages:
            error = message.error()
            if error is None:
                good.append(message)
            elif error.code() == KafkaError._PARTITION_EOF:
                ends.append((message.topic() or "", message.partition() or 0))
            elif error.fatal() or error.code() == KafkaError._FATAL:  # it will never read again
                raise ConsumerFailed(self.stage.name, error)
            else:
                log.warning("stage %s: consumer error %s", self.stage.name, error)
        if good:
            self.ready.set()
            self.stage.process(good)
            pending = self.pending
            for message in good:
                key = (message.topic() or "", message.partition() or 0)
                offset = message.offset() or 0
                if offset > pending.get(key, -1):
                    pending[key] = offset
            if self.regathers:  # a partition's messages come in offset order
                first = self.first
                for message in good:
                    first.setdefault(
                        (message.topic() or "", message.partition() or 0), message.offset() or 0
                    )
                for key in self.apart:  # another worker's partitions: never committed here
                    pending.pop(key, None)
                    first.pop(key, None)
        if isinstance(self.stage, StatefulStage):
            # A partition's end comes after the messages read before it.
            for topic, partition in ends:
                self.stage.at_end(topic, partition)
            if not good:
                self.stage.idle()
            self._pace(consumer, self.stage)
        if regathered or (
            time.monotonic() - self.checkpointed >= self.stage.checkpoint_seconds
            and (self.pending or isinstance(self.stage, StatefulStage))
        ):
            self._checkpoint(consumer)  # a batch gathered again is durable on its own

    def _pace(self, consumer: Consumer, stage: StatefulStage) -> None:
        """Pause the inputs the stage read too far ahead in event time, resume those the
        others have caught up with. librdkafka drops what it fetched ahead for a paused
        partition and fetches again from the next unread offset: nothing is skipped."""
        held = stage.ahead(self.held)
        if held == self.held:
            return
        if held - self.held:
            consumer.pause([TopicPartition(t, p) for t, p in sorted(held - self.held)])
        if self.held - held:
            consumer.resume([TopicPartition(t, p) for t, p in sorted(self.held - held)])
        self.held = held
        GAUGES.set(Metric.INPUTS_HELD, self.stage.name, len(held))

    def _checkpoint(self, consumer: Consumer) -> None:
        """Outputs (and state) durable, then the offsets of everything processed committed."""
        if self.regathers and self.pending:
            self._state_intent(consumer)
        self.stage.flush(self.stopping)
        self.checkpointed = time.monotonic()
        if not self.pending:
            return
        offsets = [TopicPartition(t, p, o + 1) for (t, p), o in sorted(self.pending.items())]
        self._forget()
        try:
            consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # Typically a rebalance took the partitions away: the new owner re-reads them.
            log.warning(
                "stage %s: commit failed (%s); the batch will be redelivered", self.stage.name, exc
            )
        self.batches += 1
        self.stage.after_commit()

    def _forget(self) -> None:
        """The processed positions are committed, or left to be redelivered."""
        self.pending.clear()
        self.first.clear()
        self.apart.clear()
        self.stated = None

    def _state_intent(self, consumer: Consumer) -> None:
        """Commit the batch's first offsets (already committed: nothing moves) with its ranges
        as metadata, so a restart before its own commit can gather the same batch again. A batch
        gathered again states its whole ranges, also those of partitions read apart, but only
        on the partitions of this consumer."""
        intent = self.stated or {key: (self.first[key], last) for key, last in self.pending.items()}
        metadata = intent_metadata(intent)
        if metadata is None:
            return
        offsets = [
            TopicPartition(t, p, first, metadata=metadata)
            for (t, p), (first, _last) in sorted(intent.items())
            if (t, p) in self.pending
        ]
        try:
            consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:  # then a redelivery is cut anew, as without it
            log.warning("stage %s: batch ranges not committed (%s)", self.stage.name, exc)

    def _regathered(self, consumer: Consumer, read: list[Any]) -> list[Any] | None:
        """The batch a predecessor was making durable when it stopped, gathered again exactly
        (from ``read``, just consumed, and what follows, and its other partitions' ranges read
        apart), if the newly assigned partitions' commits state one; else None."""
        assigned, self.newly_assigned = self.newly_assigned, []
        try:
            committed = consumer.committed([TopicPartition(t, p) for t, p in assigned], timeout=10)
        except KafkaException as exc:
            log.warning("stage %s: committed offsets not read (%s)", self.stage.name, exc)
            return None
        intent = intent_to_regather(
            (((tp.topic, tp.partition), tp.offset, tp.metadata) for tp in committed), assigned
        )
        if intent is None:
            return None

        def consume() -> list[Any]:
            self.looped = time.monotonic()
            return consumer.consume(self.stage.batch_size, timeout=self.stage.batch_wait)

        mine = set(assigned)
        here = {p: r for p, r in intent.items() if p in mine}
        apart = {p: r for p, r in intent.items() if p not in mine}

        def read_apart(ranges: Intent) -> list[Any] | None:
            config = {
                "bootstrap.servers": self.settings.kafka_bootstrap_servers,
                "group.id": f"{self._group()}.apart",  # never joined, never committed
                "logger": LIBRDKAFKA_LOGGER,
            }
            return read_ranges(config, ranges, self.stopping, REGATHER_SECONDS)

        gathered = gather_again(
            here,
            read,
            consume,
            consumer.seek,
            self.stopping,
            REGATHER_SECONDS,
            self.stage.name,
            apart,
            read_apart,
        )
        self.apart = set(apart)
        self.stated = intent if gathered.whole else None
        return gathered.messages

    def _measure_lag(self, consumer: Consumer) -> None:
        """The consumer-lag gauge of each input topic. A topic with a partition not fetched yet
        keeps its last value; one with no partition assigned here is 0."""
        self.lag_measured = time.monotonic()
        try:
            assigned = consumer.assignment()
            measured = partition_lag(consumer, assigned) if assigned else {}
        except KafkaException as exc:  # metrics never stop a stage
            log.debug("stage %s: consumer lag not measured: %s", self.stage.name, exc)
            return
        unknown = {tp.topic for tp in assigned if (tp.topic, tp.partition) not in measured}
        lag = dict.fromkeys(self.stage.topics, 0)
        for (topic, _partition), behind in measured.items():
            lag[topic] = lag.get(topic, 0) + behind
        for topic, behind in lag.items():
            if topic not in unknown:
                GAUGES.set(Metric.CONSUMER_LAG, (self.stage.name, topic), behind)

    def stop(self) -> None:
        self.stopping.set()

    def problem(self) -> str | None:
        """Why this stage is not healthy, or None: its thread ended, or its loop is wedged."""
        if self.ident is None or self.stopping.is_set():
            return None  # not started yet, or stopping with the worker
        if not self.is_alive():
            return f"stage {self.stage.name}: its thread has ended"
        stuck = time.monotonic() - self.looped
        if stuck > MAX_POLL_INTERVAL_SECONDS:
            return f"stage {self.stage.name}: its loop has not come round for {stuck:.0f}s"
        return None


def partition_lag(
    consumer: Consumer, partitions: list[TopicPartition]
) -> dict[tuple[str, int], int]:
    """Messages not yet read per assigned partition: high watermark minus the position.

    Watermarks are the ones the fetcher cached from the broker's fetch responses (asking the
    broker takes hundreds of milliseconds per partition). A partition nothing was read from
    since it was assigned has no position: it starts at the committed offset, or at the log's
    beginning (``auto.offset.reset`` earliest). Partitions not fetched yet are left out.
    """
    start = {(tp.topic, tp.partition): tp.offset for tp in consumer.position(partitions)}
    unread = [TopicPartition(t, p) for (t, p), offset in start.items() if offset < 0]
    if unread:
        for tp in consumer.committed(unread, timeout=LAG_TIMEOUT_SECONDS):
            start[(tp.topic, tp.partition)] = tp.offset
    lag = {}
    for (topic, partition), offset in start.items():
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), cached=True)
        begin = offset if offset >= 0 else low
        if high >= 0 and begin >= 0:
            lag[(topic, partition)] = max(0, high - begin)
    return lag


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

    def problems(self) -> list[str]:
        """What keeps the stages from being healthy (empty when every one is)."""
        return [p for p in (r.problem() for r in self.runners) if p is not None]
