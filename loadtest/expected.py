"""Which alerts the rules should raise on a city, worked out from its ground truth alone.

The definitions are the rules' (``streams.correlate``, default ``RuleConfig``), applied to the
true unique passes: on time (late passes never reach the cloned-plate and convoy rules) and
readable, at the capture time the best read reports. Cases within a margin of a threshold are
*tolerated* (neither expected nor wrong), so rounding in a vendor's time format or a device
position listed in another datum cannot turn a right answer into a wrong one.

- watchlist: every on-time readable pass of a plate matching an entry, per (pass, entry);
  late passes of watched plates are tolerated.
- cloned plate: a plate seen at two devices at least 1 km apart faster than 250 km/h would
  allow; expected above 1.1 km and 275 km/h, tolerated down to the thresholds.
- convoy: two plates, one watched, passing at least 3 distinct devices within 30 s of each
  other inside 30 min; expected with gaps up to 25 s inside 28 min, tolerated up to 35 s
  inside 32 min.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from loadtest.truth import ExpectedAlerts, Pair, TruePass
from loadtest.watch import WatchEntry
from streams.domain.geo import haversine_m

CLONED_MIN_M = 1000.0
CLONED_MAX_KMH = 250.0
CLONED_SURE_M = 1100.0
CLONED_SURE_KMH = 275.0
CONVOY_SURE_GAP = 25.0
CONVOY_MAX_GAP = 35.0
CONVOY_SURE_WINDOW = 28 * 60.0
CONVOY_MAX_WINDOW = 32 * 60.0
CONVOY_DEVICES = 3
_REACH = timedelta(seconds=CONVOY_MAX_GAP)

Positions = dict[str, tuple[float, float]]


def _sighted(passes: Iterable[TruePass]) -> list[TruePass]:
    return [p for p in passes if not p.late and p.plate is not None]


def watchlist(passes: Sequence[TruePass]) -> tuple[list[tuple[str, str]], list[str]]:
    expected: list[tuple[str, str]] = []
    tolerated: list[str] = []
    for p in passes:
        if p.plate is None or not p.watchlist_entries:
            continue
        if p.late:
            tolerated.append(p.pass_id)
        else:
            expected += [(p.pass_id, entry) for entry in p.watchlist_entries]
    return expected, tolerated


def cloned_plates(passes: Sequence[TruePass], positions: Positions) -> tuple[list[str], list[str]]:
    by_plate: dict[str, list[TruePass]] = defaultdict(list)
    for p in _sighted(passes):
        assert p.plate is not None
        by_plate[p.plate].append(p)
    # No car covers the widest city at 250 km/h in less than this: later pairs need no look.
    horizon = 600.0
    expected: list[str] = []
    tolerated: list[str] = []
    for plate, seen in sorted(by_plate.items()):
        seen.sort(key=lambda p: p.captured_at)
        verdict = 0  # 0 none, 1 tolerated, 2 expected
        for i, a in enumerate(seen):
            for b in seen[i + 1 :]:
                seconds = (b.captured_at - a.captured_at).total_seconds()
                if seconds > horizon:
                    break
                if a.device_id == b.device_id:
                    continue
                metres = haversine_m(*positions[a.device_id], *positions[b.device_id])
                kmh = math.inf if seconds <= 0 else metres / seconds * 3.6
                if metres >= CLONED_SURE_M and kmh >= CLONED_SURE_KMH:
                    verdict = 2
                elif metres >= CLONED_MIN_M * 0.98 and kmh > CLONED_MAX_KMH * 0.95:
                    verdict = max(verdict, 1)
            if verdict == 2:
                break
        if verdict == 2:
            expected.append(plate)
        elif verdict == 1:
            tolerated.append(plate)
    return expected, tolerated


def _has_window(co_passes: list[tuple[datetime, str]], window: float) -> bool:
    """Co-passes (time, device) sorted by time: do any within ``window`` s span enough
    distinct devices?"""
    for i, (start, _device) in enumerate(co_passes):
        devices = set()
        for at, device in co_passes[i:]:
            if (at - start).total_seconds() > window:
                break
            devices.add(device)
            if len(devices) >= CONVOY_DEVICES:
                return True
    return False


def convoys(
    passes: Sequence[TruePass], watched: Callable[[str], bool]
) -> tuple[list[Pair], list[Pair]]:
    by_device: dict[str, list[TruePass]] = defaultdict(list)
    for p in _sighted(passes):
        by_device[p.device_id].append(p)
    pairs: dict[Pair, list[tuple[datetime, str, float]]] = defaultdict(list)
    for device, seen in by_device.items():
        seen.sort(key=lambda p: p.captured_at)
        times = [p.captured_at for p in seen]
        for p in seen:
            assert p.plate is not None
            if not watched(p.plate):
                continue
            low = bisect.bisect_left(times, p.captured_at - _REACH)
            high = bisect.bisect_right(times, p.captured_at + _REACH)
            for q in seen[low:high]:
                gap = abs((q.captured_at - p.captured_at).total_seconds())
                if q.plate is None or q.plate == p.plate or gap > CONVOY_MAX_GAP:
                    continue
                a, b = sorted((p.plate, q.plate))
                pairs[(a, b)].append((max(p.captured_at, q.captured_at), device, gap))
    expected: list[Pair] = []
    tolerated: list[Pair] = []
    for pair, found in sorted(pairs.items()):
        found = sorted(set(found))
        sure = [(at, device) for at, device, gap in found if gap <= CONVOY_SURE_GAP]
        every = [(at, device) for at, device, _gap in found]
        if _has_window(sure, CONVOY_SURE_WINDOW):
            expected.append(pair)
        elif _has_window(every, CONVOY_MAX_WINDOW):
            tolerated.append(pair)
    return expected, tolerated


def expected_alerts(
    passes: Sequence[TruePass], positions: Positions, entries: Sequence[WatchEntry]
) -> ExpectedAlerts:
    watch, late_watch = watchlist(passes)
    cloned, cloned_maybe = cloned_plates(passes, positions)
    cache: dict[str, bool] = {}

    def watched(plate: str) -> bool:
        if plate not in cache:
            cache[plate] = any(e.matches(plate) for e in entries)
        return cache[plate]

    convoy, convoy_maybe = convoys(passes, watched)
    return ExpectedAlerts(
        watchlist=tuple(watch),
        cloned_plate=tuple(cloned),
        convoy=tuple(convoy),
        tolerated_watchlist=tuple(late_watch),
        tolerated_cloned_plate=tuple(cloned_maybe),
        tolerated_convoy=tuple(convoy_maybe),
    )
