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

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Final

from streams.canonical.models import PlateCapture
from streams.correlate.config import RuleConfig
from streams.correlate.records import Alert, Correlation, Rule, digest_id
from streams.correlate.sightings import (
    DEVICE,
    ID,
    PLATE,
    TIME,
    Expiry,
    RecentSightings,
    Seen,
    order,
    pack,
    pack_sighting,
    pair_correlation,
    slack,
    unpack,
    within,
)
from streams.correlate.state import Stateful, StateTable

__all__ = ["CO_PASS", "CoPassFinder", "ConvoyRule"]

# The relation of the records CoPassFinder emits (an internal topic; "pass" is no password).
CO_PASS: Final = "co_pass"  # noqa: S105

# A co-pass: occurred_at, correlation_id, device_id, its two passes (sightings) oldest first.
_CoPass = tuple[datetime, str, str, Seen, Seen]
# A pair: quiet_until (None: never fired, or the episode is over), co-passes sorted by
# (occurred_at, correlation_id).
_Pair = tuple[datetime | None, tuple[_CoPass, ...]]


def _time(item: _CoPass) -> datetime:
    return item[0]


def _co_order(item: _CoPass) -> tuple[datetime, str]:
    return item[0], item[1]


class CoPassFinder(Stateful):
    """Device side of convoy detection: passes of two plates at one device within the gap."""

    def __init__(self, config: RuleConfig, wanted: Callable[[str], bool] | None = None) -> None:
        self.config = config
        self._gap = config.convoy_gap
        self._wanted = wanted
        self._recent = RecentSightings("co_pass.passes", config.convoy_gap + slack(config))
        self.passes = self._recent.table

    def observe(self, event: PlateCapture) -> list[Correlation]:
        """A co-pass for every kept pass of another plate at this device within the gap."""
        plate = event.plate_number
        if plate is None:
            return []
        new = pack(event)
        kept = self._recent.add(event.device_id, new)
        if kept is None:
            return []  # offered again: its pairs were emitted the first time
        out: list[Correlation] = []
        wanted = self._wanted
        mine: bool | None = None  # wanted(plate), asked at most once and only when needed
        for other in within(kept, new[TIME], self._gap):
            other_plate = other[PLATE]
            if other_plate is None or other_plate == plate:
                continue  # (None: never, only readable passes are kept)
            if wanted is not None:
                if mine is None:
                    mine = wanted(plate)
                if not mine and not wanted(other_plate):
                    continue
            out.append(_co_pass(other, other_plate, new, plate))
        return out

    def expire(self, stream_time: datetime) -> None:
        """Drop passes captured more than the gap (plus slack) before ``stream_time``."""
        self._recent.expire(stream_time)


def _co_pass(a: Seen, a_plate: str, b: Seen, b_plate: str) -> Correlation:
    small, large = sorted((a_plate, b_plate))
    device = a[DEVICE]
    return pair_correlation(
        digest_id(CO_PASS, device, *sorted((a[ID], b[ID]))), CO_PASS, small, [small, large], a, b
    )


class ConvoyRule(Stateful):
    """Pair side of convoy detection; the firing rule is in the module documentation."""

    def __init__(self, config: RuleConfig) -> None:
        self.config = config
        self._window = config.convoy_window
        self._min_devices = config.convoy_min_devices
        self._slack = slack(config)
        self.pairs: StateTable[_Pair] = StateTable("convoy.pairs", on_restore=self._restored)
        self._expiry = Expiry()

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
        first, second = (pack_sighting(seen) for seen in co_pass.evidence)
        if order(second) < order(first):
            first, second = second, first
        item: _CoPass = (
            co_pass.occurred_at,
            co_pass.correlation_id,
            co_pass.device_ids[0],
            first,
            second,
        )
        quiet, kept = self.pairs.get(key, (None, ()))
        at = bisect_left(kept, _co_order(item), key=_co_order)
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
        passes: dict[str, Seen] = {}
        for member in members:
            passes.setdefault(member[3][ID], member[3])
            passes.setdefault(member[4][ID], member[4])
        evidence = sorted(passes.values(), key=order)
        devices = list(dict.fromkeys(p[DEVICE] for p in evidence))
        return Alert(
            alert_id=digest_id(Rule.CONVOY.value, small, large, *sorted(passes)),
            rule=Rule.CONVOY.value,
            priority=self.config.convoy_priority,
            subject=f"{small}|{large}",
            occurred_at=evidence[-1][TIME],
            raised_at=now,
            plate_numbers=[small, large],
            device_ids=devices,
            event_ids=[p[ID] for p in evidence],
            evidence=[unpack(p) for p in evidence],
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

    def _restored(self, key: str, old: _Pair | None, new: _Pair | None) -> None:
        if new is not None:
            self._expiry.schedule(key, self._due(new))
