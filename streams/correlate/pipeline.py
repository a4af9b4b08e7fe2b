"""How the rules are put together, in three parts that follow the data's partitioning.

- :class:`DeviceRules` sees every capture of a set of devices (the capture topics are keyed by
  device): exact and near-duplicate removal, watchlist hits on first sight, person-vehicle
  association, and the device half of convoy detection (co-passes).
- :class:`PlateRules` sees every unique pass of a set of plates and every co-pass whose smaller
  plate is in that set (the repartition topic is keyed by plate): cloned plates and convoys.
- :class:`AreaRules` sees every unique event (one partition): alarms get the captures around them.

The worker runs each part in its own stage, one instance per input partition; ``streams
correlate`` chains one instance of each in-process (:class:`Correlator`). Both run the same code,
so they give the same unique events and alerts for the same input.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import BaseModel

from streams.canonical import CanonicalEvent, PlateCapture
from streams.correlate.alarm_context import AlarmContextRule
from streams.correlate.cloned_plate import ClonedPlateRule
from streams.correlate.config import RuleConfig
from streams.correlate.convoy import ConvoyRule, CoPassFinder
from streams.correlate.dedup import Deduplicator, Verdict
from streams.correlate.person_vehicle import PersonVehicleRule
from streams.correlate.records import Alert, Correlation, Relation
from streams.correlate.state import Stateful
from streams.correlate.watchlist import Watchlist, WatchlistRule


@dataclass
class Outputs:
    unique: list[CanonicalEvent] = field(default_factory=list)  # -> unique.<kind>
    alerts: list[Alert] = field(default_factory=list)  # -> alerts
    correlations: list[Correlation] = field(default_factory=list)  # -> correlations
    by_plate: list[PlateCapture | Correlation] = field(default_factory=list)  # -> PlateRules
    area: list[CanonicalEvent] = field(default_factory=list)  # -> AreaRules
    duplicates: int = 0
    late: int = 0
    # Reads of passes already passed on (late copies, reads that came after their pass closed),
    # dropped, by event kind.
    absorbed: Counter[str] = field(default_factory=Counter)

    def extend(self, other: Outputs) -> None:
        self.unique += other.unique
        self.alerts += other.alerts
        self.correlations += other.correlations
        self.by_plate += other.by_plate
        self.area += other.area
        self.duplicates += other.duplicates
        self.late += other.late
        self.absorbed += other.absorbed


class DeviceRules:
    def __init__(
        self, config: RuleConfig, watchlist: Watchlist, *, follow_events: bool = True
    ) -> None:
        self.config = config
        self.watchlist = watchlist
        self.dedup = Deduplicator(config, follow_events=follow_events)
        self.watch = WatchlistRule(watchlist, config)
        self.person_vehicle = PersonVehicleRule(config)
        wanted = self._watched if config.convoy_watchlisted_only else None
        self.co_pass = CoPassFinder(config, wanted)
        self._watched_cache: dict[str, bool] = {}
        self.closing_delay = max(config.plate_window, config.face_window) + config.lateness

    def _watched(self, plate: str) -> bool:
        # Asked for every pass a new pass meets at its device: remembered per batch of closes.
        known = self._watched_cache.get(plate)
        if known is None:
            at = self.dedup.stream_time or _EPOCH
            known = self._watched_cache[plate] = self.watchlist.is_watched_plate(plate, at)
        return known

    def rules(self) -> tuple[Stateful, ...]:
        return (self.dedup, self.watch, self.person_vehicle, self.co_pass)

    def on_event(self, event: CanonicalEvent, now: datetime, out: Outputs) -> None:
        offer = self.dedup.offer(event)
        if offer.verdict is Verdict.DUPLICATE:
            out.duplicates += 1
            return
        if offer.verdict is Verdict.ABSORBED:
            out.absorbed[event.kind] += 1
            if event.received_at - event.captured_at > self.config.lateness:
                out.late += 1
            return
        if offer.verdict is Verdict.LATE:
            assert offer.event is not None
            event = offer.event  # flagged: its alerts are not about the present
            out.late += 1
        out.alerts += self.watch.check(event, offer.anchor, now)

    def advance(
        self, now: datetime, clock: datetime | None = None, out: Outputs | None = None
    ) -> Outputs:
        """Close the windows that are due; ``clock`` raises the stream time (the worker's
        watermark over its inputs, or the wall clock when they are idle)."""
        return self._closed(self.dedup.advance(clock), now, out or Outputs())

    def flush(self, now: datetime, out: Outputs | None = None) -> Outputs:
        return self._closed(self.dedup.flush(), now, out or Outputs())

    def _closed(self, unique: list[CanonicalEvent], now: datetime, out: Outputs) -> Outputs:
        self._watched_cache.clear()  # the watchlist may have changed since the last batch
        for event in unique:
            out.unique.append(event)
            if event.late:
                continue  # stored and counted, kept away from the window rules
            out.area.append(event)
            out.correlations += self.person_vehicle.observe(event, now)
            if isinstance(event, PlateCapture) and event.plate_number is not None:
                out.by_plate.append(event)
                out.by_plate += self.co_pass.observe(event)
        stream_time = self.dedup.stream_time
        if stream_time is not None:
            self.watch.expire(stream_time)
            # Closed events arrive up to a window plus the lateness behind stream time, in no
            # particular order: the rules fed with them expire against that horizon.
            horizon = stream_time - self.closing_delay
            self.person_vehicle.expire(horizon)
            self.co_pass.expire(horizon)
        return out


class PlateRules:
    def __init__(self, config: RuleConfig) -> None:
        self.cloned = ClonedPlateRule(config)
        self.convoy = ConvoyRule(config)
        self.stream_time: datetime | None = None

    def rules(self) -> tuple[Stateful, ...]:
        return (self.cloned, self.convoy)

    def on_record(self, record: BaseModel, now: datetime, out: Outputs) -> None:
        if isinstance(record, PlateCapture):
            out.alerts += self.cloned.observe(record, now)
            at = record.captured_at
        elif isinstance(record, Correlation) and record.relation == "co_pass":
            out.alerts += self.convoy.observe(record, now)
            at = record.occurred_at
        else:
            return
        if self.stream_time is None or at > self.stream_time:
            self.stream_time = at

    def expire(self) -> None:
        if self.stream_time is not None:
            self.cloned.expire(self.stream_time)
            self.convoy.expire(self.stream_time)


class AreaRules:
    def __init__(self, config: RuleConfig) -> None:
        self.alarm_context = AlarmContextRule(config)
        # Unique events reach this stage once their dedup window closed: this much after
        # they were received at the latest.
        self.delay = max(config.plate_window, config.face_window) + config.lateness
        self.stream_time: datetime | None = None

    def rules(self) -> tuple[Stateful, ...]:
        return (self.alarm_context,)

    def on_event(self, event: CanonicalEvent) -> None:
        if event.late:
            return
        self.alarm_context.observe(event)
        if self.stream_time is None or event.received_at > self.stream_time:
            self.stream_time = event.received_at

    def advance(self, now: datetime, clock: datetime | None = None) -> list[Alert]:
        if clock is not None:
            idle_time = clock - self.delay
            if self.stream_time is None or idle_time > self.stream_time:
                self.stream_time = idle_time
        if self.stream_time is None:
            return []
        return self.alarm_context.advance(self.stream_time, now)

    def flush(self, now: datetime) -> list[Alert]:
        return self.alarm_context.flush(now)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Correlator:
    """The three parts chained in one process: ``streams correlate`` and the tests' oracle."""

    def __init__(self, config: RuleConfig, watchlist: Watchlist | None = None) -> None:
        self.device = DeviceRules(config, watchlist or Watchlist())
        self.plates = PlateRules(config)
        self.area = AreaRules(config)
        self.duplicates = 0
        self.late = 0

    def feed(self, event: CanonicalEvent, now: datetime) -> list[BaseModel]:
        """Unique events, alerts and correlations that this event completes, in order."""
        out = Outputs()
        self.device.on_event(event, now, out)
        self.device.advance(now, out=out)
        return self._route(out, now, final=False)

    def feed_batch(self, events: Iterable[CanonicalEvent], now: datetime) -> list[BaseModel]:
        """Like ``feed`` for each event, closing windows once at the end, as a stage does."""
        out = Outputs()
        for event in events:
            self.device.on_event(event, now, out)
        self.device.advance(now, out=out)
        return self._route(out, now, final=False)

    def finish(self, now: datetime) -> list[BaseModel]:
        """End of input: close every window."""
        out = self.device.flush(now)
        return self._route(out, now, final=True)

    def _route(self, out: Outputs, now: datetime, *, final: bool) -> list[BaseModel]:
        self.duplicates += out.duplicates
        self.late += out.late
        for record in out.by_plate:
            self.plates.on_record(record, now, out)
        self.plates.expire()
        for event in out.area:
            self.area.on_event(event)
        out.alerts += self.area.flush(now) if final else self.area.advance(now)
        emitted: list[BaseModel] = [*out.unique, *out.alerts]
        emitted += [c for c in out.correlations if c.relation == Relation.PERSON_VEHICLE]
        return emitted


def run_offline(
    events: Iterable[CanonicalEvent], config: RuleConfig, watchlist: Watchlist, now: datetime
) -> Iterator[BaseModel]:
    correlator = Correlator(config, watchlist)
    for event in events:
        yield from correlator.feed(event, now)
    yield from correlator.finish(now)
