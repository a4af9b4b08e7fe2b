"""What a run watches from outside the backbone: the alerts as a subscriber receives them, and
the consumer lag of each stage over time."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from streams import topics
from streams.codecs.wire import wire_format
from streams.correlate.records import Alert
from streams.kafka_admin import LIBRDKAFKA_LOGGER
from streams.settings import Settings

log = logging.getLogger(__name__)

# The stages whose lag a report shows, with the topics they read.
LAGGED_STAGES: dict[str, tuple[str, ...]] = {
    "normalize": tuple(spec.name for spec in topics.RAW.values()),
    "dedup": (topics.PLATE_CAPTURES.name, topics.FACE_CAPTURES.name, topics.ALARMS.name),
    "warehouse_sink": (
        topics.UNIQUE_PLATES.name,
        topics.UNIQUE_FACES.name,
        topics.UNIQUE_ALARMS.name,
    ),
}


@dataclass(frozen=True)
class ReceivedAlert:
    alert: Alert
    published_ms: int  # the alert message's timestamp: when the worker produced it


class AlertWatcher(threading.Thread):
    """Reads the alert topic from its beginning, as ``streams alerts tail`` does."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(name="alert-watcher", daemon=True)
        from confluent_kafka import Consumer

        self.wire = wire_format(settings)
        self.consumer = Consumer(
            {
                "bootstrap.servers": settings.kafka_bootstrap_servers,
                "group.id": f"{settings.app_id}.loadtest-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "logger": LIBRDKAFKA_LOGGER,
            }
        )
        self.consumer.subscribe([settings.topic(topics.ALERTS.name)])
        self.alerts: list[ReceivedAlert] = []
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            while not self._halt.is_set():
                for message in self.consumer.consume(500, 0.2):
                    if message.error() is not None:
                        continue
                    record = self.wire.decode(message.value() or b"")
                    if isinstance(record, Alert):
                        self.alerts.append(ReceivedAlert(record, message.timestamp()[1]))
        finally:
            self.consumer.close()

    def stop(self) -> list[ReceivedAlert]:
        self._halt.set()
        self.join(30)
        return list(self.alerts)


@dataclass
class LagSamples:
    # Seconds since the run's start -> lag (records not yet committed) per stage, and the
    # probe's figures (e.g. payloads read, rows landed) at the same moments.
    seconds: list[float] = field(default_factory=list)
    lag: dict[str, list[int]] = field(default_factory=dict)
    probe: dict[str, list[int]] = field(default_factory=dict)


class LagSampler(threading.Thread):
    """Once a second: each stage's committed offsets against the topics' ends."""

    def __init__(
        self,
        settings: Settings,
        started: float,
        probe: Callable[[], dict[str, int]] | None = None,
        every: float = 1.0,
    ) -> None:
        super().__init__(name="lag-sampler", daemon=True)
        from confluent_kafka import Consumer

        self.settings = settings
        self.probe = probe
        self.started = started
        self.every = every
        self.samples = LagSamples(lag={stage: [] for stage in LAGGED_STAGES})
        self.consumers = {
            stage: Consumer(
                {
                    "bootstrap.servers": settings.kafka_bootstrap_servers,
                    "group.id": f"{settings.app_id}.{stage}",  # read, never joined or committed
                    "enable.auto.commit": False,
                    "logger": LIBRDKAFKA_LOGGER,
                }
            )
            for stage in LAGGED_STAGES
        }
        self._partitions: dict[str, list[Any]] = {}
        self._halt = threading.Event()

    def _partitions_of(self, stage: str) -> list[Any]:
        from confluent_kafka import TopicPartition

        if stage not in self._partitions:
            consumer = self.consumers[stage]
            found = []
            for name in LAGGED_STAGES[stage]:
                topic = self.settings.topic(name)
                meta = consumer.list_topics(topic, timeout=10).topics[topic]
                found += [TopicPartition(topic, p) for p in meta.partitions]
            self._partitions[stage] = found
        return self._partitions[stage]

    def sample(self) -> None:
        at = round(time.time() - self.started, 1)
        lags: dict[str, int] = {}
        for stage, consumer in self.consumers.items():
            lag = 0
            for tp in consumer.committed(self._partitions_of(stage), timeout=10):
                _low, high = consumer.get_watermark_offsets(tp, timeout=10, cached=False)
                lag += max(high - max(tp.offset, 0), 0)
            lags[stage] = lag
        figures = self.probe() if self.probe is not None else {}
        self.samples.seconds.append(at)  # appended together: the series stay aligned
        for stage, lag in lags.items():
            self.samples.lag[stage].append(lag)
        for name, value in figures.items():
            self.samples.probe.setdefault(name, []).append(value)

    def run(self) -> None:
        while not self._halt.wait(self.every):
            try:
                self.sample()
            except Exception as exc:  # a missed sample is a gap in a plot, not a failure
                log.debug("lag sample failed: %s", exc)

    def stop(self) -> LagSamples:
        self._halt.set()
        self.join(30)
        for consumer in self.consumers.values():
            consumer.close()
        return self.samples
