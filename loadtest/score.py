"""Accuracy of a run against a city's ground truth: pure functions over what the run produced.

Inputs (the shapes below; :func:`score` also takes mappings with the same keys, e.g.
warehouse rows, and the canonical events and ``Alert`` records themselves):

- ``LineEvents``: for each capture line, the event ids it normalizes to (``events``), and the
  lines that became dead letters. :func:`line_event_ids` computes it the way the pipeline does
  (``streams.vendors.normalize`` with received_at = start + at, key = the line's device id).
- ``UniqueEvent``: each unique event that landed (after deduplication).
- ``AlertRecord``: each alert that fired.

Matching:

- dedup: a unique event belongs to the true pass (face track, alarm) whose lines produced its
  event id. Precision = distinct true items hit / unique events (each event id counted once);
  recall = true items hit / true items. ``wrong_plate_number`` counts unique plate events whose
  plate is not their pass's (a misread won over the best read).
- watchlist: per pass, through the alert's evidence event ids, and per (pass, entry) when every
  alert names its entry. Alerts on a watched plate's late pass are tolerated (neither right nor
  wrong); a second alert for the same key counts as wrong.
- cloned_plate: per plate. Every alert on an expected plate is right (the rule raises one per
  impossible pair of sightings); recall counts plates.
- convoy: per plate pair (sorted). Every alert on an expected pair is right (a pair may alert
  again after a quiet convoy window); recall counts pairs.
- late: late true passes with a landed unique event / late true passes.
- dead letters: malformed lines that became dead letters / malformed lines; any other line that
  became one is counted as unexpected.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from loadtest.truth import Truth
from streams.canonical import CanonicalEvent, PlateCapture
from streams.correlate.records import Alert
from streams.domain.devices import DeviceRegistry
from streams.vendors import normalize
from streams.vendors.base import Context, Normalized, RawPayload

KINDS = ("plate", "face", "alarm")
RULES = ("watchlist", "cloned_plate", "convoy")


@dataclass(frozen=True, slots=True)
class UniqueEvent:
    event_id: str
    kind: str  # plate, face or alarm
    device_id: str
    plate_number: str | None = None
    late: bool = False
    absorbed_event_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AlertRecord:
    rule: str
    alert_id: str
    plate_numbers: tuple[str, ...] = ()
    event_ids: tuple[str, ...] = ()
    watchlist_entry_id: str | None = None


@dataclass(frozen=True)
class LineEvents:
    events: dict[int, list[str]]  # capture line -> the event ids it normalizes to
    dead_letters: frozenset[int] = frozenset()  # lines the normalize stage dead-letters


class CaptureLike(Protocol):
    """A capture line: ``loadtest.captures.CaptureLine`` or ``streams.replay.Capture``."""

    @property
    def line(self) -> int: ...
    @property
    def source(self) -> str: ...
    @property
    def device_id(self) -> str: ...
    @property
    def at(self) -> float: ...
    @property
    def body(self) -> bytes: ...
    @property
    def content_type(self) -> str | None: ...


UniqueInput = UniqueEvent | CanonicalEvent | Mapping[str, Any]
AlertInput = AlertRecord | Alert | Mapping[str, Any]


def unique_event_of(event: UniqueInput) -> UniqueEvent:
    """The scorer's view of a landed unique event (a canonical event or a mapping of its
    fields, such as a warehouse row)."""
    if isinstance(event, UniqueEvent):
        return event
    if isinstance(event, Mapping):
        return UniqueEvent(
            event_id=str(event["event_id"]),
            kind=str(event["kind"]),
            device_id=str(event.get("device_id", "")),
            plate_number=event.get("plate_number") or None,
            late=bool(event.get("late", False)),
            absorbed_event_ids=tuple(event.get("absorbed_event_ids") or ()),
        )
    return UniqueEvent(
        event_id=event.event_id,
        kind=event.kind,
        device_id=event.device_id,
        plate_number=event.plate_number if isinstance(event, PlateCapture) else None,
        late=event.late,
        absorbed_event_ids=tuple(event.absorbed_event_ids),
    )


def alert_record_of(alert: AlertInput) -> AlertRecord:
    """The scorer's view of an alert (an ``Alert`` or a mapping of its fields)."""
    if isinstance(alert, AlertRecord):
        return alert
    if isinstance(alert, Mapping):
        return AlertRecord(
            rule=str(alert["rule"]),
            alert_id=str(alert["alert_id"]),
            plate_numbers=tuple(alert.get("plate_numbers") or ()),
            event_ids=tuple(alert.get("event_ids") or ()),
            watchlist_entry_id=alert.get("watchlist_entry_id"),
        )
    return AlertRecord(
        rule=alert.rule,
        alert_id=alert.alert_id,
        plate_numbers=tuple(alert.plate_numbers),
        event_ids=tuple(alert.event_ids),
        watchlist_entry_id=alert.watchlist_entry_id,
    )


# --- normalizing the capture lines -----------------------------------------------------------


def raw_payload(capture: CaptureLike, start: datetime) -> RawPayload:
    """The adapter input a capture line becomes on ``raw.<source>``: received at start + at,
    keyed by its device id, with its Content-Type."""
    return RawPayload(
        source=capture.source,
        body=capture.body,
        received_at=start + timedelta(seconds=capture.at),
        key=capture.device_id,
        content_type=capture.content_type,
    )


def normalize_captures(
    captures: Iterable[CaptureLike], start: datetime, devices: DeviceRegistry | None = None
) -> Iterator[tuple[CaptureLike, Normalized]]:
    """Each line with what its adapter makes of it, as the normalize stage runs it."""
    ctx = Context(devices=devices)
    for capture in captures:
        yield capture, normalize(raw_payload(capture, start), ctx)


def line_event_ids(
    captures: Iterable[CaptureLike], start: datetime, devices: DeviceRegistry | None = None
) -> LineEvents:
    """The event ids of each line (``events``) and the lines that became dead letters (any
    rejection: the normalize stage dead-letters every rejected record). Event ids do not
    depend on the registry; positions and zones do (every camera here is Asia/Shanghai)."""
    ids: dict[int, list[str]] = {}
    dead: set[int] = set()
    for capture, result in normalize_captures(captures, start, devices):
        ids[capture.line] = [event.event_id for event in result.events]
        if result.rejected:
            dead.add(capture.line)
    return LineEvents(ids, frozenset(dead))


# --- scoring ---------------------------------------------------------------------------------


def _ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


def _owners(truth: Truth, line_events: LineEvents) -> tuple[dict[str, tuple[str, str]], int]:
    """Event id -> (kind, true item id); and how many ids two items claim (a generator bug)."""
    owners: dict[str, tuple[str, str]] = {}
    conflicts = 0
    items: list[tuple[str, str, tuple[int, ...]]] = [
        *(("plate", p.pass_id, p.lines) for p in truth.passes),
        *(("face", f.track_id, f.lines) for f in truth.faces),
        *(("alarm", a.alarm_id, a.lines) for a in truth.alarms),
    ]
    for kind, item, lines in items:
        for line in lines:
            for event_id in line_events.events.get(line, ()):
                known = owners.setdefault(event_id, (kind, item))
                if known != (kind, item):
                    conflicts += 1
    return owners, conflicts


def _dedup(
    kind: str,
    truth_items: Sequence[str],
    events: Iterable[UniqueEvent],
    owners: Mapping[str, tuple[str, str]],
) -> tuple[dict[str, Any], set[str]]:
    seen: set[str] = set()
    hit: set[str] = set()
    unmatched = repeated = 0
    for event in events:
        if event.kind != kind or event.event_id in seen:
            continue
        seen.add(event.event_id)
        owner = owners.get(event.event_id)
        if owner is None or owner[0] != kind:
            unmatched += 1
        elif owner[1] in hit:
            repeated += 1
        else:
            hit.add(owner[1])
    result = {
        "precision": _ratio(len(hit), len(seen)),
        "recall": _ratio(len(hit), len(truth_items)),
        "unique_events": len(seen),
        "true_items": len(truth_items),
        "true_items_hit": len(hit),
        "events_of_an_item_already_hit": repeated,
        "events_of_no_true_item": unmatched,
    }
    return result, hit


def _watchlist(
    truth: Truth, alerts: Sequence[AlertRecord], owners: Mapping[str, tuple[str, str]]
) -> dict[str, Any]:
    by_entry = bool(alerts) and all(a.watchlist_entry_id for a in alerts)
    expected: set[tuple[str, str | None]] = {
        (p, e if by_entry else None) for p, e in truth.expected.watchlist
    }
    tolerated_passes = set(truth.expected.tolerated_watchlist)
    found: set[tuple[str, str | None]] = set()
    right = wrong = tolerated = 0
    wrong_ids: list[str] = []
    for alert in alerts:
        passes = [owners[e][1] for e in alert.event_ids if owners.get(e, ("",))[0] == "plate"]
        key = (passes[0], alert.watchlist_entry_id if by_entry else None) if passes else None
        if key is not None and key[0] in tolerated_passes:
            tolerated += 1
        elif key is not None and key in expected and key not in found:
            found.add(key)
            right += 1
        else:
            wrong += 1
            if len(wrong_ids) < 5:
                wrong_ids.append(alert.alert_id)
    return _figures(
        len(alerts),
        right,
        wrong,
        tolerated,
        len(expected),
        len(found),
        matched_by="pass and entry" if by_entry else "pass",
        wrong_examples=wrong_ids,
        missed=sorted(p for p, _e in expected - found)[:10],
    )


def _figures(
    alerts: int, right: int, wrong: int, tolerated: int, expected: int, found: int, **more: Any
) -> dict[str, Any]:
    """A rule's precision (right among the alerts not tolerated) and recall, with counts."""
    return {
        "precision": _ratio(right, right + wrong),
        "recall": _ratio(found, expected),
        "alerts": alerts,
        "right": right,
        "wrong": wrong,
        "tolerated": tolerated,
        "expected": expected,
        "found": found,
        **more,
    }


def _by_subject(
    alerts: Sequence[AlertRecord],
    subject: Any,
    expected: set[Any],
    tolerated_subjects: set[Any],
) -> dict[str, Any]:
    found: set[Any] = set()
    right = wrong = tolerated = 0
    missed_examples: list[Any] = []
    for alert in alerts:
        key = subject(alert)
        if key in expected:
            found.add(key)
            right += 1
        elif key in tolerated_subjects:
            tolerated += 1
        else:
            wrong += 1
            if len(missed_examples) < 5:
                missed_examples.append(key)
    return _figures(
        len(alerts),
        right,
        wrong,
        tolerated,
        len(expected),
        len(found),
        wrong_examples=[list(k) if isinstance(k, tuple) else k for k in missed_examples],
        missed=sorted(list(k) if isinstance(k, tuple) else k for k in expected - found)[:10],
    )


def _wrong_plates(
    truth: Truth, events: Sequence[UniqueEvent], owners: Mapping[str, tuple[str, str]]
) -> int:
    """Unique plate events of a true pass whose plate is not the pass's: the best read lost."""
    plates = {p.pass_id: p.plate for p in truth.passes}
    wrong: set[str] = set()
    for event in events:
        owner = owners.get(event.event_id)
        mine = event.kind == "plate" and owner is not None and owner[0] == "plate"
        if mine and owner is not None and event.plate_number != plates[owner[1]]:
            wrong.add(event.event_id)
    return len(wrong)


def _plate(alert: AlertRecord) -> str | None:
    return alert.plate_numbers[0] if alert.plate_numbers else None


def _pair(alert: AlertRecord) -> tuple[str, ...]:
    return tuple(sorted(alert.plate_numbers[:2]))


def score(
    truth: Truth,
    line_events: LineEvents | Mapping[int, Sequence[str]],
    unique_events: Iterable[UniqueInput],
    alerts: Iterable[AlertInput],
    dead_letters: Iterable[int] | None = None,
) -> dict[str, Any]:
    """Dedup, alert, lateness and dead-letter figures of a run, with the counts behind every
    ratio (None when there is nothing to divide by). ``dead_letters`` adds to (or, with a plain
    mapping for ``line_events``, gives) the lines that became dead letters."""
    if not isinstance(line_events, LineEvents):
        line_events = LineEvents({line: list(ids) for line, ids in line_events.items()})
    dead = set(line_events.dead_letters) | set(dead_letters or ())
    owners, conflicts = _owners(truth, line_events)
    events = [unique_event_of(event) for event in unique_events]
    items = {
        "plate": [p.pass_id for p in truth.passes],
        "face": [f.track_id for f in truth.faces],
        "alarm": [a.alarm_id for a in truth.alarms],
    }
    dedup: dict[str, Any] = {}
    hits: dict[str, set[str]] = {}
    for kind in KINDS:
        dedup[kind], hits[kind] = _dedup(kind, items[kind], events, owners)
    dedup["plate"]["wrong_plate_number"] = _wrong_plates(truth, events, owners)
    by_rule: dict[str, list[AlertRecord]] = {rule: [] for rule in RULES}
    for alert in map(alert_record_of, alerts):
        by_rule.setdefault(alert.rule, []).append(alert)
    expected = truth.expected
    late = [p.pass_id for p in truth.passes if p.late]
    landed = [p for p in late if p in hits["plate"]]
    flagged = {
        owners[e.event_id][1]
        for e in events
        if e.late and e.event_id in owners and owners[e.event_id][0] == "plate"
    }
    malformed = set(truth.malformed_lines)
    return {
        "dedup": dedup,
        "alerts": {
            "watchlist": _watchlist(truth, by_rule["watchlist"], owners),
            "cloned_plate": _by_subject(
                by_rule["cloned_plate"],
                _plate,
                set(expected.cloned_plate),
                set(expected.tolerated_cloned_plate),
            ),
            "convoy": _by_subject(
                by_rule["convoy"],
                _pair,
                set(expected.convoy),
                set(expected.tolerated_convoy),
            ),
            "other_rules": {
                rule: len(found) for rule, found in by_rule.items() if rule not in RULES
            },
        },
        "late": {
            "ratio": _ratio(len(landed), len(late)),
            "late_passes": len(late),
            "landed": len(landed),
            "landed_flagged_late": len(flagged.intersection(landed)),
        },
        "dead_letters": {
            "ratio": _ratio(len(malformed & dead), len(malformed)),
            "malformed_lines": len(malformed),
            "dead_lettered": len(malformed & dead),
            "unexpected": len(dead - malformed),
        },
        "event_ids_claimed_twice": conflicts,
        "matching": {
            "dedup": "unique event -> the true item whose lines produced its event id",
            "watchlist": "per pass (and entry when alerts name it) via evidence event ids",
            "cloned_plate": "per plate",
            "convoy": "per sorted plate pair",
        },
    }
