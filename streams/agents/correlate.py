"""The three correlation stages: thin loops around ``streams.correlate.pipeline``.

    captures.{plate,face,alarm} -> dedup  -> unique.*, alerts (watchlist), correlations,
                                             repartition.plate-by-plate, repartition.area
    repartition.plate-by-plate  -> plates -> alerts (cloned_plate, convoy)
    repartition.area            -> area   -> alerts (alarm_context)

Each keeps one set of rules per input partition, persisted in its change-log topic
(``streams.agents.changelog``). Outputs are acknowledged before the state, and the state
before the input offsets are committed.

Alert latency (``streams_received_to_alert_seconds``) runs from the received_at of the newest
event an alert names to the alert handed to the producer. The event is looked up only when a
batch raised alerts: among the batch's records, and for alarm_context (due long after its
alarm arrived) among the alarms the area stage remembers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from streams import deadletters, topics
from streams.agents.changelog import Changelog, PartitionedRules
from streams.agents.input_time import IdleClock, InputClock
from streams.canonical import Alarm, FaceCapture, PlateCapture
from streams.codecs import avro
from streams.codecs.confluent import RegistryError
from streams.codecs.wire import WireFormat
from streams.correlate.config import RuleConfig
from streams.correlate.pipeline import AreaRules, DeviceRules, Outputs, PlateRules
from streams.correlate.records import Alert, Correlation, Relation
from streams.correlate.state import Stateful
from streams.correlate.watchlist import Watchlist
from streams.metrics import COUNTERS, HISTOGRAMS, Metric
from streams.publisher import Publisher
from streams.settings import Settings
from streams.topics import TopicSpec
from streams.watchlist_topic import WatchlistFollower

P = TypeVar("P")
STATE_WRITE_SECONDS = 0.25
Event = PlateCapture | FaceCapture | Alarm


class RuleStage(Generic[P]):
    """Shared plumbing: decoding, routing outputs to topics, state per partition."""

    name: str
    topics: Sequence[str]
    inputs: Sequence[TopicSpec]  # co-partitioned: partition p of each holds the same keys
    changelog: TopicSpec

    def __init__(self, settings: Settings, publisher: Publisher, wire: WireFormat) -> None:
        config = settings.rule_config()
        self.topics = [settings.topic(spec.name) for spec in self.inputs]
        self.settings = settings
        self.publisher = publisher
        self.wire = wire
        self.state_written = time.monotonic()
        # Every change of the rules' state acknowledged by the change log (at a checkpoint's
        # end): only then may a revoked partition's state be kept aside (PartitionedRules).
        self.written = True
        self.batch_size = settings.stage_batch_size
        self.batch_wait = settings.stage_batch_wait_seconds
        self.checkpoint_seconds = settings.stage_checkpoint_seconds
        self.parts = PartitionedRules(
            Changelog(settings, settings.topic(self.changelog.name), publisher),
            lambda: self.new_rules(config),
            self.rules_of,
        )
        t = settings.topic
        self.unique_topic = {
            "plate": t(topics.UNIQUE_PLATES.name),
            "face": t(topics.UNIQUE_FACES.name),
            "alarm": t(topics.UNIQUE_ALARMS.name),
        }
        self.alerts_topic = t(topics.ALERTS.name)
        self.correlations_topic = t(topics.CORRELATIONS.name)
        self.by_plate_topic = t(topics.PLATE_SIGHTINGS_BY_PLATE.name)
        self.area_topic = t(topics.AREA.name)
        self.dead_letters = t(topics.DEAD_LETTERS.name)

    def new_rules(self, config: RuleConfig) -> P:
        """Empty rules for one input partition."""
        raise NotImplementedError

    @staticmethod
    def rules_of(part: P) -> Iterable[Stateful]:
        return part.rules()  # type: ignore[attr-defined, no-any-return]

    def assign(self, partitions: list[int]) -> None:
        self.parts.assign(partitions)

    def revoke(self, partitions: list[int]) -> None:
        self.parts.revoke(partitions, written=self.written)

    def at_end(self, topic: str, partition: int) -> None:
        return None

    def ahead(self, paused: set[tuple[str, int]]) -> set[tuple[str, int]]:
        return set()

    def take(self, message: Any, record: BaseModel, now: datetime, out: Outputs) -> None:
        """Hand one decoded record to the rules of its partition."""
        raise NotImplementedError

    def close_windows(self, now: datetime, clock: datetime | None, out: Outputs) -> None:
        """After a batch (``clock`` None) or when idle (``clock``: the wall clock)."""
        raise NotImplementedError

    def process(self, messages: Sequence[Any]) -> None:
        self.written = False
        now = datetime.now(UTC)
        out = Outputs()
        records: list[BaseModel] = []  # read again only if the batch raised alerts
        for message in messages:
            record = self.decode(message)
            if record is not None:
                self.take(message, record, now, out)
                records.append(record)
        self.close_windows(now, None, out)
        self.emit(out, records)
        self.persist()

    def idle(self) -> None:
        self.written = False
        now = datetime.now(UTC)
        out = Outputs()
        self.close_windows(now, now, out)
        self.emit(out)
        self.persist()

    def persist(self) -> None:
        """Every quarter second: once the outputs so far are acknowledged, send the state
        they came from.

        Written in small parts, state never stalls a stage for long (alert latency), while
        keys changed several times in between are written once; state is never ahead of
        acknowledged outputs, and ``flush`` at a checkpoint waits for it before the offsets
        are committed.
        """
        if time.monotonic() - self.state_written < STATE_WRITE_SECONDS:
            return
        self.publisher.flush_sync(timeout=300)
        self.parts.write_changes()
        self.state_written = time.monotonic()

    def decode(self, message: Any) -> BaseModel | None:
        """The record of a message, or None after dead-lettering what cannot be read."""
        try:
            return self.wire.decode(message.value() or b"")
        except RegistryError:
            raise  # not a bad record: the worker stops, and the batch is read again
        except ValueError as exc:
            letter = deadletters.of_message(
                message,
                stage=self.name,
                reason=f"{self.name}: cannot decode a record of {message.topic()}: {exc}",
                failed_at=datetime.now(UTC),
            )
            deadletters.publish(self.publisher, self.wire, self.dead_letters, letter)
            COUNTERS.add(Metric.DEAD_LETTERS, self.name)
            return None

    def emit(self, out: Outputs, batch: Sequence[BaseModel] = ()) -> None:
        produce, encode = self.publisher.produce, self.wire.encode
        # A unique event also goes to the repartition topics: encode it once when the
        # public topics use single-object encoding too.
        internal: dict[int, bytes] = {}
        for event in out.unique:
            topic = self.unique_topic[event.kind]
            value = encode(event, topic)
            if self.wire.registry_url is None:
                internal[id(event)] = value
            produce(topic, value, event.device_id.encode())
            COUNTERS.add(Metric.UNIQUE_EVENTS_OUT, event.kind)
        for alert in out.alerts:
            produce(self.alerts_topic, encode(alert, self.alerts_topic), alert.subject.encode())
            COUNTERS.add(Metric.ALERTS, alert.rule)
        if out.alerts:
            self.alert_latency(out.alerts, batch)
        for corr in out.correlations:
            if corr.relation == Relation.PERSON_VEHICLE:
                value = encode(corr, self.correlations_topic)
                produce(self.correlations_topic, value, corr.subject.encode())
                COUNTERS.add(Metric.CORRELATIONS, corr.relation)
        # The repartition topics are internal and carry several record types: always
        # single-object encoded (a registry subject per topic would hold one type only).
        for record in out.by_plate:
            key = record.subject if isinstance(record, Correlation) else record.plate_number
            value = internal.get(id(record)) or avro.encode(record)
            produce(self.by_plate_topic, value, str(key).encode())
        for event in out.area:
            value = internal.get(id(event)) or avro.encode(event)
            produce(self.area_topic, value, event.device_id.encode())
        if out.duplicates:
            COUNTERS.add(Metric.DUPLICATES_DROPPED, "exact", out.duplicates)
        if out.late:
            COUNTERS.add(Metric.LATE_EVENTS, "", out.late)
        for event in out.unique:
            if event.absorbed_event_ids:
                COUNTERS.add(Metric.DUPLICATES_DROPPED, event.kind, len(event.absorbed_event_ids))
        for kind, count in out.absorbed.items():
            COUNTERS.add(Metric.DUPLICATES_DROPPED, kind, count)

    def alert_latency(self, alerts: list[Alert], batch: Sequence[BaseModel]) -> None:
        """Observe, per rule, the time since the newest event each on-time alert names was
        received, where that event is known (see the module's docstring)."""
        wanted = {event_id for alert in alerts if not alert.late for event_id in alert.event_ids}
        if not wanted:
            return
        received = self.held_received(wanted)
        for record in batch:
            if isinstance(record, Event) and record.event_id in wanted:
                received[record.event_id] = record.received_at
        now = time.time()
        for alert in alerts:
            times = [received[e] for e in alert.event_ids if e in received]
            if times and not alert.late:
                latency = max(0.0, now - max(times).timestamp())
                HISTOGRAMS.observe(Metric.RECEIVED_TO_ALERT, alert.rule, latency)

    def held_received(self, event_ids: set[str]) -> dict[str, datetime]:
        """received_at of events outside the batch that this stage remembers."""
        return {}

    def flush(self, stopping: threading.Event) -> None:
        self.publisher.flush_sync(timeout=300)  # outputs first,
        if self.parts.write_changes():  # then what ``persist`` has not sent yet
            self.publisher.flush_sync(timeout=300)
        self.state_written = time.monotonic()
        self.written = True

    def after_commit(self) -> None:
        return None


class DedupStage(RuleStage[DeviceRules]):
    name = "dedup"
    inputs = (topics.PLATE_CAPTURES, topics.FACE_CAPTURES, topics.ALARMS)
    changelog = topics.DEDUP_CHANGELOG

    def __init__(self, settings: Settings, publisher: Publisher, wire: WireFormat) -> None:
        self.watchlist = Watchlist()
        self.clock = InputClock()
        self.idle_clock = IdleClock()
        self.follower: WatchlistFollower | None = None
        super().__init__(settings, publisher, wire)

    def new_rules(self, config: RuleConfig) -> DeviceRules:
        # Stream time is moved by the stage (``InputClock``), not by each event.
        return DeviceRules(config, self.watchlist, follow_events=False)

    def assign(self, partitions: list[int]) -> None:
        if self.follower is None:  # the whole watchlist before the first capture is checked
            self.follower = WatchlistFollower(self.settings, self.watchlist, self.wire)
            self.follower.catch_up()
        super().assign(partitions)

    def revoke(self, partitions: list[int]) -> None:
        super().revoke(partitions)
        self.clock.forget(partitions)
        self.idle_clock.forget(partitions)

    def close(self) -> None:
        """The watchlist consumer, closed with the stage's thread."""
        if self.follower is not None:
            self.follower.close()
            self.follower = None

    def at_end(self, topic: str, partition: int) -> None:
        self.clock.at_end(topic, partition)

    def ahead(self, paused: set[tuple[str, int]]) -> set[tuple[str, int]]:
        return self.clock.ahead(self.parts.items(), self.topics, paused)

    def process(self, messages: Sequence[Any]) -> None:
        COUNTERS.add(Metric.CAPTURES_IN, "", len(messages))
        super().process(messages)

    def take(self, message: Any, record: BaseModel, now: datetime, out: Outputs) -> None:
        if not isinstance(record, PlateCapture | FaceCapture | Alarm):
            return
        partition = message.partition()
        self.clock.seen(message.topic(), partition, record.received_at)
        self.idle_clock.seen(partition, record.received_at, now)
        self.parts.get(partition).on_event(record, now, out)

    def close_windows(self, now: datetime, clock: datetime | None, out: Outputs) -> None:
        if self.follower is not None:
            self.follower.poll()
        for partition, part in self.parts.items().items():
            inputs = self.clock.stream_time(partition, self.topics)
            if clock is not None:  # idle: every input is read to its end
                if partition not in self.idle_clock.newest and part.dedup.stream_time:
                    # Restored state: time moves on from the stream time it was saved at.
                    self.idle_clock.seen(partition, part.dedup.stream_time, clock)
                idle = self.idle_clock.at(partition, clock)
                if idle is not None:
                    inputs = idle if inputs is None else max(inputs, idle)
            part.advance(now, clock=inputs, out=out)


class PlatesStage(RuleStage[PlateRules]):
    name = "plates"
    inputs = (topics.PLATE_SIGHTINGS_BY_PLATE,)
    changelog = topics.PLATES_CHANGELOG

    def new_rules(self, config: RuleConfig) -> PlateRules:
        return PlateRules(config)

    def take(self, message: Any, record: BaseModel, now: datetime, out: Outputs) -> None:
        self.parts.get(message.partition()).on_record(record, now, out)

    def close_windows(self, now: datetime, clock: datetime | None, out: Outputs) -> None:
        for part in self.parts.items().values():
            part.expire()


# Alarms whose received_at the area stage keeps for alert latency (alarms are few; the oldest
# go first, and those that never fire, e.g. state stop, are dropped that way).
ALARMS_REMEMBERED = 100_000


class AreaStage(RuleStage[AreaRules]):
    name = "area"
    inputs = (topics.AREA,)
    changelog = topics.AREA_CHANGELOG

    def __init__(self, settings: Settings, publisher: Publisher, wire: WireFormat) -> None:
        self.idle_clock = IdleClock()
        self.alarms_received: dict[str, datetime] = {}
        super().__init__(settings, publisher, wire)

    def held_received(self, event_ids: set[str]) -> dict[str, datetime]:
        held = self.alarms_received
        return {e: held.pop(e) for e in event_ids if e in held}

    def new_rules(self, config: RuleConfig) -> AreaRules:
        return AreaRules(config)

    def revoke(self, partitions: list[int]) -> None:
        super().revoke(partitions)
        self.idle_clock.forget(partitions)

    def take(self, message: Any, record: BaseModel, now: datetime, out: Outputs) -> None:
        if isinstance(record, PlateCapture | FaceCapture | Alarm):
            self.parts.get(message.partition()).on_event(record)
            self.idle_clock.seen(message.partition(), record.received_at, now)
            if isinstance(record, Alarm):
                self.alarms_received[record.event_id] = record.received_at
                if len(self.alarms_received) > ALARMS_REMEMBERED:
                    del self.alarms_received[next(iter(self.alarms_received))]

    def close_windows(self, now: datetime, clock: datetime | None, out: Outputs) -> None:
        for partition, part in self.parts.items().items():
            idle = None
            if clock is not None:
                if partition not in self.idle_clock.newest and part.stream_time is not None:
                    self.idle_clock.seen(partition, part.stream_time, clock)  # restored state
                idle = self.idle_clock.at(partition, clock)
            out.alerts += part.advance(now, clock=idle)
