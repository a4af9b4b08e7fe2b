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

State: ``cloned_plate.sightings``: plate -> compact sightings sorted by (captured_at, event_id)
(:class:`~streams.correlate.sightings.RecentSightings`). An expiry heap in memory (rebuilt when
the table is restored) drops old sightings without scanning every plate. Sightings are kept
``cloned_memory`` plus a slack of ``lateness`` and the longer dedup window after the newest
capture seen, because unique passes reach this rule reordered by up to that much.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from streams.canonical.models import PlateCapture
from streams.correlate.config import RuleConfig
from streams.correlate.records import Alert, Rule, digest_id
from streams.correlate.sightings import (
    DEVICE,
    ID,
    LAT,
    LON,
    TIME,
    RecentSightings,
    Seen,
    in_order,
    pack,
    slack,
    unpack,
)
from streams.correlate.state import Stateful
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


class ClonedPlateRule(Stateful):
    """Impossible trips of one plate; see the module documentation."""

    def __init__(self, config: RuleConfig) -> None:
        self.config = config
        self._min_distance = config.cloned_min_distance_m
        self._max_speed = config.max_speed_kmh
        self._max_mps = config.max_speed_kmh / 3.6
        self._memory = config.cloned_memory
        keep = config.cloned_memory + slack(config)
        self._recent = RecentSightings("cloned_plate.sightings", keep, MAX_SIGHTINGS_PER_PLATE)
        self.sightings = self._recent.table

    def observe(self, event: PlateCapture, now: datetime) -> list[Alert]:
        """Alerts for every kept sighting of the plate this one could not have driven from/to.
        Unreadable plates and sightings without position are ignored."""
        plate = event.plate_number
        if plate is None or event.position is None:
            return []
        new = pack(event)
        kept = self._recent.add(plate, new)
        if kept is None:
            return []  # offered again: its pairs were reported the first time
        return [
            alert
            for old in kept
            if (alert := self._compare(plate, old, new, event.late, now)) is not None
        ]

    def _compare(self, plate: str, old: Seen, new: Seen, late: bool, now: datetime) -> Alert | None:
        if old[DEVICE] == new[DEVICE]:
            return None
        elapsed = new[TIME] - old[TIME]
        if elapsed < _ZERO:
            elapsed = -elapsed
        if elapsed > self._memory:
            return None
        old_lat, old_lon, new_lat, new_lon = old[LAT], old[LON], new[LAT], new[LON]
        if old_lat is None or old_lon is None or new_lat is None or new_lon is None:
            return None  # never: only sightings with a position are kept
        seconds = elapsed.total_seconds()
        # Cheap upper bound first: most pairs are minutes apart and need no trigonometry.
        bound = _M_PER_DEG * _BOUND_MARGIN * (abs(old_lat - new_lat) + abs(old_lon - new_lon))
        if bound < self._min_distance or bound <= self._max_mps * seconds:
            return None
        older, newer = in_order(old, new)
        # From the older to the newer: the same distance whichever arrived first.
        if older is old:
            distance = haversine_m(old_lat, old_lon, new_lat, new_lon)
        else:
            distance = haversine_m(new_lat, new_lon, old_lat, old_lon)
        if distance < self._min_distance:
            return None
        speed = distance / seconds * 3.6 if seconds else float("inf")
        if speed <= self._max_speed:
            return None
        return Alert(
            alert_id=digest_id(Rule.CLONED_PLATE.value, *sorted((old[ID], new[ID]))),
            rule=Rule.CLONED_PLATE.value,
            priority=self.config.cloned_priority,
            subject=plate,
            occurred_at=newer[TIME],
            raised_at=now,
            late=late,
            plate_numbers=[plate],
            device_ids=[older[DEVICE], newer[DEVICE]],
            event_ids=[older[ID], newer[ID]],
            evidence=[unpack(older), unpack(newer)],
            details={
                "distance_m": f"{distance:.1f}",
                "seconds": f"{seconds:.3f}",
                "speed_kmh": f"{speed:.1f}",
                "max_speed_kmh": f"{self._max_speed:g}",
            },
        )

    def expire(self, stream_time: datetime) -> None:
        """Drop sightings captured more than ``cloned_memory`` (plus slack) before stream_time."""
        self._recent.expire(stream_time)
