"""The rules chained in one process (``streams correlate``) on the scenario, stated outright."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from streams.canonical import PlateCapture
from streams.cli import main
from streams.correlate.config import RuleConfig
from streams.correlate.pipeline import Correlator, run_offline
from streams.correlate.records import Alert, Correlation
from streams.correlate.watchlist import watchlist_from_entries
from tests.correlate_scenario import (
    CONVOY_TARGET,
    POSITIONS,
    WATCHED,
    WATCHLIST_FILE,
    build,
    watchlist_entries,
)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _run(config: RuleConfig | None = None) -> list[Any]:
    scenario = build(T0)
    watchlist = watchlist_from_entries(watchlist_entries(T0))
    return list(run_offline(scenario.events, config or RuleConfig(), watchlist, T0))


def _unique(records: list[Any]) -> dict[str, Any]:
    return {r.event_id: r for r in records if getattr(r, "kind", "") in ("plate", "face", "alarm")}


def test_duplicates_collapse_to_the_best_read() -> None:
    records = _run()
    unique = _unique(records)
    assert len(unique) == 22 + 14  # 14 ticks
    assert len([r for r in records if getattr(r, "kind", "") in ("plate", "face", "alarm")]) == 36
    by_plate: dict[str | None, list[PlateCapture]] = {}
    for event in unique.values():
        if isinstance(event, PlateCapture):
            by_plate.setdefault(event.plate_number, []).append(event)
    # Three snapshots and a re-push: one pass, the 0.95 read, two absorbed.
    (pass1,) = by_plate["沪A11111"]
    assert pass1.confidence == 0.95
    assert len(pass1.absorbed_event_ids) == 2
    # Camera and platform cascade: one pass, the camera's read kept.
    (cascade,) = by_plate["沪B22222"]
    assert cascade.source == "hikvision-isapi"
    assert len(cascade.absorbed_event_ids) == 1
    # One OCR confusion apart: one pass with the better read.
    assert "沪C3333B" not in by_plate
    assert len(by_plate["沪C33338"][0].absorbed_event_ids) == 1
    # The face track: one capture, the best quality, with the track's span.
    faces = [e for e in unique.values() if e.kind == "face" and e.track_id == "track-1"]
    assert len(faces) == 1
    assert faces[0].quality == 0.85
    assert faces[0].appeared_at == datetime(2026, 3, 2, 8, 8, 20, tzinfo=UTC)


def test_late_events_are_passed_on_flagged() -> None:
    scenario = build(T0)
    unique = _unique(_run())
    assert {e for e, ev in unique.items() if ev.late} == set(scenario.late_ids)
    assert all(not unique[e].absorbed_event_ids for e in scenario.late_ids)


def test_each_rule_fires_exactly_where_it_should() -> None:
    records = _run()
    alerts = [r for r in records if isinstance(r, Alert)]
    assert Counter(a.rule for a in alerts) == {
        "watchlist": 5,
        "cloned_plate": 1,
        "convoy": 1,
        "alarm_context": 1,
    }
    watch = sorted(
        (a for a in alerts if a.rule == "watchlist" and a.plate_numbers == [WATCHED]),
        key=lambda a: a.late,
    )
    assert [a.late for a in watch] == [False, True]  # the pass, and the late burst (flagged)
    assert watch[0].priority == 1
    # The convoy target: one alert per pass (three devices), priority from its entry.
    target = [a for a in alerts if a.rule == "watchlist" and a.plate_numbers == [CONVOY_TARGET]]
    assert len({a.device_ids[0] for a in target}) == 3
    assert {a.priority for a in target} == {2}
    (cloned,) = (a for a in alerts if a.rule == "cloned_plate")
    assert cloned.plate_numbers == ["沪E55555"]
    assert len(cloned.evidence) == 2
    assert float(cloned.details["speed_kmh"]) > 250
    (convoy,) = (a for a in alerts if a.rule == "convoy")
    assert sorted(convoy.plate_numbers) == ["沪F66666", "沪G77777"]
    (context,) = (a for a in alerts if a.rule == "alarm_context")
    assert context.plate_numbers == ["沪J99999"]
    assert context.evidence[0].kind == "alarm"
    (driver,) = (r for r in records if isinstance(r, Correlation))
    assert driver.relation == "person_vehicle"
    assert driver.plate_numbers == ["沪H88888"]


def test_alert_ids_do_not_depend_on_when_the_run_happens() -> None:
    first = {a.alert_id for a in _run() if isinstance(a, Alert)}
    second = {a.alert_id for a in _run() if isinstance(a, Alert)}
    assert first == second
    assert len(first) == 8


def test_every_pair_mode_finds_the_convoy_without_the_watchlist() -> None:
    scenario = build(T0)
    every_pair = RuleConfig(convoy_watchlisted_only=False)
    alerts = [
        r
        for r in run_offline(scenario.events, every_pair, watchlist_from_entries([]), T0)
        if isinstance(r, Alert)
    ]
    assert [sorted(a.plate_numbers) for a in alerts if a.rule == "convoy"] == [
        ["沪F66666", "沪G77777"]
    ]
    restricted = [
        r
        for r in run_offline(scenario.events, RuleConfig(), watchlist_from_entries([]), T0)
        if isinstance(r, Alert)
    ]
    assert not [a for a in restricted if a.rule == "convoy"]


def test_a_lower_speed_limit_finds_more_cloned_plates() -> None:
    # 沪F66666 drives 2.2 km in two minutes (66 km/h): a clone only under a 50 km/h limit.
    slow = RuleConfig(max_speed_kmh=50.0)
    rules = Counter(a.rule for a in _run(slow) if isinstance(a, Alert))
    assert rules["cloned_plate"] > 1


def test_cli_prints_unique_events_and_alerts_as_json_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = build(T0)
    events = tmp_path / "events.jsonl"
    # Positions come from the registry here, as when normalize ran without one.
    lines = [e.model_copy(update={"position": None}).model_dump_json() for e in scenario.events]
    lines.insert(3, json.dumps({"kind": "dead_letter", "reason": "not a payload"}))
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    devices = tmp_path / "devices.csv"
    rows = ["device_id,name,vendor,lat,lon,coord_system,timezone"]
    rows += [
        f"{d},cam {d[-2:]},hikvision,{p.lat},{p.lon},wgs84,Asia/Shanghai"
        for d, p in POSITIONS.items()
    ]
    devices.write_text("\n".join(rows) + "\n", encoding="utf-8")
    watchlist = tmp_path / "watchlist.txt"
    watchlist.write_text(WATCHLIST_FILE, encoding="utf-8")

    assert (
        main(["correlate", "--devices", str(devices), "--watchlist", str(watchlist), str(events)])
        == 0
    )
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    alerts = [o for o in out if o["kind"] == "alert"]
    assert Counter(a["rule"] for a in alerts) == {
        "watchlist": 5,
        "cloned_plate": 1,
        "convoy": 1,
        "alarm_context": 1,
    }
    for alert in alerts:
        assert {"alert_id", "priority", "plate_numbers", "event_ids"} <= set(alert)
    assert len([o for o in out if o["kind"] in ("plate", "face", "alarm")]) == 36


def test_cli_reports_a_bad_watchlist_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    watchlist = tmp_path / "watchlist.txt"
    watchlist.write_text("沪A12345\n沪A1,zero\n", encoding="utf-8")
    events = tmp_path / "events.jsonl"
    events.write_text("", encoding="utf-8")
    assert main(["correlate", "--watchlist", str(watchlist), str(events)]) == 2
    assert "line 2" in capsys.readouterr().err


@pytest.mark.parametrize("batch", [1, 7, 40, 1000])
def test_batching_does_not_change_the_results(batch: int) -> None:
    """The worker closes windows once per batch; how input is cut must not matter."""

    def ids(records: list[Any]) -> set[str]:
        return {
            getattr(r, "alert_id", None) or getattr(r, "correlation_id", None) or r.event_id
            for r in records
        }

    scenario = build(T0)
    watchlist = watchlist_from_entries(watchlist_entries(T0))
    correlator = Correlator(RuleConfig(), watchlist)
    records: list[Any] = []
    for i in range(0, len(scenario.events), batch):
        records += correlator.feed_batch(scenario.events[i : i + batch], T0)
    records += correlator.finish(T0)
    assert ids(records) == ids(_run())
    assert len(records) == len(_run())


def test_a_driver_is_found_when_face_and_plate_windows_close_apart() -> None:
    # The plate's window (5 s) closes before the face track's (10 s); the face must still
    # find the plate when its own window closes much later.
    from datetime import timedelta

    from streams.canonical import FaceCapture, TimeProvenance

    def at(seconds: float) -> datetime:
        return T0 + timedelta(seconds=seconds)

    common = {"source": "dahua-cgi", "time_source": TimeProvenance.SOURCE_OFFSET}
    face = FaceCapture(
        event_id="face", device_id="d5", captured_at=at(501.5), received_at=at(502), **common
    )
    plate = PlateCapture(
        event_id="plate",
        device_id="d5",
        captured_at=at(502),
        received_at=at(502.5),
        plate_number="沪H88888",
        **common,
    )

    def other(name: str, seconds: float) -> PlateCapture:
        return PlateCapture(
            event_id=name,
            device_id="d9",
            captured_at=at(seconds),
            received_at=at(seconds),
            plate_number="沪Q12345",
            **common,
        )

    correlator = Correlator(RuleConfig(), watchlist_from_entries([]))
    records: list[Any] = []
    for event in (face, plate, other("tick1", 518), other("tick2", 600)):
        records += correlator.feed(event, T0)
    drivers = [r for r in records if isinstance(r, Correlation)]
    assert [d.event_ids for d in drivers] == [["face", "plate"]]
