"""The load test's scorer on a small hand-made truth: what counts as right, wrong, tolerated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from loadtest.captures import CaptureLine
from loadtest.score import (
    AlertRecord,
    LineEvents,
    UniqueEvent,
    alert_record_of,
    line_event_ids,
    score,
    unique_event_of,
)
from loadtest.truth import ExpectedAlerts, TrueAlarm, TrueFace, TruePass, Truth
from streams.correlate.records import Alert

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
FIXTURES = Path(__file__).resolve().parents[1] / "vendors" / "fixtures"


def _pass(n: int, plate: str | None, lines: tuple[int, ...], **extra: Any) -> TruePass:
    return TruePass(
        pass_id=f"P{n}",
        device_id=f"dev{n % 3}",
        plate=plate,
        vehicle=n,
        captured_offset=float(n),
        captured_at=T0 + timedelta(seconds=n),
        lines=lines,
        late=extra.pop("late", False),
        watchlist_entries=extra.pop("entries", ()),
    )


TRUTH = Truth(
    start=T0,
    duration_seconds=3600.0,
    config={},
    passes=(
        _pass(1, "浙A12345", (0, 1, 2), entries=("file:浙A12345",)),  # 2 snapshots + re-push
        _pass(2, "浙B77777", (3,)),
        _pass(3, None, (4,)),
        _pass(4, "浙A12345", (5,), late=True, entries=("file:浙A12345",)),
        _pass(5, "沪C88888", (6, 7)),
    ),
    faces=(TrueFace("F1", "dev1", 9.0, T0, (8, 9), False),),
    alarms=(TrueAlarm("A1", "dev2", "intrusion", 10.0, T0, (10,), False),),
    malformed_lines=(11, 12),
    expected=ExpectedAlerts(
        watchlist=(("P1", "file:浙A12345"),),
        cloned_plate=("沪C88888",),
        convoy=(("浙A12345", "浙B77777"),),
        tolerated_watchlist=("P4",),
        tolerated_cloned_plate=("浙B77777",),
        tolerated_convoy=(("沪C88888", "浙B77777"),),
    ),
)
LINES = LineEvents(
    {
        0: ["e1a"],
        1: ["e1b"],
        2: ["e1a"],
        3: ["e2"],
        4: ["e3"],
        5: ["e4"],
        6: ["e5"],
        7: ["e5c"],
        8: ["f1"],
        9: ["f1"],
        10: ["a1"],
        11: [],
        12: [],
    },
    frozenset({11, 12}),
)


def _plate(event_id: str, plate: str | None, late: bool = False) -> UniqueEvent:
    return UniqueEvent(event_id, "plate", "dev", plate, late)


PERFECT_EVENTS = [
    _plate("e1a", "浙A12345"),
    _plate("e2", "浙B77777"),
    _plate("e3", None),
    _plate("e4", "浙A12345", late=True),
    _plate("e5", "沪C88888"),
    UniqueEvent("f1", "face", "dev1"),
    UniqueEvent("a1", "alarm", "dev2"),
]
PERFECT_ALERTS = [
    AlertRecord("watchlist", "w1", ("浙A12345",), ("e1b",), "file:浙A12345"),
    AlertRecord("cloned_plate", "c1", ("沪C88888",), ("e5", "x")),
    AlertRecord("cloned_plate", "c2", ("沪C88888",), ("e5", "y")),  # another impossible pair
    AlertRecord("convoy", "v1", ("浙B77777", "浙A12345"), ("e1a", "e2")),
]


def test_a_perfect_run_scores_one_everywhere() -> None:
    result = score(TRUTH, LINES, PERFECT_EVENTS, PERFECT_ALERTS)
    for kind in ("plate", "face", "alarm"):
        assert result["dedup"][kind]["precision"] == 1.0
        assert result["dedup"][kind]["recall"] == 1.0
    assert result["dedup"]["plate"]["unique_events"] == 5
    assert result["dedup"]["plate"]["wrong_plate_number"] == 0
    for rule in ("watchlist", "cloned_plate", "convoy"):
        assert result["alerts"][rule]["precision"] == 1.0, rule
        assert result["alerts"][rule]["recall"] == 1.0, rule
    assert result["alerts"]["cloned_plate"]["right"] == 2
    assert result["alerts"]["watchlist"]["matched_by"] == "pass and entry"
    assert result["late"] == {
        "ratio": 1.0,
        "late_passes": 1,
        "landed": 1,
        "landed_flagged_late": 1,
    }
    assert result["dead_letters"]["ratio"] == 1.0
    assert result["dead_letters"]["unexpected"] == 0
    assert result["event_ids_claimed_twice"] == 0


def test_two_unique_events_for_one_pass_cost_precision_not_recall() -> None:
    events = [*PERFECT_EVENTS, _plate("e1b", "浙A12345"), _plate("e5c", "沪C88888")]
    plate = score(TRUTH, LINES, events, PERFECT_ALERTS)["dedup"]["plate"]
    assert plate["precision"] == pytest.approx(5 / 7)
    assert plate["recall"] == 1.0
    assert plate["events_of_an_item_already_hit"] == 2


def test_an_event_is_counted_once_by_id_and_unknown_ids_are_wrong() -> None:
    events = [*PERFECT_EVENTS, _plate("e2", "浙B77777"), _plate("nowhere", "浙A00000")]
    plate = score(TRUTH, LINES, events, PERFECT_ALERTS)["dedup"]["plate"]
    assert plate["unique_events"] == 6
    assert plate["events_of_no_true_item"] == 1
    assert plate["precision"] == pytest.approx(5 / 6)


def test_missed_passes_and_a_misread_best_read() -> None:
    events = [e for e in PERFECT_EVENTS if e.event_id not in ("e2", "f1")]
    events[0] = _plate("e1a", "浙A1234S")
    result = score(TRUTH, LINES, events, PERFECT_ALERTS)
    assert result["dedup"]["plate"]["recall"] == pytest.approx(4 / 5)
    assert result["dedup"]["plate"]["wrong_plate_number"] == 1
    assert result["dedup"]["face"]["recall"] == 0.0
    assert result["dedup"]["face"]["precision"] is None  # nothing landed: nothing to divide


def test_watchlist_alerts_repeated_late_and_unknown() -> None:
    alerts = [
        *PERFECT_ALERTS,
        AlertRecord("watchlist", "w2", ("浙A12345",), ("e1a",), "file:浙A12345"),  # same pass
        AlertRecord("watchlist", "w3", ("浙A12345",), ("e4",), "file:浙A12345"),  # late pass
        AlertRecord("watchlist", "w4", ("浙B77777",), ("e2",), "file:浙B*"),  # not watched
        AlertRecord("watchlist", "w5", ("浙A12345",), ("zzz",), "file:浙A12345"),  # no evidence
    ]
    watch = score(TRUTH, LINES, PERFECT_EVENTS, alerts)["alerts"]["watchlist"]
    assert (watch["right"], watch["wrong"], watch["tolerated"]) == (1, 3, 1)
    assert watch["precision"] == pytest.approx(1 / 4)
    assert watch["wrong_examples"] == ["w2", "w4", "w5"]
    assert watch["recall"] == 1.0


def test_watchlist_alerts_without_entry_ids_match_by_pass() -> None:
    alerts = [AlertRecord("watchlist", "w1", ("浙A12345",), ("e1b",))]
    watch = score(TRUTH, LINES, PERFECT_EVENTS, alerts)["alerts"]["watchlist"]
    assert watch["matched_by"] == "pass"
    assert watch["precision"] == 1.0
    assert watch["recall"] == 1.0


def test_cloned_plate_and_convoy_match_by_plate_and_pair() -> None:
    alerts = [
        AlertRecord("cloned_plate", "c1", ("浙B77777",), ()),  # tolerated (near the threshold)
        AlertRecord("cloned_plate", "c2", ("浙Z99999",), ()),  # wrong
        AlertRecord("convoy", "v1", ("沪C88888", "浙B77777"), ()),  # tolerated
        AlertRecord("convoy", "v2", ("浙A12345", "沪C88888"), ()),  # wrong
    ]
    result = score(TRUTH, LINES, PERFECT_EVENTS, alerts)["alerts"]
    cloned, convoy = result["cloned_plate"], result["convoy"]
    assert (cloned["right"], cloned["wrong"], cloned["tolerated"]) == (0, 1, 1)
    assert cloned["precision"] == 0.0
    assert cloned["recall"] == 0.0
    assert cloned["missed"] == ["沪C88888"]
    assert cloned["wrong_examples"] == ["浙Z99999"]
    assert (convoy["right"], convoy["wrong"], convoy["tolerated"]) == (0, 1, 1)
    assert convoy["missed"] == [["浙A12345", "浙B77777"]]


def test_dead_letters_late_and_plain_mapping_input() -> None:
    plain = {line: list(ids) for line, ids in LINES.events.items()}
    events = [e for e in PERFECT_EVENTS if e.event_id != "e4"]
    result = score(TRUTH, plain, events, [], dead_letters=[11, 3])
    assert result["dead_letters"] == {
        "ratio": 0.5,
        "malformed_lines": 2,
        "dead_lettered": 1,
        "unexpected": 1,
    }
    assert result["late"]["ratio"] == 0.0
    assert result["late"]["landed"] == 0
    assert result["alerts"]["watchlist"]["precision"] is None
    assert result["alerts"]["watchlist"]["recall"] == 0.0


def test_inputs_as_rows_and_records() -> None:
    rows = [
        {"event_id": "e1a", "kind": "plate", "device_id": "d", "plate_number": "浙A12345",
         "late": 0, "absorbed_event_ids": ["e1b"]},
        {"event_id": "f1", "kind": "face", "device_id": "d", "plate_number": "", "late": 0},
    ]  # fmt: skip
    alert = Alert(
        alert_id="w1",
        rule="watchlist",
        priority=1,
        subject="浙A12345",
        occurred_at=T0,
        raised_at=T0,
        plate_numbers=["浙A12345"],
        event_ids=["e1a"],
        watchlist_entry_id="file:浙A12345",
    )
    assert unique_event_of(rows[0]).absorbed_event_ids == ("e1b",)
    assert unique_event_of(rows[1]).plate_number is None
    assert alert_record_of(alert).event_ids == ("e1a",)
    result = score(TRUTH, LINES, rows, [alert, {"rule": "convoy", "alert_id": "v"}])
    assert result["dedup"]["plate"]["true_items_hit"] == 1
    assert result["alerts"]["watchlist"]["right"] == 1
    assert result["alerts"]["convoy"]["wrong"] == 1


def test_line_event_ids_normalize_like_the_pipeline() -> None:
    body = (FIXTURES / "hikvision-isapi" / "anpr_isapi_cn.xml").read_bytes()
    lines = [
        CaptureLine(0, "hikvision-isapi", "k", 1.0, body, "application/xml"),
        CaptureLine(1, "hikvision-isapi", "k", 2.0, body, "application/xml"),
        CaptureLine(2, "gat1400", "k", 3.0, b"\x93garbage", "application/json", True),
        CaptureLine(3, "dahua-cgi", "33010600001320000001", 4.0, b"Heartbeat", "text/plain"),
    ]
    found = line_event_ids(lines, T0)
    assert len(found.events[0]) == 1
    assert found.events[0] == found.events[1]
    assert found.events[2] == []
    assert found.events[3] == []
    assert found.dead_letters == frozenset({2})  # a heartbeat is skipped, not dead
