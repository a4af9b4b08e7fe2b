"""The three correlation stages: thin loops around ``streams.correlate.pipeline``.

    captures.{plate,face,alarm} -> dedup  -> unique.*, alerts (watchlist), correlations,
                                             repartition.plate-by-plate, repartition.area
    repartition.plate-by-plate  -> plates -> alerts (cloned_plate, convoy)
    repartition.area            -> area   -> alerts (alarm_context)

Each keeps one set of rules per input partition, persisted in its change-log topic
(``streams.agents.changelog``). Outputs are acknowledged before the state, and the state
before the input offsets are committed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from streams import topics
from streams.agents.changelog import Changelog, PartitionedRules
from streams.codecs import avro
from streams.codecs.wire import WireFormat
from streams.correlate.pipeline import AreaRules, DeviceRules, Outputs, PlateRules
from streams.correlate.records import Correlation, Relation
from streams.correlate.state import Stateful
from streams.correlate.watchlist import Watchlist
from streams.deadletters import Position, dead_letter
from streams.metrics import COUNTERS, Metric
from streams.publisher import Publisher
from streams.settings import Settings
from streams.topics import TopicSpec
from streams.watchlist_topic import WatchlistFollower

P = TypeVar("P")


class RuleStage(Generic[P]):
    """Shared plumbing: decoding, routing outputs to topics, state per partition."""

    name: str
    topics: Sequence[str]

    def __init__(
        self,
        settings: Settings,
        publisher: Publisher,
        wire: WireFormat,
        changelog: TopicSpec,
        make: Callable[[], P],
        rules_of: Callable[[P], Iterable[Stateful]],
    ) -> None:
        self.settings = settings
        self.publisher = publisher
        self.wire = wire
        self.parts = PartitionedRules(
            Changelog(settings, settings.topic(changelog.name), publisher), make, rules_of
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

    def assign(self, partitions: list[int]) -> None:
        self.parts.assign(partitions)

    def revoke(self, partitions: list[int]) -> None:
        self.parts.revoke(partitions)

    def decode(self, message: Any) -> BaseModel | None:
        """The record of a message, or None after dead-lettering what cannot be read."""
        try:
            return self.wire.decode(message.value() or b"")
        except ValueError as exc:
            letter = dead_letter(
                stage=self.name,
                reason=f"{self.name}: cannot decode a record of {message.topic()}: {exc}",
                source=None,
                payload=message.value() or b"",
                failed_at=datetime.now(UTC),
                position=Position(message.topic(), message.partition(), message.offset()),
                key=message.key(),
                headers=list(message.headers() or ()),
                index=0,
            )
            self.publisher.produce(
                self.dead_letters,
                self.wire.encode(letter, self.dead_letters),
                message.topic().encode(),
            )
            COUNTERS.add(Metric.DEAD_LETTERS, self.name)
            return None

    def emit(self, out: Outputs) -> None:
        produce, encode = self.publisher.produce, self.wire.encode
        for event in out.unique:
            topic = self.unique_topic[event.kind]
            produce(topic, encode(event, topic), event.device_id.encode())
            COUNTERS.add(Metric.UNIQUE_EVENTS_OUT, event.kind)
        for alert in out.alerts:
            produce(self.alerts_topic, encode(alert, self.alerts_topic), alert.subject.encode())
            COUNTERS.add(Metric.ALERTS, alert.rule)
        for corr in out.correlations:
            if corr.relation == Relation.PERSON_VEHICLE:
                value = encode(corr, self.correlations_topic)
                produce(self.correlations_topic, value, corr.subject.encode())
                COUNTERS.add(Metric.CORRELATIONS, corr.relation)
        # The repartition topics are internal and carry several record types: always
        # single-object encoded (a registry subject per topic would hold one type only).
        for record in out.by_plate:
            key = record.subject if isinstance(record, Correlation) else record.plate_number
            produce(self.by_plate_topic, avro.encode(record), str(key).encode())
        for event in out.area:
            produce(self.area_topic, avro.encode(event), event.device_id.encode())
        if out.duplicates:
            COUNTERS.add(Metric.DUPLICATES_DROPPED, "exact", out.duplicates)
        if out.late:
            COUNTERS.add(Metric.LATE_EVENTS, "", out.late)
        for event in out.unique:
            if event.absorbed_event_ids:
                COUNTERS.add(Metric.DUPLICATES_DROPPED, event.kind, len(event.absorbed_event_ids))

    def flush(self, stopping: threading.Event) -> None:
        self.publisher.flush_sync(timeout=300)  # outputs first,
        if self.parts.write_changes():
            self.publisher.flush_sync(timeout=300)  # then the state that produced them

    def after_commit(self) -> None:
        return None


class DedupStage(RuleStage[DeviceRules]):
    name = "dedup"

    def __init__(self, settings: Settings, publisher: Publisher, wire: WireFormat) -> None:
        config = settings.rule_config()
        self.watchlist = Watchlist()
        super().__init__(
            settings,
            publisher,
            wire,
            topics.DEDUP_CHANGELOG,
            lambda: DeviceRules(config, self.watchlist),
            DeviceRules.rules,
        )
        t = settings.topic
        self.topics = [
            t(topics.PLATE_CAPTURES.name),
            t(topics.FACE_CAPTURES.name),
            t(topics.ALARMS.name),
        ]
        self.follower: WatchlistFollower | None = None

    def assign(self, partitions: list[int]) -> None:
        if self.follower is None:  # the whole watchlist before the first capture is checked
            self.follower = WatchlistFollower(self.settings, self.watchlist, self.wire)
            self.follower.catch_up()
        super().assign(partitions)

    def process(self, messages: Sequence[Any]) -> None:
        if self.follower is not None:
            self.follower.poll()
        now = datetime.now(UTC)
        out = Outputs()
        COUNTERS.add(Metric.CAPTURES_IN, "", len(messages))
        for message in messages:
            event = self.decode(message)
            if event is None:
                continue
            self.parts.get(message.partition()).on_event(event, now, out)  # type: ignore[arg-type]
        for part in self.parts.items().values():
            part.advance(now, out=out)
        self.emit(out)

    def idle(self) -> None:
        if self.follower is not None:
            self.follower.poll()
        now = datetime.now(UTC)
        out = Outputs()
        for part in self.parts.items().values():
            part.advance(now, clock=now, out=out)
        self.emit(out)


class PlatesStage(RuleStage[PlateRules]):
    name = "plates"

    def __init__(self, settings: Settings, publisher: Publisher, wire: WireFormat) -> None:
        config = settings.rule_config()
        super().__init__(
            settings,
            publisher,
            wire,
            topics.PLATES_CHANGELOG,
            lambda: PlateRules(config),
            PlateRules.rules,
        )
        self.topics = [settings.topic(topics.PLATE_SIGHTINGS_BY_PLATE.name)]

    def process(self, messages: Sequence[Any]) -> None:
        now = datetime.now(UTC)
        out = Outputs()
        for message in messages:
            record = self.decode(message)
            if record is not None:
                self.parts.get(message.partition()).on_record(record, now, out)
        for part in self.parts.items().values():
            part.expire()
        self.emit(out)

    def idle(self) -> None:
        return None


class AreaStage(RuleStage[AreaRules]):
    name = "area"

    def __init__(self, settings: Settings, publisher: Publisher, wire: WireFormat) -> None:
        config = settings.rule_config()
        super().__init__(
            settings,
            publisher,
            wire,
            topics.AREA_CHANGELOG,
            lambda: AreaRules(config),
            AreaRules.rules,
        )
        self.topics = [settings.topic(topics.AREA.name)]

    def process(self, messages: Sequence[Any]) -> None:
        now = datetime.now(UTC)
        out = Outputs()
        for message in messages:
            event = self.decode(message)
            if event is not None:
                self.parts.get(message.partition()).on_event(event)  # type: ignore[arg-type]
        for part in self.parts.items().values():
            out.alerts += part.advance(now)
        self.emit(out)

    def idle(self) -> None:
        now = datetime.now(UTC)
        out = Outputs()
        for part in self.parts.items().values():
            out.alerts += part.advance(now, clock=now)
        self.emit(out)
