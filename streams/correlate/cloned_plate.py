"""Cloned plates (套牌车): one plate seen at two places farther apart than a car can drive in the
time between the two captures, so two physical vehicles carry the plate.

A pair of sightings of one plate at different devices fires when the great-circle distance is at
least ``cloned_min_distance_m`` (positions are approximate, and neighbouring checkpoints see one
car seconds apart) and the implied speed, distance over the time between the captures, exceeds
``max_speed_kmh``; two captures at the same instant that far apart are impossible too.

The rule runs on the plate-keyed stream, so every sighting of a plate reaches one instance. It
keeps each plate's sightings that have a position for ``cloned_memory`` and compares a new one
with all of them; each impossible pair raises one alert whose id digests the two event ids
sorted, so the pair yields the same alert whichever sighting arrives second.

State: ``cloned_plate.sightings``: plate -> compact sightings sorted by (captured_at, event_id).
An expiry heap in memory (rebuilt when the table is restored) drops old sightings without
scanning every plate. Sightings are kept ``cloned_memory`` plus a slack of ``lateness`` and the
longer dedup window after the newest capture seen, because unique passes reach this rule
reordered by up to that much.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final, TypeVar

from streams.canonical.models import GeoPoint, ImageRef, PlateCapture, construct
from streams.correlate.config import RuleConfig
from streams.correlate.records import Alert, Rule, Sighting, digest_id
from streams.correlate.state import Stateful, StateTable
from streams.domain.geo import EARTH_RADIUS_M, haversine_m

__all__ = ["MAX_SIGHTINGS_PER_PLATE", "ClonedPlateRule"]

# A plate seen more often than this within the memory keeps only its newest sightings: it bounds
# the per-event cost of pathological plates (a misread shared by many cars) at a few hundred
# comparisons. A bus passing a checkpoint every 30 s for 2 hours stays under it.
MAX_SIGHTINGS_PER_PLATE: Final = 256

# Metres per degree of latitude on the sphere of haversine_m; distance <= this * (|dlat|+|dlon|)
# (the path along the meridian, then along a parallel, is never shorter than the great circle).
_M_PER_DEG: Final = EARTH_RADIUS_M * 3.141592653589793 / 180.0
_BOUND_MARGIN: Final = 1.0 + 1e-9  # floating-point headroom of that bound
_ZERO: Final = timedelta(0)

# A kept sighting: captured_at, event_id, device_id, lat, lon, images.
_Seen = tuple[datetime, str, str, float, float, tuple[ImageRef, ...]]
_Sightings = tuple[_Seen, ...]

V = TypeVar("V")


def _order(seen: _Seen) -> tuple[datetime, str]:
    return seen[0], seen[1]


class _Table(StateTable[V]):
    """A StateTable that tells its owner about restored records (to rebuild the expiry heap)."""

    def __init__(self, name: str, on_restore: Callable[[str, V], None]) -> None:
        super().__init__(name)
        self._on_restore = on_restore

    def restore(self, key: str, value: V | None) -> None:
        super().restore(key, value)
        if value is not None:
            self._on_restore(key, value)


class ClonedPlateRule(Stateful):
    """Impossible trips of one plate; see the module documentation."""

    def __init__(self, config: RuleConfig) -> None:
        self.config = config
        self._min_distance = config.cloned_min_distance_m
        self._max_speed = config.max_speed_kmh
        self._max_mps = config.max_speed_kmh / 3.6
        self._memory = config.cloned_memory
        self._keep: timedelta = config.cloned_memory + (
            config.lateness + max(config.plate_window, config.face_window)
        )
        self.sightings: _Table[_Sightings] = _Table("cloned_plate.sightings", self._schedule)
        # Derived: (time the oldest sighting of a plate may be dropped, plate), one per plate.
        self._expiry: list[tuple[datetime, str]] = []
        self._scheduled: set[str] = set()

    def observe(self, event: PlateCapture, now: datetime) -> list[Alert]:
        """Alerts for every kept sighting of the plate this one could not have driven from/to.
        Unreadable plates and sightings without position are ignored."""
        plate = event.plate_number
        position = event.position
        if plate is None or position is None:
            return []
        new: _Seen = (
            event.captured_at,
            event.event_id,
            event.device_id,
            position.lat,
            position.lon,
            tuple(event.images),
        )
        kept = self.sightings.get(plate, ())
        at = bisect_left(kept, _order(new), key=_order)
        if at < len(kept) and kept[at][1] == new[1]:
            return []  # offered again: its pairs were reported the first time
        alerts = [
            alert
            for old in kept
            if (alert := self._compare(plate, old, new, event.late, now)) is not None
        ]
        merged = (*kept[:at], new, *kept[at:])
        horizon = merged[-1][0] - self._keep
        first = bisect_left(merged, horizon, key=lambda seen: seen[0])
        first = max(first, len(merged) - MAX_SIGHTINGS_PER_PLATE)
        stored = merged[first:] if first else merged
        self.sightings[plate] = stored
        self._schedule(plate, stored)
        return alerts

    def _compare(
        self, plate: str, old: _Seen, new: _Seen, late: bool, now: datetime
    ) -> Alert | None:
        if old[2] == new[2]:
            return None
        elapsed = new[0] - old[0]
        if elapsed < _ZERO:
            elapsed = -elapsed
        if elapsed > self._memory:
            return None
        seconds = elapsed.total_seconds()
        # Cheap upper bound first: most pairs are minutes apart and need no trigonometry.
        bound = _M_PER_DEG * _BOUND_MARGIN * (abs(old[3] - new[3]) + abs(old[4] - new[4]))
        if bound < self._min_distance or bound <= self._max_mps * seconds:
            return None
        older, newer = (old, new) if _order(old) < _order(new) else (new, old)
        distance = haversine_m(older[3], older[4], newer[3], newer[4])
        if distance < self._min_distance:
            return None
        speed = distance / seconds * 3.6 if seconds else float("inf")
        if speed <= self._max_speed:
            return None
        return Alert(
            alert_id=digest_id(Rule.CLONED_PLATE.value, *sorted((old[1], new[1]))),
            rule=Rule.CLONED_PLATE.value,
            priority=self.config.cloned_priority,
            subject=plate,
            occurred_at=newer[0],
            raised_at=now,
            late=late,
            plate_numbers=[plate],
            device_ids=[older[2], newer[2]],
            event_ids=[older[1], newer[1]],
            evidence=[_sighting(plate, older), _sighting(plate, newer)],
            details={
                "distance_m": f"{distance:.1f}",
                "seconds": f"{seconds:.3f}",
                "speed_kmh": f"{speed:.1f}",
                "max_speed_kmh": f"{self._max_speed:g}",
            },
        )

    def expire(self, stream_time: datetime) -> None:
        """Drop sightings captured more than ``cloned_memory`` (plus slack) before stream_time."""
        expiry = self._expiry
        table = self.sightings
        while expiry and expiry[0][0] < stream_time:
            _, plate = heapq.heappop(expiry)
            self._scheduled.discard(plate)
            kept = table.get(plate)
            if kept is None:
                continue
            horizon = stream_time - self._keep
            first = bisect_left(kept, horizon, key=lambda seen: seen[0])
            if first == len(kept):
                del table[plate]
                continue
            if first:
                kept = kept[first:]
                table[plate] = kept
            self._schedule(plate, kept)

    def _schedule(self, plate: str, kept: _Sightings) -> None:
        # One heap entry per plate, at the time its oldest sighting may go; popping it prunes and
        # schedules the plate again, so the heap never holds more entries than plates.
        if plate not in self._scheduled:
            self._scheduled.add(plate)
            heapq.heappush(self._expiry, (kept[0][0] + self._keep, plate))


def _sighting(plate: str, seen: _Seen) -> Sighting:
    # construct(): every value comes from a validated event.
    return construct(
        Sighting,
        {
            "event_id": seen[1],
            "kind": "plate",
            "device_id": seen[2],
            "captured_at": seen[0],
            "position": construct(GeoPoint, {"lat": seen[3], "lon": seen[4]}),
            "plate_number": plate,
            "images": list(seen[5]),
        },
    )
