"""Person-vehicle association (人车关联): a face and a readable plate captured at one device within
``person_vehicle_gap`` of each other, most often the driver seen through the windscreen.

Each such pair yields one ``person_vehicle`` correlation, whichever capture arrives first; the
warehouse accumulates them over time (a face seen with a plate again and again is its driver).
The correlation id digests the plate event id and the face event id, so a replay or a re-offered
event yields the same id, and a re-offered event yields nothing the second time.

State: ``person_vehicle.recent``: device -> its recent faces and readable plates, sorted by
(captured_at, event_id) (:class:`~streams.correlate.sightings.RecentSightings`). They are kept
the gap plus a slack of ``lateness`` and the longer dedup window after the newest capture of the
device, because unique events reach this rule when their dedup window closes, which reorders
faces and plates by up to that much. An expiry heap in memory (rebuilt when the table is
restored) drops idle devices without scanning them all.
"""

from __future__ import annotations

from datetime import datetime

from streams.canonical.models import CanonicalEvent, FaceCapture, PlateCapture
from streams.correlate.config import RuleConfig
from streams.correlate.records import Correlation, Relation, digest_id
from streams.correlate.sightings import (
    ID,
    KIND,
    PLATE,
    TIME,
    RecentSightings,
    Seen,
    pack,
    pair_correlation,
    slack,
    within,
)
from streams.correlate.state import Stateful

__all__ = ["PersonVehicleRule"]


class PersonVehicleRule(Stateful):
    """Faces and plates at one device within the gap; see the module documentation."""

    def __init__(self, config: RuleConfig) -> None:
        self.config = config
        self._gap = config.person_vehicle_gap
        keep = config.person_vehicle_gap + slack(config)
        self._recent = RecentSightings("person_vehicle.recent", keep)
        self.recent = self._recent.table

    def observe(self, event: CanonicalEvent, now: datetime) -> list[Correlation]:
        """Correlations of this capture with the captures of the other kind kept for its device
        within the gap (``now`` is unused: correlations carry no processing time)."""
        if isinstance(event, PlateCapture):
            if event.plate_number is None:
                return []
        elif not isinstance(event, FaceCapture):
            return []
        new = pack(event)
        kept = self._recent.add(event.device_id, new)
        if kept is None:
            return []  # offered again: its pairs were emitted the first time
        kind = new[KIND]
        return [
            _pair(other, new) for other in within(kept, new[TIME], self._gap) if other[KIND] != kind
        ]

    def expire(self, stream_time: datetime) -> None:
        """Drop captures older than the gap (plus slack) before ``stream_time``."""
        self._recent.expire(stream_time)


def _pair(a: Seen, b: Seen) -> Correlation:
    plate, face = (a, b) if a[KIND] == "plate" else (b, a)
    plate_number = plate[PLATE] or ""
    return pair_correlation(
        digest_id(Relation.PERSON_VEHICLE.value, plate[ID], face[ID]),
        Relation.PERSON_VEHICLE.value,
        plate_number,
        [plate_number],
        a,
        b,
    )
