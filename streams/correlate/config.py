"""The tunable figures of deduplication and correlation, with their defaults.

Built from the worker's settings (``STREAMS_*``) or from ``streams correlate`` options; rules
take the figures they need from here and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class RuleConfig:
    # Time. An event is late when it was received more than ``lateness`` after its capture
    # (received_at - captured_at > lateness): stored and counted, never alerted on as fresh.
    # Windows close when the stream time (the newest received_at seen, or the clock when the
    # input is idle) passes their end plus ``lateness``.
    lateness: timedelta = timedelta(seconds=10)
    # Ids already passed on are remembered this long after their window closed, to drop
    # re-pushes and redeliveries that arrive later.
    dedup_memory: timedelta = timedelta(minutes=2)

    # Near-duplicate plate reads: same device (and lane when both reads know it), same plate
    # or one OCR confusion apart, captured within this window of the previous read of the pass.
    plate_window: timedelta = timedelta(seconds=5)
    # Face tracks: same device and track id, within this window of the previous capture.
    face_window: timedelta = timedelta(seconds=10)

    # Cloned plate: two sightings of one plate farther apart than this speed allows.
    max_speed_kmh: float = 250.0
    # Devices closer than this never raise a cloned plate (position error, adjacent lanes).
    cloned_min_distance_m: float = 1_000.0
    # How long a plate's sightings are kept for the comparison.
    cloned_memory: timedelta = timedelta(hours=2)

    # Person-vehicle association: a face and a plate at one device within this gap.
    person_vehicle_gap: timedelta = timedelta(seconds=5)

    # Convoy: two plates passing at least ``convoy_min_devices`` distinct devices, each within
    # ``convoy_gap`` of each other, inside ``convoy_window``.
    convoy_gap: timedelta = timedelta(seconds=30)
    convoy_min_devices: int = 3
    convoy_window: timedelta = timedelta(minutes=30)
    # Only pairs where at least one plate is on the watchlist: every pass pairs with every
    # other pass at its device within the gap, which at rush-hour density halves throughput
    # (docs/correlation.md has the figures).
    convoy_watchlisted_only: bool = True

    # Alarm context: captures from devices within ``alarm_radius_m`` of the alarm's device,
    # during ``alarm_context`` before and after it.
    alarm_radius_m: float = 500.0
    alarm_context: timedelta = timedelta(seconds=60)
    alarm_priority: int = 2
    cloned_priority: int = 2
    convoy_priority: int = 3
