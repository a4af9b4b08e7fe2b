"""Person-vehicle association (人车关联): a face and a readable plate captured at one device within
``person_vehicle_gap`` of each other, most often the driver seen through the windscreen.

Each such pair yields one ``person_vehicle`` correlation, whichever capture arrives first; the
warehouse accumulates them over time (a face seen with a plate again and again is its driver).
The correlation id digests the plate event id and the face event id, so a replay or a re-offered
event yields the same id, and a re-offered event yields nothing the second time.

State: ``person_vehicle.recent``: device -> its recent faces and readable plates, sorted by
(captured_at, event_id). They are kept the gap plus a slack of ``lateness`` and the longer dedup
window after the newest capture of the device, because unique events reach this rule when their
dedup window closes, which reorders faces and plates by up to that much. An expiry heap in memory
(rebuilt when the table is restored) drops idle devices without scanning them all.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final, TypeVar

from streams.canonical.models import (
    CanonicalEvent,
    FaceCapture,
    GeoPoint,
    ImageRef,
    PlateCapture,
    construct,
)
from streams.correlate.config import RuleConfig
from streams.correlate.records import Correlation, Relation, Sighting, digest_id
from streams.correlate.state import Stateful, StateTable

__all__ = ["PersonVehicleRule"]

_MS: Final = timedelta(milliseconds=1)

# A kept capture: captured_at, event_id, kind, plate (plates), track_id (faces), lat, lon, images.
_Seen = tuple[
    datetime, str, str, str | None, str | None, float | None, float | None, tuple[ImageRef, ...]
]
_Recent = tuple[_Seen, ...]

V = TypeVar("V")


def _time(seen: _Seen) -> datetime:
    return seen[0]


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


class PersonVehicleRule(Stateful):
    """Faces and plates at one device within the gap; see the module documentation."""

    def __init__(self, config: RuleConfig) -> None:
        self.config = config
        self._gap = config.person_vehicle_gap
        self._keep = config.person_vehicle_gap + (
            config.lateness + max(config.plate_window, config.face_window)
        )
        self.recent: _Table[_Recent] = _Table("person_vehicle.recent", self._restored)
        # Derived: (time the oldest capture of a device may be dropped, device), one per device.
        self._expiry: list[tuple[datetime, str]] = []
        self._scheduled: set[str] = set()

    def observe(self, event: CanonicalEvent, now: datetime) -> list[Correlation]:
        """Correlations of this capture with the captures of the other kind kept for its device
        within the gap (``now`` is unused: correlations carry no processing time)."""
        if isinstance(event, PlateCapture):
            if event.plate_number is None:
                return []
            kind, plate, track = "plate", event.plate_number, None
        elif isinstance(event, FaceCapture):
            kind, plate, track = "face", None, event.track_id
        else:
            return []
        position = event.position
        new: _Seen = (
            event.captured_at,
            event.event_id,
            kind,
            plate,
            track,
            None if position is None else position.lat,
            None if position is None else position.lon,
            tuple(event.images),
        )
        device = event.device_id
        kept = self.recent.get(device, ())
        at = bisect_left(kept, _order(new), key=_order)
        if at < len(kept) and kept[at][1] == new[1]:
            return []  # offered again: its pairs were emitted the first time
        t = new[0]
        low = bisect_left(kept, t - self._gap, key=_time)
        high = bisect_right(kept, t + self._gap, key=_time)
        out = [_pair(device, other, new) for other in kept[low:high] if other[2] != kind]
        merged = (*kept[:at], new, *kept[at:])
        first = bisect_left(merged, merged[-1][0] - self._keep, key=_time)
        stored = merged[first:] if first else merged
        self.recent[device] = stored
        self._schedule(device, stored)
        return out

    def expire(self, stream_time: datetime) -> None:
        """Drop captures older than the gap (plus slack) before ``stream_time``."""
        expiry = self._expiry
        table = self.recent
        horizon = stream_time - self._keep
        while expiry and expiry[0][0] < stream_time:
            device = heapq.heappop(expiry)[1]
            self._scheduled.discard(device)
            kept = table.get(device)
            if kept is None:
                continue
            first = bisect_left(kept, horizon, key=_time)
            if first == len(kept):
                del table[device]
                continue
            if first:
                kept = kept[first:]
                table[device] = kept
            self._schedule(device, kept)

    def _schedule(self, device: str, kept: _Recent) -> None:
        if device not in self._scheduled:
            self._scheduled.add(device)
            heapq.heappush(self._expiry, (kept[0][0] + self._keep, device))

    def _restored(self, device: str, kept: _Recent) -> None:
        self._schedule(device, kept)


def _pair(device: str, a: _Seen, b: _Seen) -> Correlation:
    older, newer = (a, b) if _order(a) < _order(b) else (b, a)
    plate, face = (a, b) if a[2] == "plate" else (b, a)
    plate_number = plate[3] or ""
    # construct(): values come from validated events, and this is a per-capture output.
    return construct(
        Correlation,
        {
            "correlation_id": digest_id(Relation.PERSON_VEHICLE.value, plate[1], face[1]),
            "relation": Relation.PERSON_VEHICLE.value,
            "subject": plate_number,
            "occurred_at": newer[0],
            "plate_numbers": [plate_number],
            "device_ids": [device],
            "event_ids": [older[1], newer[1]],
            "evidence": [_sighting(device, older), _sighting(device, newer)],
            "details": {"gap_ms": str((newer[0] - older[0]) // _MS)},
        },
    )


def _sighting(device: str, seen: _Seen) -> Sighting:
    lat, lon = seen[5], seen[6]
    position = None if lat is None or lon is None else construct(GeoPoint, {"lat": lat, "lon": lon})
    return construct(
        Sighting,
        {
            "event_id": seen[1],
            "kind": seen[2],
            "device_id": device,
            "captured_at": seen[0],
            "position": position,
            "plate_number": seen[3],
            "track_id": seen[4],
            "images": list(seen[7]),
        },
    )
