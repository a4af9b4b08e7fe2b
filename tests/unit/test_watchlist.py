"""Watchlist: plate patterns, the entry index, face matching, the file format and the rule."""

from __future__ import annotations

from datetime import timedelta
from fnmatch import fnmatchcase
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.canonical.models import CanonicalEvent, FaceCapture, GeoPoint, PlateCapture
from streams.correlate.records import Alert, WatchlistEntry, digest_id
from streams.correlate.watchlist import (
    Watchlist,
    WatchlistRule,
    compile_plate_pattern,
    read_watchlist_file,
    watchlist_from_entries,
)
from tests.unit.correlate_builders import (
    CONFIG,
    NOW,
    T0,
    alarm_event,
    at,
    face_capture,
    plate_capture,
    resume_from_change_log,
)

POSITION = GeoPoint(lat=30.25, lon=120.16)


def plate_read(
    event_id: str, plate: str | None, seconds: float = 0.0, **extra: Any
) -> PlateCapture:
    device = extra.pop("device_id", "dev-1")
    return plate_capture(event_id, seconds, plate, device=device, position=POSITION, **extra)


def face(event_id: str, embedding: list[float] | None, seconds: float = 0.0) -> FaceCapture:
    return face_capture(event_id, seconds, "t1", device="dev-2", embedding=embedding)


def plate_entry(entry_id: str, pattern: str, priority: int = 3, **extra: Any) -> WatchlistEntry:
    return WatchlistEntry(
        entry_id=entry_id,
        target="plate",
        pattern=pattern,
        priority=priority,
        reason="stolen vehicle",
        created_at=T0,
        **extra,
    )


def face_entry(entry_id: str, embedding: list[float], threshold: float | None) -> WatchlistEntry:
    return WatchlistEntry(
        entry_id=entry_id,
        target="face",
        embedding=embedding,
        threshold=threshold,
        priority=1,
        reason="missing person",
        case_ref="case-7",
        created_at=T0,
    )


# ------------------------------------------------------------------------------------------
# patterns


def test_pattern_without_wildcards_is_the_canonical_plate() -> None:
    pattern = compile_plate_pattern("京a·I2345")
    assert pattern.exact == "京A12345"
    assert pattern.matches("京A12345")
    assert not pattern.matches("京A12346")


@pytest.mark.parametrize(
    ("pattern", "plate", "expected"),
    [
        ("京A*", "京A12345", True),
        ("京A*", "京A", True),  # '*' may be empty
        ("京A*", "沪A12345", False),
        ("京A1234?", "京A12345", True),
        ("京A1234?", "京A123456", False),
        ("*123*", "沪B12345", True),
        ("?A12345", "京A12345", True),
        ("京Ａ＊", "京A88888", True),  # full width, NFKC
        ("jing-a*", "JINGA1", True),  # upper-cased, separators dropped
        ("京A**5", "京A12345", True),
    ],
)
def test_wildcards(pattern: str, plate: str, expected: bool) -> None:
    compiled = compile_plate_pattern(pattern)
    assert compiled.exact is None
    assert compiled.matches(plate) is expected


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("", "empty"),
        ("  - ", "empty"),
        ("京A1", "not a valid plate"),
        ("*", "every plate"),
        ("*??*", "every plate"),
        ("京A#1*", "'#'"),
        ("A???????????", "no plate has more than 10"),
    ],
)
def test_invalid_patterns_say_why(pattern: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compile_plate_pattern(pattern)


_PLATE_CHARS = "京沪AB0123"


@given(
    st.text(alphabet=_PLATE_CHARS + "*?", min_size=1, max_size=8).filter(
        lambda p: bool(p.strip("*?")) and ("*" in p or "?" in p)
    ),
    st.text(alphabet=_PLATE_CHARS, min_size=0, max_size=9),
)
def test_wildcards_agree_with_fnmatch(pattern: str, plate: str) -> None:
    assert compile_plate_pattern(pattern).matches(plate) is fnmatchcase(plate, pattern)


# ------------------------------------------------------------------------------------------
# the index


def test_match_plate_sorts_by_priority_then_id_and_skips_expired() -> None:
    watchlist = watchlist_from_entries(
        [
            plate_entry("b", "京A12345", priority=2),
            plate_entry("a", "京A*", priority=2),
            plate_entry("c", "*345", priority=1),
            plate_entry("old", "京A12345", expires_at=at(10)),
            plate_entry("other", "沪A*"),
        ]
    )
    assert [e.entry_id for e in watchlist.match_plate("京A12345", at(0))] == ["c", "a", "b", "old"]
    # expires_at is exclusive: at that instant the entry no longer matches
    assert [e.entry_id for e in watchlist.match_plate("京A12345", at(10))] == ["c", "a", "b"]
    assert watchlist.match_plate("粤B00000", at(0)) == []
    assert watchlist.is_watched_plate("沪A00001", at(0))
    assert not watchlist.is_watched_plate("粤B00000", at(0))
    assert watchlist.has_plate_entries()


def test_apply_replaces_and_deletes_and_keeps_the_prefilter_current() -> None:
    watchlist = Watchlist()
    assert not watchlist.has_plate_entries()
    watchlist.apply("w", plate_entry("w", "京A*"))
    assert watchlist.is_watched_plate("京A11111", at(0))
    watchlist.apply("w2", plate_entry("w2", "京B*"))
    assert watchlist.is_watched_plate("京B11111", at(0))
    watchlist.apply("w", plate_entry("w", "京C*"))  # replace: the old pattern stops matching
    assert not watchlist.is_watched_plate("京A11111", at(0))
    assert watchlist.is_watched_plate("京C11111", at(0))
    watchlist.apply("w", None)
    watchlist.apply("w2", None)
    watchlist.apply("missing", None)
    assert not watchlist.has_plate_entries()
    assert watchlist.entries() == []
    watchlist.apply("e", plate_entry("e", "京A12345"))
    watchlist.apply("e", None)
    assert watchlist.match_plate("京A12345", at(0)) == []


def test_an_invalid_update_removes_the_previous_entry() -> None:
    watchlist = watchlist_from_entries([plate_entry("w", "京A12345")])
    with pytest.raises(ValueError, match="not a valid plate"):
        watchlist.apply("w", plate_entry("w", "京A1"))
    assert watchlist.entries() == []


@pytest.mark.parametrize(
    ("key", "entry", "message"),
    [
        ("x", plate_entry("y", "京A12345"), "stored under key"),
        ("x", WatchlistEntry(entry_id="x", target="plate", reason="r", created_at=T0), "pattern"),
        ("x", WatchlistEntry(entry_id="x", target="car", reason="r", created_at=T0), "target"),
        ("f", face_entry("f", [1.0, 0.0], None), "threshold"),
        ("f", face_entry("f", [], 0.5), "embedding"),
        ("f", face_entry("f", [0.0, 0.0], 0.5), "direction"),
    ],
)
def test_entries_that_cannot_match_are_rejected(
    key: str, entry: WatchlistEntry, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Watchlist().apply(key, entry)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    *("京A12345", "京A12346", "沪A12345"),  # exact
                    *("京A*", "京A123*", "京?1234?", "沪*"),  # by prefix
                    *("*45", "*2345", "?A12345"),  # by suffix
                    *("*2*", "?A*", "*A1234?"),  # floating
                ]
            ),
            st.integers(min_value=1, max_value=3),
            st.booleans(),
        ),
        max_size=12,
    ),
    st.sampled_from(["京A12345", "京A12346", "沪A12345", "京B12345", "粤B00045"]),
)
def test_match_plate_equals_a_scan_of_every_entry(
    specs: list[tuple[str, int, bool]], plate: str
) -> None:
    entries = [
        plate_entry(f"e{i}", pattern, priority, expires_at=at(5) if expired else None)
        for i, (pattern, priority, expired) in enumerate(specs)
    ]
    watchlist = watchlist_from_entries(entries)
    when = at(10)
    expected = sorted(
        (
            e
            for e in entries
            if compile_plate_pattern(e.pattern or "").matches(plate)
            and (e.expires_at is None or e.expires_at > when)
        ),
        key=lambda e: (e.priority, e.entry_id),
    )
    assert watchlist.match_plate(plate, when) == expected
    assert watchlist.is_watched_plate(plate, when) is bool(expected)


def test_match_face_by_cosine_similarity() -> None:
    watchlist = watchlist_from_entries(
        [
            face_entry("near", [1.0, 0.0, 0.0], 0.9),
            face_entry("far", [0.0, 1.0, 0.0], 0.5),
            face_entry("other-model", [1.0, 0.0], 0.1),
        ]
    )
    hits = watchlist.match_face([2.0, 0.1, 0.0], at(0))
    assert [(e.entry_id, round(s, 4)) for e, s in hits] == [("near", 0.9988)]
    assert watchlist.match_face([0.0, 0.0, 0.0], at(0)) == []
    assert not watchlist.has_plate_entries()


# ------------------------------------------------------------------------------------------
# the file format


def test_read_watchlist_file() -> None:
    text = "\ufeff# stolen\n京a12345\n\n  沪A*, 1 \n#京B*\n*888,2\n"
    entries = read_watchlist_file(text, created_at=T0)
    assert [(e.entry_id, e.pattern, e.priority) for e in entries] == [
        ("file:京A12345", "京A12345", 3),
        ("file:沪A*", "沪A*", 1),
        ("file:*888", "*888", 2),
    ]
    assert {e.reason for e in entries} == {"watchlist file"}
    assert {e.created_at for e in entries} == {T0}
    assert all(e.target == "plate" for e in entries)
    assert watchlist_from_entries(entries).is_watched_plate("沪A00001", T0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("京A12345\n京A1\n", "line 2: plate pattern '京A1' is not a valid plate"),
        ("京A12345,0\n", "line 1: priority must be an integer >= 1, got '0'"),
        ("# x\n京A12345,high\n", "line 2: priority must be an integer >= 1"),
        ("京A12345,1,2\n", "line 1: expected 'pattern' or 'pattern,priority'"),
        ("京A*\n\n京a*,2\n", "line 3: '京A\\*' is already on line 1"),
        ("*\n", "line 1: .*every plate"),
    ],
)
def test_read_watchlist_file_names_the_line(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_watchlist_file(text, created_at=T0)


# ------------------------------------------------------------------------------------------
# the rule


def rule_with(*entries: WatchlistEntry) -> WatchlistRule:
    return WatchlistRule(watchlist_from_entries(entries), CONFIG)


def test_plate_hit_alert() -> None:
    rule = rule_with(plate_entry("w1", "京A1234?", priority=1, case_ref="case-1"))
    read = plate_read("r1", "京A12345", 1.0)
    [alert] = rule.check(read, "r1", NOW)
    assert alert.alert_id == digest_id("watchlist", "w1", "r1")
    assert alert.rule == "watchlist"
    assert alert.priority == 1
    assert alert.subject == "京A12345"
    assert alert.occurred_at == read.captured_at
    assert alert.raised_at == NOW
    assert not alert.late
    assert alert.plate_numbers == ["京A12345"]
    assert alert.device_ids == ["dev-1"]
    assert alert.event_ids == ["r1"]
    assert [s.event_id for s in alert.evidence] == ["r1"]
    assert alert.evidence[0].position == POSITION
    assert alert.watchlist_entry_id == "w1"
    assert alert.reason == "stolen vehicle"
    assert alert.case_ref == "case-1"
    assert alert.details == {"pattern": "京A1234?", "anchor": "r1"}


def test_one_alert_per_entry_and_pass() -> None:
    rule = rule_with(plate_entry("w1", "京A12345"), plate_entry("w2", "京A*", priority=1))
    first = rule.check(plate_read("r1", "京A12345", 0.0), "r1", NOW)
    assert [a.watchlist_entry_id for a in first] == ["w2", "w1"]
    # later reads of the same pass (same anchor): nothing, even when a misread matches only one
    assert rule.check(plate_read("r2", "京A12345", 1.0), "r1", NOW) == []
    assert rule.check(plate_read("r3", "京A12845", 2.0), "r1", NOW) == []
    # another pass of the same plate
    again = rule.check(plate_read("r4", "京A12345", 60.0), "r4", NOW)
    assert {a.alert_id for a in again} == {
        digest_id("watchlist", "w1", "r4"),
        digest_id("watchlist", "w2", "r4"),
    }


def test_nothing_for_alarms_unreadable_plates_faces_without_embedding() -> None:
    rule = rule_with(plate_entry("w1", "京A*"), face_entry("f1", [1.0, 0.0], 0.5))
    assert rule.check(alarm_event("a1", 0.0), "a1", NOW) == []
    assert rule.check(plate_read("r1", None), "r1", NOW) == []
    assert rule.check(face("f1", None), "f1", NOW) == []
    assert rule.check(plate_read("r2", "沪A12345"), "r2", NOW) == []


def test_face_hit_alert_and_late_flag() -> None:
    rule = rule_with(face_entry("f1", [1.0, 0.0], 0.8))
    capture = face("c1", [0.9, 0.1], 3.0).model_copy(update={"late": True})
    [alert] = rule.check(capture, "c0", NOW)
    assert alert.alert_id == digest_id("watchlist", "f1", "c0")
    assert alert.subject == "f1"
    assert alert.plate_numbers == []
    assert alert.priority == 1
    assert alert.late
    assert alert.case_ref == "case-7"
    assert alert.details["similarity"] == "0.9939"
    assert alert.details["threshold"] == "0.8000"
    assert rule.check(face("c2", [1.0, 0.0], 4.0), "c0", NOW) == []


def test_expire_forgets_a_pass_after_its_memory() -> None:
    rule = rule_with(plate_entry("w1", "京A12345"))
    assert rule.check(plate_read("r1", "京A12345", 0.0), "r1", NOW)
    assert rule.check(plate_read("r2", "京A12345", 4.0), "r1", NOW) == []
    memory = CONFIG.plate_window + CONFIG.lateness + CONFIG.dedup_memory
    rule.expire(at(4) + memory)  # the later read extended the memory
    assert len(rule.fired) == 1
    rule.expire(at(4) + memory + timedelta(milliseconds=1))
    assert len(rule.fired) == 0
    assert [a.alert_id for a in rule.check(plate_read("r3", "京A12345", 9.0), "r1", NOW)] == [
        digest_id("watchlist", "w1", "r1")
    ]


# ------------------------------------------------------------------------------------------
# restore


def test_a_rule_rebuilt_from_its_change_log_continues_identically() -> None:
    entries = [plate_entry("w1", "京A*"), face_entry("f1", [1.0, 0.0], 0.5)]
    stream: list[tuple[CanonicalEvent, str]] = [
        (plate_read("r1", "京A12345", 0.0), "r1"),
        (face("c1", [1.0, 0.2], 1.0), "c1"),
        (plate_read("r2", "京A00001", 2.0), "r2"),
        (plate_read("r3", "京A12345", 3.0), "r1"),
        (face("c2", [1.0, 0.1], 4.0), "c1"),
        (plate_read("r4", "京A00001", 5.0), "r2"),
        (plate_read("r5", "京A77777", 900.0), "r5"),
        (plate_read("r6", "京A12345", 901.0), "r1"),
    ]

    def step(rule: WatchlistRule, item: tuple[CanonicalEvent, str]) -> list[Alert]:
        event, anchor = item
        rule.expire(event.received_at)
        return rule.check(event, anchor, NOW)

    resume_from_change_log(lambda: rule_with(*entries), step, stream, 3)
