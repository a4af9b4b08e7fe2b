"""Compact sightings: what the rules keep of a capture, and the per-key tables they keep them in.

A rule's state holds many captures, so it keeps each as a plain tuple (:data:`Seen`: small to
pickle into the change log, cheap to compare) and turns it back into the :class:`Sighting` of its
output only when it reports it. :class:`RecentSightings` is the table of recent sightings per key
(a plate, a device) that the cloned-plate, convoy and person-vehicle rules share.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from datetime import datetime, timedelta
from typing import Final

from streams.canonical.models import FaceCapture, GeoPoint, ImageRef, PlateCapture, construct
from streams.correlate.config import RuleConfig
from streams.correlate.records import Correlation, Sighting
from streams.correlate.state import StateTable

__all__ = [
    "DEVICE",
    "ID",
    "IMAGES",
    "KIND",
    "LAT",
    "LON",
    "PLATE",
    "TIME",
    "TRACK",
    "Expiry",
    "Kept",
    "RecentSightings",
    "Seen",
    "in_order",
    "order",
    "pack",
    "pack_sighting",
    "pair_correlation",
    "slack",
    "unpack",
    "when",
    "within",
]

# A kept sighting: captured_at, event_id, kind, device_id, plate_number, track_id, lat, lon,
# images. Plain tuples: they are what the rules' state tables hold and the change log pickles.
Seen = tuple[
    datetime,
    str,
    str,
    str,
    str | None,
    str | None,
    float | None,
    float | None,
    tuple[ImageRef, ...],
]
# Sightings sorted by (captured_at, event_id).
Kept = tuple[Seen, ...]

# The fields of a Seen.
TIME: Final = 0
ID: Final = 1
KIND: Final = 2
DEVICE: Final = 3
PLATE: Final = 4
TRACK: Final = 5
LAT: Final = 6
LON: Final = 7
IMAGES: Final = 8

_MS: Final = timedelta(milliseconds=1)


def slack(config: RuleConfig) -> timedelta:
    """How far out of order unique events reach the rules (``lateness`` and the longer dedup
    window): a rule keeps sightings that much longer than it needs them."""
    return config.lateness + max(config.plate_window, config.face_window)


def when(seen: Seen) -> datetime:
    return seen[TIME]


def order(seen: Seen) -> tuple[datetime, str]:
    return seen[TIME], seen[ID]


def in_order(a: Seen, b: Seen) -> tuple[Seen, Seen]:
    """The two sightings, the older first (by captured_at, then event_id)."""
    return (a, b) if order(a) < order(b) else (b, a)


def within(kept: Kept, at: datetime, gap: timedelta) -> Kept:
    """The kept sightings captured within ``gap`` of ``at`` (inclusive)."""
    low = bisect_left(kept, at - gap, key=when)
    high = bisect_right(kept, at + gap, key=when)
    return kept[low:high]


def pack(event: PlateCapture | FaceCapture) -> Seen:
    """The compact form of a plate or face capture."""
    if isinstance(event, PlateCapture):
        kind, plate, track = "plate", event.plate_number, None
    else:
        kind, plate, track = "face", None, event.track_id
    position = event.position
    return (
        event.captured_at,
        event.event_id,
        kind,
        event.device_id,
        plate,
        track,
        None if position is None else position.lat,
        None if position is None else position.lon,
        tuple(event.images),
    )


def pack_sighting(seen: Sighting) -> Seen:
    """The compact form of a sighting read back from a record."""
    position = seen.position
    return (
        seen.captured_at,
        seen.event_id,
        seen.kind,
        seen.device_id,
        seen.plate_number,
        seen.track_id,
        None if position is None else position.lat,
        None if position is None else position.lon,
        tuple(seen.images),
    )


def unpack(seen: Seen) -> Sighting:
    """The evidence form of a kept sighting."""
    lat, lon = seen[LAT], seen[LON]
    # construct(): every value comes from a validated event; evidence is built on the hot path.
    return construct(
        Sighting,
        {
            "event_id": seen[ID],
            "kind": seen[KIND],
            "device_id": seen[DEVICE],
            "captured_at": seen[TIME],
            "position": (
                None
                if lat is None or lon is None
                else construct(GeoPoint, {"lat": lat, "lon": lon})
            ),
            "plate_number": seen[PLATE],
            "track_id": seen[TRACK],
            "images": list(seen[IMAGES]),
        },
    )


def pair_correlation(
    correlation_id: str, relation: str, subject: str, plate_numbers: list[str], a: Seen, b: Seen
) -> Correlation:
    """The correlation of two sightings at one device: the older one first, at the time of the
    newer one, with the gap between them."""
    older, newer = in_order(a, b)
    return construct(
        Correlation,
        {
            "correlation_id": correlation_id,
            "relation": relation,
            "subject": subject,
            "occurred_at": newer[TIME],
            "plate_numbers": plate_numbers,
            "device_ids": [older[DEVICE]],
            "event_ids": [older[ID], newer[ID]],
            "evidence": [unpack(older), unpack(newer)],
            "details": {"gap_ms": str((newer[TIME] - older[TIME]) // _MS)},
        },
    )


class Expiry:
    """Keys by the time their oldest item may be dropped; at most one live entry per key.

    Derived state: rebuilt from the tables' ``on_restore``, never persisted. Popping a key
    (``due``) lets its owner prune it and schedule it again, so the heap never holds more entries
    than keys."""

    __slots__ = ("heap", "scheduled")

    def __init__(self) -> None:
        self.heap: list[tuple[datetime, str]] = []
        self.scheduled: set[str] = set()

    def schedule(self, key: str, due: datetime) -> None:
        if key not in self.scheduled:
            self.scheduled.add(key)
            heapq.heappush(self.heap, (due, key))

    def due(self, stream_time: datetime) -> list[str]:
        """The keys due before ``stream_time``, unscheduled."""
        keys: list[str] = []
        heap = self.heap
        while heap and heap[0][0] < stream_time:
            key = heapq.heappop(heap)[1]
            self.scheduled.discard(key)
            keys.append(key)
        return keys


class RecentSightings:
    """The recent sightings of each key in the StateTable ``table``: sorted by (captured_at,
    event_id), each kept ``keep`` after the newest sighting of its key (and after the stream time
    by :meth:`expire`), at most ``limit`` of them (the newest) when a limit is given."""

    __slots__ = ("_expiry", "_keep", "_limit", "table")

    def __init__(self, name: str, keep: timedelta, limit: int | None = None) -> None:
        self.table: StateTable[Kept] = StateTable(name, on_restore=self._restored)
        self._keep = keep
        self._limit = limit
        self._expiry = Expiry()

    def add(self, key: str, new: Seen) -> Kept | None:
        """Keep ``new`` under ``key``. The sightings kept before it, or None when it was kept
        already (the event was offered again)."""
        kept = self.table.get(key, ())
        at = bisect_left(kept, order(new), key=order)
        if at < len(kept) and kept[at][ID] == new[ID]:
            return None
        merged = (*kept[:at], new, *kept[at:])
        first = bisect_left(merged, merged[-1][TIME] - self._keep, key=when)
        if self._limit is not None:
            first = max(first, len(merged) - self._limit)
        stored = merged[first:] if first else merged
        self.table[key] = stored
        self._expiry.schedule(key, stored[0][TIME] + self._keep)
        return kept

    def expire(self, stream_time: datetime) -> None:
        """Drop the sightings captured more than ``keep`` before ``stream_time``."""
        table = self.table
        horizon = stream_time - self._keep
        for key in self._expiry.due(stream_time):
            kept = table.get(key)
            if kept is None:
                continue
            first = bisect_left(kept, horizon, key=when)
            if first == len(kept):
                del table[key]
                continue
            if first:
                kept = kept[first:]
                table[key] = kept
            self._expiry.schedule(key, kept[0][TIME] + self._keep)

    def _restored(self, key: str, old: Kept | None, new: Kept | None) -> None:
        if new is not None:
            self._expiry.schedule(key, new[0][TIME] + self._keep)
