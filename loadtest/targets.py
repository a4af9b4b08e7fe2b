"""Subjects for the main job's investigator searches, picked from a city's ground truth so that
each search has something to find: a cloned plate's trajectory, a collision over places a
convoy passed, and the co-travellers of a convoy's plate."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from loadtest.truth import TruePass, Truth
from streams.domain.devices import DeviceRegistry


@dataclass(frozen=True)
class DemoTargets:
    cloned_plate: str
    convoy_plate: str
    # (lat, lon, seconds after the scenario start) of places the convoy plate passed.
    collision_sets: tuple[tuple[float, float, float], ...]


def _busiest_plate(passes: list[TruePass]) -> str:
    counts = Counter(p.plate for p in passes if p.plate)
    return counts.most_common(1)[0][0] if counts else "浙A00000"


def demo_targets(truth: Truth, devices_csv: Path, sets: int = 3) -> DemoTargets:
    """Fallbacks (the busiest plate) keep the searches meaningful in a city too small to have
    planted a cloned plate or a convoy."""
    passes = [p for p in truth.passes if not p.late]
    cloned = truth.expected.cloned_plate[0] if truth.expected.cloned_plate else None
    convoy = truth.expected.convoy[0][0] if truth.expected.convoy else None
    cloned = cloned or _busiest_plate(passes)
    convoy = convoy or _busiest_plate(passes)
    registry = DeviceRegistry.from_csv(devices_csv)
    route = sorted((p for p in passes if p.plate == convoy), key=lambda p: p.captured_offset)
    places: list[tuple[float, float, float]] = []
    used: set[str] = set()
    # Spread over the route: first, middle and last distinct devices.
    picks = (
        [route[round(i * (len(route) - 1) / max(sets - 1, 1))] for i in range(sets)]
        if route
        else []
    )
    for p in picks:
        device = registry.get(p.device_id)
        if device is None or p.device_id in used:
            continue
        used.add(p.device_id)
        places.append((device.lat, device.lon, p.captured_offset))
    return DemoTargets(cloned, convoy, tuple(places))
