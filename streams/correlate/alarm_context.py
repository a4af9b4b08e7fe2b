"""Alarm context: an alarm (intrusion, line crossing, tamper...) arrives with the plates and faces
captured around it, so the operator sees at once who and what was nearby.

An alarm (state ``start`` or ``pulse``; ``stop`` ends an alarm already reported) is held until the
stream time reaches its capture time + ``alarm_context`` + ``lateness``: captures up to
``alarm_context`` after it may still be arriving until then. It then fires once, with every kept
plate or face capture taken within ``alarm_context`` of it (inclusive) at most ``alarm_radius_m``
from the alarm's position (an alarm without position: the captures without position of the same
device). It fires even when nothing was captured. The alert depends on the set of captures and
alarms only, not on their arrival order, as long as they all arrive before the alarm is due.

Index. Captures are kept in buckets keyed by a coarse geographic cell and a time slot:
``"<row>:<col>:<slot>"`` with row = floor(lat / c), col = floor(lon / c), c the radius in degrees
of latitude (so the circle around an alarm covers 2-3 x 3-4 cells at Chinese latitudes), and
slot = floor(capture time / (alarm_context / 6)) (13-14 slots per alarm). Captures without
position are keyed ``"d:<device>:<slot>"``. An alarm reads only the buckets of the cells its circle
can touch (its longitude span widened by the latitude, split at the antimeridian) and of the
slots its time range touches: 80 to 200 dict look-ups, most of them misses, whatever
the size of the city; distance and time are then checked exactly. Small slots keep each bucket,
and so each change-log write, small. A circle that reaches a pole spans every longitude: such
an alarm scans all buckets instead. Captures are kept 2 * ``alarm_context`` + ``lateness``
(the latest an alarm that needs them can be due).

State: ``alarm_context.captures`` (bucket -> captures) and ``alarm_context.pending`` (alarm id ->
alarm); due and expiry heaps in memory, rebuilt when the tables are restored.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Final

from streams.canonical.models import Alarm, AlarmState, CanonicalEvent, ImageRef
from streams.correlate.config import RuleConfig
from streams.correlate.records import Alert, Rule, digest_id
from streams.correlate.sightings import (
    DEVICE,
    ID,
    LAT,
    LON,
    PLATE,
    TIME,
    Image,
    Seen,
    from_log,
    image_tuples,
    order,
    pack,
    to_log,
    unpack,
)
from streams.correlate.state import Stateful, StateTable
from streams.domain.geo import EARTH_RADIUS_M, haversine_m

__all__ = ["SLOTS_PER_CONTEXT", "AlarmContextRule"]

# Time slots per alarm_context: more slots mean smaller buckets (smaller change-log writes) and
# more look-ups per alarm.
SLOTS_PER_CONTEXT: Final = 6
_MIN_SLOT: Final = timedelta(seconds=1)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MARGIN: Final = 1.0 + 1e-9  # floating-point headroom of the cell ranges
_DEVICE_KEY: Final = "d"

# The captures kept of one bucket (compact sightings, in arrival order).
_Bucket = tuple[Seen, ...]
# A pending alarm: captured_at, event_id, device_id, lat, lon, alarm_type, images, late.
_Alarm = tuple[
    datetime, str, str, float | None, float | None, str, tuple[Image | ImageRef, ...], bool
]


class AlarmContextRule(Stateful):
    """Alarms with the captures around them; see the module documentation."""

    def __init__(self, config: RuleConfig) -> None:
        self.config = config
        self._radius = config.alarm_radius_m
        self._context = config.alarm_context
        self._wait = config.alarm_context + config.lateness  # alarm time -> due
        self._keep = 2 * config.alarm_context + config.lateness  # capture time -> dropped
        self._slot = max(_MIN_SLOT, config.alarm_context / SLOTS_PER_CONTEXT)
        # Cell side and circle half-height, in degrees of latitude.
        self._cell = math.degrees(max(config.alarm_radius_m, 1.0) / EARTH_RADIUS_M)
        self._half = math.degrees(max(config.alarm_radius_m, 0.0) / EARTH_RADIUS_M) * _MARGIN
        self.captures: StateTable[_Bucket] = StateTable(
            "alarm_context.captures",
            on_restore=self._restored_bucket,
            to_log=to_log,
            from_log=from_log,
        )
        self.pending: StateTable[_Alarm] = StateTable(
            "alarm_context.pending", on_restore=self._restored_alarm
        )
        # Derived: pending alarms by due time; buckets by the time they may be dropped.
        self._due: list[tuple[datetime, str]] = []
        self._queued: set[str] = set()
        self._bucket_expiry: list[tuple[datetime, str]] = []

    # ---------------------------------------------------------------------------------------
    # input

    def observe(self, event: CanonicalEvent) -> None:
        """Keep a capture, or hold an alarm until it is due (a ``stop`` is ignored)."""
        if isinstance(event, Alarm):
            if event.state == AlarmState.STOP or event.event_id in self.pending:
                return
            position = event.position
            alarm: _Alarm = (
                event.captured_at,
                event.event_id,
                event.device_id,
                None if position is None else position.lat,
                None if position is None else position.lon,
                event.alarm_type.value,
                image_tuples(event.images),
                event.late,
            )
            self.pending[event.event_id] = alarm
            self._queue(alarm)
            return
        capture = pack(event)
        lat, lon = capture[LAT], capture[LON]
        slot = self._slot_of(event.captured_at)
        if lat is None or lon is None:
            key = f"{_DEVICE_KEY}:{event.device_id}:{slot}"
        else:
            key = f"{math.floor(lat / self._cell)}:{math.floor(lon / self._cell)}:{slot}"
        bucket = self.captures.get(key)
        if bucket is None:
            self.captures[key] = (capture,)
            self._schedule_bucket(key, slot)
        else:
            self.captures[key] = (*bucket, capture)

    def advance(self, stream_time: datetime, now: datetime) -> list[Alert]:
        """Fire the alarms due at ``stream_time`` (oldest first), then drop the captures no
        pending or future on-time alarm can need."""
        alerts: list[Alert] = []
        due = self._due
        while due and due[0][0] <= stream_time:
            alarm_id = heapq.heappop(due)[1]
            self._queued.discard(alarm_id)
            alarm = self.pending.get(alarm_id)
            if alarm is None:
                continue
            del self.pending[alarm_id]
            alerts.append(self._fire(alarm, now))
        expiry = self._bucket_expiry
        while expiry and expiry[0][0] < stream_time:
            self.captures.pop(heapq.heappop(expiry)[1], None)
        return alerts

    def flush(self, now: datetime) -> list[Alert]:
        """End of input: fire every pending alarm, oldest first."""
        alarms = sorted(self.pending.values(), key=lambda alarm: (alarm[0], alarm[1]))
        self.pending.clear()
        self._due.clear()
        self._queued.clear()
        return [self._fire(alarm, now) for alarm in alarms]

    # ---------------------------------------------------------------------------------------
    # firing

    def _fire(self, alarm: _Alarm, now: datetime) -> Alert:
        at, alarm_id, device, lat, lon, alarm_type, images, late = alarm
        earliest = at - self._context
        latest = at + self._context
        found: dict[str, Seen] = {}
        for bucket in self._buckets(alarm):
            for capture in bucket:
                if not earliest <= capture[TIME] <= latest or capture[ID] in found:
                    continue
                if lat is None or lon is None:
                    near = capture[DEVICE] == device and capture[LAT] is None
                else:
                    c_lat, c_lon = capture[LAT], capture[LON]
                    near = (
                        c_lat is not None
                        and c_lon is not None
                        and haversine_m(lat, lon, c_lat, c_lon) <= self._radius
                    )
                if near:
                    found[capture[ID]] = capture
        captures = sorted(found.values(), key=order)
        alarm_seen: Seen = (at, alarm_id, "alarm", device, None, None, lat, lon, images)
        evidence = [unpack(seen) for seen in (alarm_seen, *captures)]
        return Alert(
            alert_id=digest_id(Rule.ALARM_CONTEXT.value, alarm_id),
            rule=Rule.ALARM_CONTEXT.value,
            priority=self.config.alarm_priority,
            subject=device,
            occurred_at=max(at, captures[-1][TIME]) if captures else at,
            raised_at=now,
            late=late,
            plate_numbers=sorted({c[PLATE] for c in captures if c[PLATE] is not None}),
            device_ids=list(dict.fromkeys(seen.device_id for seen in evidence)),
            event_ids=[seen.event_id for seen in evidence],
            evidence=evidence,
            details={"alarm_type": alarm_type, "captures": str(len(captures))},
        )

    def _buckets(self, alarm: _Alarm) -> Iterator[_Bucket]:
        """The buckets that may hold captures near the alarm (a superset; callers filter)."""
        at, _, device, lat, lon = alarm[:5]
        slots = range(self._slot_of(at - self._context), self._slot_of(at + self._context) + 1)
        table = self.captures
        if lat is None or lon is None:
            for slot in slots:
                bucket = table.get(f"{_DEVICE_KEY}:{device}:{slot}")
                if bucket is not None:
                    yield bucket
            return
        longitudes = self._longitudes(lat, lon)
        if longitudes is None:
            yield from table.values()  # the circle reaches a pole: scan instead of look-ups
            return
        cell = self._cell
        low_row = math.floor((lat - self._half) / cell)
        rows = range(low_row, math.floor((lat + self._half) / cell) + 1)
        cols = [
            col
            for low, high in longitudes
            for col in range(math.floor(low / cell), math.floor(high / cell) + 1)
        ]
        suffixes = [f":{slot}" for slot in slots]
        for row in rows:
            for col in cols:
                cell_key = f"{row}:{col}"
                for suffix in suffixes:
                    bucket = table.get(cell_key + suffix)
                    if bucket is not None:
                        yield bucket

    def _longitudes(self, lat: float, lon: float) -> list[tuple[float, float]] | None:
        """Longitude intervals (degrees, within [-180, 180]) the alarm's circle can reach; None
        when it reaches a pole (every longitude)."""
        half = math.radians(self._half)
        cos_lat = math.cos(math.radians(lat))
        if math.sin(half) >= cos_lat or abs(lat) + self._half >= 90.0:
            return None
        # Largest longitude difference on a circle of angular radius `half` around `lat`.
        span = math.degrees(math.asin(min(1.0, math.sin(half) / cos_lat))) * _MARGIN
        low, high = lon - span, lon + span
        intervals = [(max(low, -180.0), min(high, 180.0))]
        if low < -180.0:  # across the antimeridian
            intervals.append((low + 360.0, 180.0))
        if high > 180.0:
            intervals.append((-180.0, high - 360.0))
        return intervals

    # ---------------------------------------------------------------------------------------
    # heaps

    def _slot_of(self, at: datetime) -> int:
        return (at - _EPOCH) // self._slot

    def _queue(self, alarm: _Alarm) -> None:
        if alarm[1] not in self._queued:
            self._queued.add(alarm[1])
            heapq.heappush(self._due, (alarm[0] + self._wait, alarm[1]))

    def _schedule_bucket(self, key: str, slot: int) -> None:
        slot_end = _EPOCH + (slot + 1) * self._slot
        heapq.heappush(self._bucket_expiry, (slot_end + self._keep, key))

    def _restored_bucket(self, key: str, old: _Bucket | None, new: _Bucket | None) -> None:
        # Restoring a key twice pushes it twice; the second pop finds it gone.
        if new is not None:
            self._schedule_bucket(key, int(key.rsplit(":", 1)[1]))

    def _restored_alarm(self, alarm_id: str, old: _Alarm | None, new: _Alarm | None) -> None:
        if new is not None:
            self._queue(new)
