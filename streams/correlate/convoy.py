"""Convoys (伴随车): two vehicles that pass the same cameras close behind each other, at several
distinct cameras, within a time window.

The work is split along the data's partitioning:

- :class:`CoPassFinder` runs on the device-keyed stream. For each readable pass it finds the
  passes of other plates at the same device within ``convoy_gap`` and emits one ``co_pass``
  correlation per pair, keyed by the smaller plate so every record of a pair reaches one
  partition of the plate-keyed stream. With ``wanted`` (the watchlisted-only mode) it emits only
  pairs where at least one plate is wanted: the number of co-passes grows with the square of the
  traffic at a device, and most deployments only care about convoys of a target.
- :class:`ConvoyRule` runs on the plate-keyed stream and counts the distinct devices of each
  pair's co-passes.

Firing rule (per pair A|B, A < B). Co-passes are deduplicated by correlation id. A pair is
*quiet* until ``quiet_until`` after it fired. A co-pass captured at or before ``quiet_until``
belongs to the episode that fired: it raises nothing and extends ``quiet_until`` to its time +
``convoy_window``. Any other co-pass ``c`` is a candidate together with the kept co-passes after
``quiet_until``; among the windows ``[e - convoy_window, e]`` that contain ``c``, with ``e`` the
time of a candidate, the earliest one holding co-passes at ``convoy_min_devices`` distinct
devices fires: one alert whose evidence is every sighting of the co-passes in that window. Then
``quiet_until`` = the newest candidate's time + ``convoy_window``. So a pair that keeps driving
together raises one alert, and alerts again only after ``convoy_window`` without a co-pass.
The alert id digests the rule, the pair and the sorted event ids of the evidence: the same input
(in the same order) yields the same id.

State: ``co_pass.passes`` (device -> recent passes) and ``convoy.pairs`` (pair -> quiet_until and
co-passes); expiry heaps in memory, rebuilt when the tables are restored. Memory is kept the gap
or window plus a slack of ``lateness`` and the longer dedup window after the newest time seen,
because unique passes (and so co-passes) are reordered by up to that much.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Final, TypeVar

from streams.canonical.models import GeoPoint, ImageRef, PlateCapture, construct
from streams.correlate.config import RuleConfig
from streams.correlate.records import Alert, Correlation, Rule, Sighting, digest_id
from streams.correlate.state import Stateful, StateTable

__all__ = ["CO_PASS", "CoPassFinder", "ConvoyRule"]

# The relation of the records CoPassFinder emits (an internal topic; "pass" is no password).
CO_PASS: Final = "co_pass"  # noqa: S105
_MS: Final = timedelta(milliseconds=1)

# A pass: captured_at, event_id, device_id, plate, lat, lon, images.
_Pass = tuple[datetime, str, str, str, float | None, float | None, tuple[ImageRef, ...]]
_Passes = tuple[_Pass, ...]
# A co-pass: occurred_at, correlation_id, device_id, its two passes oldest first.
_CoPass = tuple[datetime, str, str, _Pass, _Pass]
# A pair: quiet_until (None: never fired, or the episode is over), co-passes sorted by
# (occurred_at, correlation_id).
_Pair = tuple[datetime | None, tuple[_CoPass, ...]]

V = TypeVar("V")


def _time(item: _Pass | _CoPass) -> datetime:
    return item[0]


def _order(item: _Pass | _CoPass) -> tuple[datetime, str]:
    return item[0], item[1]


def _slack(config: RuleConfig) -> timedelta:
    return config.lateness + max(config.plate_window, config.face_window)


class _Table(StateTable[V]):
    """A StateTable that tells its owner about restored records (to rebuild the expiry heap)."""

    def __init__(self, name: str, on_restore: Callable[[str, V], None]) -> None:
        super().__init__(name)
        self._on_restore = on_restore

    def restore(self, key: str, value: V | None) -> None:
        super().restore(key, value)
        if value is not None:
            self._on_restore(key, value)


class _Expiry:
    """Keys by the time their oldest item may be dropped; at most one live entry per key."""

    __slots__ = ("heap", "scheduled")

    def __init__(self) -> None:
        self.heap: list[tuple[datetime, str]] = []
        self.scheduled: set[str] = set()

    def schedule(self, key: str, due: datetime) -> None:
        if key not in self.scheduled:
            self.scheduled.add(key)
            heapq.heappush(self.heap, (due, key))

    def due(self, stream_time: datetime) -> list[str]:
        keys: list[str] = []
        heap = self.heap
        while heap and heap[0][0] < stream_time:
            key = heapq.heappop(heap)[1]
            self.scheduled.discard(key)
            keys.append(key)
        return keys


def _pack(event: PlateCapture, plate: str) -> _Pass:
    position = event.position
    return (
        event.captured_at,
        event.event_id,
        event.device_id,
        plate,
        None if position is None else position.lat,
        None if position is None else position.lon,
        tuple(event.images),
    )


def _pack_sighting(seen: Sighting) -> _Pass:
    position = seen.position
    return (
        seen.captured_at,
        seen.event_id,
        seen.device_id,
        seen.plate_number or "",
        None if position is None else position.lat,
        None if position is None else position.lon,
        tuple(seen.images),
    )


def _sighting(seen: _Pass) -> Sighting:
    # construct(): the values come from validated events; co-passes are the hot output.
    lat, lon = seen[4], seen[5]
    position = None if lat is None or lon is None else construct(GeoPoint, {"lat": lat, "lon": lon})
    return construct(
        Sighting,
        {
            "event_id": seen[1],
            "kind": "plate",
            "device_id": seen[2],
            "captured_at": seen[0],
            "position": position,
            "plate_number": seen[3],
            "images": list(seen[6]),
        },
    )


class CoPassFinder(Stateful):
    """Device side of convoy detection: passes of two plates at one device within the gap."""

    def __init__(self, config: RuleConfig, wanted: Callable[[str], bool] | None = None) -> None:
        self.config = config
        self._gap = config.convoy_gap
        self._keep = config.convoy_gap + _slack(config)
        self._wanted = wanted
        self.passes: _Table[_Passes] = _Table("co_pass.passes", self._restored)
        self._expiry = _Expiry()

    def observe(self, event: PlateCapture) -> list[Correlation]:
        """A co-pass for every kept pass of another plate at this device within the gap."""
        plate = event.plate_number
        if plate is None:
            return []
        device = event.device_id
        new = _pack(event, plate)
        kept = self.passes.get(device, ())
        at = bisect_left(kept, _order(new), key=_order)
        if at < len(kept) and kept[at][1] == new[1]:
            return []  # offered again: its pairs were emitted the first time
        t = new[0]
        low = bisect_left(kept, t - self._gap, key=_time)
        high = bisect_right(kept, t + self._gap, key=_time)
        out: list[Correlation] = []
        wanted = self._wanted
        mine: bool | None = None  # wanted(plate), asked at most once and only when needed
        for other in kept[low:high]:
            if other[3] == plate:
                continue
            if wanted is not None:
                if mine is None:
                    mine = wanted(plate)
                if not mine and not wanted(other[3]):
                    continue
            out.append(_co_pass(device, other, new))
        merged = (*kept[:at], new, *kept[at:])
        first = bisect_left(merged, merged[-1][0] - self._keep, key=_time)
        stored = merged[first:] if first else merged
        self.passes[device] = stored
        self._expiry.schedule(device, stored[0][0] + self._keep)
        return out

    def expire(self, stream_time: datetime) -> None:
        """Drop passes captured more than the gap (plus slack) before ``stream_time``."""
        table = self.passes
        horizon = stream_time - self._keep
        for device in self._expiry.due(stream_time):
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
            self._expiry.schedule(device, kept[0][0] + self._keep)

    def _restored(self, device: str, kept: _Passes) -> None:
        self._expiry.schedule(device, kept[0][0] + self._keep)


def _co_pass(device: str, a: _Pass, b: _Pass) -> Correlation:
    older, newer = (a, b) if _order(a) < _order(b) else (b, a)
    small, large = sorted((a[3], b[3]))
    return construct(
        Correlation,
        {
            "correlation_id": digest_id(CO_PASS, device, *sorted((a[1], b[1]))),
            "relation": CO_PASS,
            "subject": small,
            "occurred_at": newer[0],
            "plate_numbers": [small, large],
            "device_ids": [device],
            "event_ids": [older[1], newer[1]],
            "evidence": [_sighting(older), _sighting(newer)],
            "details": {"gap_ms": str((newer[0] - older[0]) // _MS)},
        },
    )


class ConvoyRule(Stateful):
    """Pair side of convoy detection; the firing rule is in the module documentation."""

    def __init__(self, config: RuleConfig) -> None:
        self.config = config
        self._window = config.convoy_window
        self._min_devices = config.convoy_min_devices
        self._slack = _slack(config)
        self.pairs: _Table[_Pair] = _Table("convoy.pairs", self._restored)
        self._expiry = _Expiry()

    def observe(self, co_pass: Correlation, now: datetime) -> list[Alert]:
        """An alert when this co-pass makes the pair reach the device threshold.

        Raises:
            ValueError: the record is not a co-pass of two plates with two sightings.
        """
        if (
            co_pass.relation != CO_PASS
            or len(co_pass.plate_numbers) != 2
            or len(co_pass.evidence) != 2
            or not co_pass.device_ids
        ):
            raise ValueError(f"not a co-pass record: {co_pass.correlation_id!r}")
        small, large = sorted(co_pass.plate_numbers)
        key = f"{small}|{large}"
        first, second = (_pack_sighting(seen) for seen in co_pass.evidence)
        if _order(second) < _order(first):
            first, second = second, first
        item: _CoPass = (
            co_pass.occurred_at,
            co_pass.correlation_id,
            co_pass.device_ids[0],
            first,
            second,
        )
        quiet, kept = self.pairs.get(key, (None, ()))
        at = bisect_left(kept, _order(item), key=_order)
        if at < len(kept) and kept[at][1] == item[1]:
            return []  # offered again: counted the first time
        merged = (*kept[:at], item, *kept[at:])
        t = item[0]
        alerts: list[Alert] = []
        if quiet is not None and t <= quiet:
            quiet = max(quiet, t + self._window)
        else:
            candidates = [c for c in merged if quiet is None or c[0] > quiet]
            fired = self._first_window(candidates, item)
            if fired is not None:
                alerts.append(self._alert(small, large, fired, now))
                quiet = candidates[-1][0] + self._window
        newest = merged[-1][0]
        low = bisect_left(merged, newest - self._window - self._slack, key=_time)
        stored: _Pair = (quiet, merged[low:] if low else merged)
        self.pairs[key] = stored
        self._expiry.schedule(key, self._due(stored))
        return alerts

    def _first_window(
        self, candidates: Sequence[_CoPass], item: _CoPass
    ) -> Sequence[_CoPass] | None:
        """The co-passes of the earliest window [e - convoy_window, e] containing ``item`` with
        enough distinct devices, or None. Windows end at the time of a candidate."""
        t = item[0]
        window = self._window
        start = bisect_left(candidates, t - window, key=_time)
        for end in range(bisect_left(candidates, t, key=_time), len(candidates)):
            e = candidates[end][0]
            if e > t + window:
                break
            low = bisect_left(candidates, e - window, key=_time, lo=start)
            high = bisect_right(candidates, e, key=_time, lo=end)
            members = candidates[low:high]
            if len({c[2] for c in members}) >= self._min_devices:
                return members
        return None

    def _alert(self, small: str, large: str, members: Sequence[_CoPass], now: datetime) -> Alert:
        passes: dict[str, _Pass] = {}
        for member in members:
            passes.setdefault(member[3][1], member[3])
            passes.setdefault(member[4][1], member[4])
        evidence = sorted(passes.values(), key=_order)
        devices = list(dict.fromkeys(p[2] for p in evidence))
        return Alert(
            alert_id=digest_id(Rule.CONVOY.value, small, large, *sorted(passes)),
            rule=Rule.CONVOY.value,
            priority=self.config.convoy_priority,
            subject=f"{small}|{large}",
            occurred_at=evidence[-1][0],
            raised_at=now,
            plate_numbers=[small, large],
            device_ids=devices,
            event_ids=[p[1] for p in evidence],
            evidence=[_sighting(p) for p in evidence],
            details={
                "devices": str(len({member[2] for member in members})),
                "co_passes": str(len(members)),
                "window_s": f"{self._window.total_seconds():g}",
            },
        )

    def expire(self, stream_time: datetime) -> None:
        """Drop co-passes older than the window (plus slack) and quiet periods that are over."""
        table = self.pairs
        horizon = stream_time - self._window - self._slack
        for key in self._expiry.due(stream_time):
            state = table.get(key)
            if state is None:
                continue
            quiet, kept = state
            if quiet is not None and quiet + self._slack < stream_time:
                quiet = None
            low = bisect_left(kept, horizon, key=_time)
            if quiet is None and low == len(kept):
                del table[key]
                continue
            if low or quiet != state[0]:
                state = (quiet, kept[low:])
                table[key] = state
            self._expiry.schedule(key, self._due(state))

    def _due(self, state: _Pair) -> datetime:
        """When something of a pair's state may be dropped."""
        quiet, kept = state
        dues = [quiet + self._slack] if quiet is not None else []
        if kept:
            dues.append(kept[0][0] + self._window + self._slack)
        return min(dues)

    def _restored(self, key: str, state: _Pair) -> None:
        self._expiry.schedule(key, self._due(state))
