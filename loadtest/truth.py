"""The ground truth of a generated city (``truth.json``): what really happened, which payload
lines carry it, and which alerts the rules should raise.

- ``passes``: every true vehicle pass: ``pass_id``, ``device_id``, ``plate`` (null when
  unreadable), ``vehicle``, ``captured_offset`` (true capture time, seconds after ``start``),
  ``captured_at`` (the best read's capture time as the pipeline reads it, RFC 3339: its
  device's clock, corrected for a clock set ahead, ``streams.vendors.clock_ahead``),
  ``lines`` (every capture line that carries it: snapshots, re-pushes, cascade copies), ``late``
  (its payloads arrive after the pipeline's lateness), ``watchlist_entries`` (entry ids its plate
  matches).
- ``faces``: every face track (``track_id``, same fields bar plate and watchlist); ``alarms``
  likewise (``alarm_id``, ``alarm_type``); their ``captured_at`` is the device's clock.
- ``malformed_lines``: lines no adapter can read: each must become a dead letter.
- ``expected_alerts``: ``watchlist`` (pass id + entry id, for the on-time passes of watched
  plates), ``cloned_plate`` (plates), ``convoy`` (plate pairs, sorted), and ``tolerated``: alerts
  that are neither right nor wrong (a watched plate's late pass, or a pair or plate whose
  figures sit within a margin of a rule's threshold).
- ``late_passes``: the ids of the late passes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from streams.canonical.models import rfc3339_millis

VERSION = 1


@dataclass(frozen=True, slots=True)
class TruePass:
    pass_id: str
    device_id: str
    plate: str | None
    vehicle: int
    captured_offset: float
    captured_at: datetime
    lines: tuple[int, ...]
    late: bool
    watchlist_entries: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TrueFace:
    track_id: str
    device_id: str
    captured_offset: float
    captured_at: datetime
    lines: tuple[int, ...]
    late: bool


@dataclass(frozen=True, slots=True)
class TrueAlarm:
    alarm_id: str
    device_id: str
    alarm_type: str
    captured_offset: float
    captured_at: datetime
    lines: tuple[int, ...]
    late: bool


Pair = tuple[str, str]


@dataclass(frozen=True)
class ExpectedAlerts:
    watchlist: tuple[tuple[str, str], ...] = ()  # (pass_id, entry_id)
    cloned_plate: tuple[str, ...] = ()
    convoy: tuple[Pair, ...] = ()
    tolerated_watchlist: tuple[str, ...] = ()  # pass ids
    tolerated_cloned_plate: tuple[str, ...] = ()
    tolerated_convoy: tuple[Pair, ...] = ()


@dataclass(frozen=True)
class Truth:
    start: datetime
    duration_seconds: float
    config: dict[str, Any]
    passes: tuple[TruePass, ...]
    faces: tuple[TrueFace, ...]
    alarms: tuple[TrueAlarm, ...]
    malformed_lines: tuple[int, ...]
    expected: ExpectedAlerts
    planted: dict[str, Any] = field(default_factory=dict)

    @property
    def late_passes(self) -> tuple[str, ...]:
        return tuple(p.pass_id for p in self.passes if p.late)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _pairs(items: Sequence[Sequence[str]]) -> tuple[Pair, ...]:
    return tuple((str(a), str(b)) for a, b in items)


def truth_to_json(truth: Truth) -> dict[str, Any]:
    expected = truth.expected
    return {
        "version": VERSION,
        "start": rfc3339_millis(truth.start),
        "duration_seconds": truth.duration_seconds,
        "config": truth.config,
        "passes": [
            {
                "pass_id": p.pass_id,
                "device_id": p.device_id,
                "plate": p.plate,
                "vehicle": p.vehicle,
                "captured_offset": p.captured_offset,
                "captured_at": rfc3339_millis(p.captured_at),
                "lines": list(p.lines),
                "late": p.late,
                "watchlist_entries": list(p.watchlist_entries),
            }
            for p in truth.passes
        ],
        "faces": [
            {
                "track_id": f.track_id,
                "device_id": f.device_id,
                "captured_offset": f.captured_offset,
                "captured_at": rfc3339_millis(f.captured_at),
                "lines": list(f.lines),
                "late": f.late,
            }
            for f in truth.faces
        ],
        "alarms": [
            {
                "alarm_id": a.alarm_id,
                "device_id": a.device_id,
                "alarm_type": a.alarm_type,
                "captured_offset": a.captured_offset,
                "captured_at": rfc3339_millis(a.captured_at),
                "lines": list(a.lines),
                "late": a.late,
            }
            for a in truth.alarms
        ],
        "malformed_lines": list(truth.malformed_lines),
        "expected_alerts": {
            "watchlist": [{"pass_id": p, "entry_id": e} for p, e in expected.watchlist],
            "cloned_plate": list(expected.cloned_plate),
            "convoy": [list(pair) for pair in expected.convoy],
            "tolerated": {
                "watchlist": list(expected.tolerated_watchlist),
                "cloned_plate": list(expected.tolerated_cloned_plate),
                "convoy": [list(pair) for pair in expected.tolerated_convoy],
            },
        },
        "late_passes": list(truth.late_passes),
        "planted": truth.planted,
    }


def truth_from_json(data: dict[str, Any]) -> Truth:
    if data.get("version") != VERSION:
        raise ValueError(f"truth version {data.get('version')!r}; this reader knows {VERSION}")
    alerts = data["expected_alerts"]
    tolerated = alerts.get("tolerated", {})
    return Truth(
        start=_time(data["start"]),
        duration_seconds=float(data["duration_seconds"]),
        config=data["config"],
        passes=tuple(
            TruePass(
                pass_id=p["pass_id"],
                device_id=p["device_id"],
                plate=p["plate"],
                vehicle=int(p["vehicle"]),
                captured_offset=float(p["captured_offset"]),
                captured_at=_time(p["captured_at"]),
                lines=tuple(p["lines"]),
                late=bool(p["late"]),
                watchlist_entries=tuple(p.get("watchlist_entries", ())),
            )
            for p in data["passes"]
        ),
        faces=tuple(
            TrueFace(
                track_id=f["track_id"],
                device_id=f["device_id"],
                captured_offset=float(f["captured_offset"]),
                captured_at=_time(f["captured_at"]),
                lines=tuple(f["lines"]),
                late=bool(f["late"]),
            )
            for f in data["faces"]
        ),
        alarms=tuple(
            TrueAlarm(
                alarm_id=a["alarm_id"],
                device_id=a["device_id"],
                alarm_type=a["alarm_type"],
                captured_offset=float(a["captured_offset"]),
                captured_at=_time(a["captured_at"]),
                lines=tuple(a["lines"]),
                late=bool(a["late"]),
            )
            for a in data["alarms"]
        ),
        malformed_lines=tuple(data["malformed_lines"]),
        expected=ExpectedAlerts(
            watchlist=tuple((w["pass_id"], w["entry_id"]) for w in alerts["watchlist"]),
            cloned_plate=tuple(alerts["cloned_plate"]),
            convoy=_pairs(alerts["convoy"]),
            tolerated_watchlist=tuple(tolerated.get("watchlist", ())),
            tolerated_cloned_plate=tuple(tolerated.get("cloned_plate", ())),
            tolerated_convoy=_pairs(tolerated.get("convoy", ())),
        ),
        planted=data.get("planted", {}),
    )


def write_truth(truth: Truth, path: Path) -> None:
    path.write_bytes(orjson.dumps(truth_to_json(truth)))


def read_truth(path: Path) -> Truth:
    data = orjson.loads(path.read_bytes())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a truth document")
    return truth_from_json(data)
