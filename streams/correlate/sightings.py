"""Compact sightings: what the rules keep of a capture, and the per-key tables they keep them in.

A rule's state holds many captures, so it keeps each as a plain tuple (:data:`Seen`: small to
pickle into the change log, cheap to compare) and turns it back into the :class:`Sighting` of its
output only when it reports it. :class:`RecentSightings` is the table of recent sightings per key
(a plate, a device) that the cloned-plate, convoy and person-vehicle rules share.

A table of sightings is written to the change log column by column (:func:`to_log`): capture
times as POSIX seconds, the rest as it is. Every change rewrites a key's whole list, and
pickling a datetime or an image model costs several times more than a float or a tuple of
strings; so images are kept as plain tuples (:data:`Image`) too.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from streams.canonical.models import (
    FaceCapture,
    GeoPoint,
    ImageKind,
    ImageRef,
    PlateCapture,
    construct,
)
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
    "Image",
    "Kept",
    "RecentSightings",
    "Seen",
    "from_log",
    "image_tuples",
    "in_order",
    "order",
    "pack",
    "pack_sighting",
    "pair_correlation",
    "slack",
    "to_log",
    "unpack",
    "when",
    "within",
]

# An image reference: kind, url, sha256, width, height.
Image = tuple[str, str | None, str | None, int | None, int | None]

# A kept sighting: captured_at, event_id, kind, device_id, plate_number, track_id, lat, lon,
# images. Plain tuples: they are what the rules' state tables hold and the change log pickles.
# (Images as ImageRef models: state written before images were kept as tuples.)
Seen = tuple[
    datetime,
    str,
    str,
    str,
    str | None,
    str | None,
    float | None,
    float | None,
    tuple[Image | ImageRef, ...],
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
# The first item of a list of sightings written by to_log (older records are tuples of Seen).
_COLUMNS: Final = 2


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
        image_tuples(event.images),
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
        image_tuples(seen.images),
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
            "images": [_image_ref(image) for image in seen[IMAGES]],
        },
    )


def image_tuples(images: Iterable[ImageRef]) -> tuple[Image, ...]:
    """Image references as the plain tuples sightings keep."""
    return tuple(
        (image.kind.value, image.url, image.sha256, image.width, image.height) for image in images
    )


def _image_ref(image: Image | ImageRef) -> ImageRef:
    if isinstance(image, ImageRef):
        return image
    kind, url, sha256, width, height = image
    return construct(
        ImageRef,
        {"kind": ImageKind(kind), "url": url, "sha256": sha256, "width": width, "height": height},
    )


def to_log(kept: tuple[Seen, ...]) -> tuple[int, list[float], list[tuple[Any, ...]]]:
    """The change-log form of a list of sightings: capture times as POSIX seconds, the rest."""
    return _COLUMNS, [seen[TIME].timestamp() for seen in kept], [seen[1:] for seen in kept]


def from_log(logged: Any) -> tuple[Seen, ...]:
    """A list of sightings read back from the change log (either form)."""
    if not logged or logged[0] != _COLUMNS:
        return tuple(logged)  # a tuple of Seen, written before the column form
    _, times, rests = logged
    at = datetime.fromtimestamp
    # A float holds a POSIX time to well under a microsecond (until the 23rd century), and
    # fromtimestamp rounds to the nearest one: every capture time comes back exactly.
    return tuple([(at(time, UTC), *rest) for time, rest in zip(times, rests, strict=True)])


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
        self.table: StateTable[Kept] = StateTable(
            name, on_restore=self._restored, to_log=to_log, from_log=from_log
        )
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
