"""The deduplication engine (streams.correlate.dedup): exact re-pushes, multi-snapshot passes,
face tracks, repeated alarms, late events, closing by stream time, and persisted state."""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.canonical.models import (
    Alarm,
    AlarmState,
    AlarmType,
    CanonicalEvent,
    FaceCapture,
    PlateCapture,
)
from streams.correlate.config import RuleConfig
from streams.correlate.dedup import Deduplicator, Offer, Verdict
from streams.domain.plates import one_confusion_apart
from tests.unit.correlate_builders import (
    CAMERA,
    CONFIG,
    ChangeLog,
    alarm_event,
    at,
    copy_tables,
    face_capture,
    plate_capture,
)

# CONFIG: lateness 10 s, plate window 5 s, face window 10 s, memory 10 min.
CASCADE = "gat1400"
PLATE = "浙A12345"
# Events are received this long after their capture unless a test says otherwise.
DELAY = 0.5


def plate(
    event_id: str,
    seconds: float,
    number: str | None = PLATE,
    *,
    delay: float = DELAY,
    **fields: Any,
) -> PlateCapture:
    """A plate read; ``fields``: device, lane, confidence, source."""
    return plate_capture(event_id, seconds, number, delay=delay, plate_raw=number, **fields)


def face(
    event_id: str,
    seconds: float,
    track: str | None = "track-1",
    *,
    appeared: float | None = None,
    disappeared: float | None = None,
    delay: float = DELAY,
    **fields: Any,
) -> FaceCapture:
    """A face capture, its track seen from ``appeared`` to ``disappeared`` (seconds) when given;
    ``fields``: device, quality, confidence, source."""
    return face_capture(
        event_id,
        seconds,
        track,
        delay=delay,
        appeared_at=None if appeared is None else at(appeared),
        disappeared_at=None if disappeared is None else at(disappeared),
        **fields,
    )


def alarm(
    event_id: str,
    seconds: float,
    *,
    channel: int | None = 1,
    alarm_type: AlarmType = AlarmType.INTRUSION,
    rule_name: str | None = "fence",
    state: AlarmState = AlarmState.START,
    delay: float = DELAY,
    **fields: Any,
) -> Alarm:
    """An alarm of channel 1's "fence" intrusion rule unless told otherwise; ``fields``: device,
    vendor_event_type."""
    return alarm_event(
        event_id,
        seconds,
        channel=channel,
        alarm_type=alarm_type,
        rule_name=rule_name,
        state=state,
        delay=delay,
        **fields,
    )


def offline(
    events: Iterable[CanonicalEvent], config: RuleConfig = CONFIG
) -> tuple[list[CanonicalEvent], Deduplicator]:
    """Offer everything, then flush: the unique events, on time and late."""
    dedup = Deduplicator(config)
    for event in events:
        dedup.offer(event)
    return dedup.flush(), dedup


def on_time(events: Iterable[CanonicalEvent]) -> list[CanonicalEvent]:
    return canonical(e for e in events if not e.late)


def by_id(events: Iterable[CanonicalEvent]) -> dict[str, CanonicalEvent]:
    return {event.event_id: event for event in events}


def canonical(events: Iterable[CanonicalEvent]) -> list[CanonicalEvent]:
    return sorted(events, key=lambda e: (e.captured_at, e.event_id, e.late))


# ---------------------------------------------------------------------------------------------
# exact duplicates


def test_exact_repush_is_dropped() -> None:
    dedup = Deduplicator(CONFIG)
    first = plate("e1", 0)
    assert dedup.offer(first) == Offer(Verdict.NEW, "e1", None)
    assert dedup.offer(first) == Offer(Verdict.DUPLICATE, "e1", None)
    # A redelivery is the same id, whatever else it says.
    assert dedup.offer(plate("e1", 1, "沪B99999")).verdict is Verdict.DUPLICATE
    assert dedup.counts["duplicate"] == 2
    assert dedup.flush() == [first]


def test_repush_after_close_is_dropped_until_memory_expires() -> None:
    dedup = Deduplicator(CONFIG)
    dedup.offer(plate("e1", 0))
    closed_at = at(0) + CONFIG.plate_window + CONFIG.lateness
    assert [e.event_id for e in dedup.advance(closed_at)] == ["e1"]
    # Remembered while the memory lasts, even when the re-push comes in late.
    assert dedup.offer(plate("e1", 0, delay=60)).verdict is Verdict.DUPLICATE
    assert dedup.advance(closed_at + CONFIG.dedup_memory - timedelta(milliseconds=1)) == []
    assert dedup.offer(plate("e1", 0, delay=0)).verdict is Verdict.DUPLICATE
    assert dedup.advance(closed_at + CONFIG.dedup_memory) == []
    # Forgotten: passed on again (as a late event, by now).
    offer = dedup.offer(plate("e1", 0, delay=700))
    assert offer.verdict is Verdict.LATE


# ---------------------------------------------------------------------------------------------
# plate passes


def test_multi_snapshot_pass_yields_the_best_read() -> None:
    dedup = Deduplicator(CONFIG)
    reads = [
        plate("a", 0.0, confidence=0.7),
        plate("b", 0.3, confidence=0.9),
        plate("c", 0.6, confidence=0.8),
    ]
    offers = [dedup.offer(read) for read in reads]
    assert [o.verdict for o in offers] == [Verdict.NEW, Verdict.JOINED, Verdict.JOINED]
    assert [o.anchor for o in offers] == ["a", "a", "a"]
    assert all(o.event is None for o in offers)
    [unique] = dedup.flush()
    assert unique.event_id == "b"
    assert unique.absorbed_event_ids == ["a", "c"]
    assert unique.late is False
    assert unique == reads[1].model_copy(update={"absorbed_event_ids": ["a", "c"]})
    assert dedup.counts["absorbed.plate"] == 2


def test_one_ocr_confusion_collapses_two_do_not() -> None:
    assert one_confusion_apart("浙A12345", "浙A1234S")
    assert not one_confusion_apart("浙A12345", "浙A1Z34S")
    out, _ = offline(
        [
            plate("a", 0, "浙A12345", confidence=0.6),
            plate("b", 1, "浙A1234S", confidence=0.9),
            plate("c", 2, "浙A1Z34S", confidence=0.5, device="dev-2"),
            plate("d", 3, "浙A12345", confidence=0.5, device="dev-2"),
        ]
    )
    assert {e.event_id: e.absorbed_event_ids for e in out} == {"b": ["a"], "c": [], "d": []}


def test_confusion_chain_joins_through_the_middle_read() -> None:
    # 12345 ~ 1234S ~ 1Z34S: the third read is one confusion from the second.
    out, _ = offline(
        [
            plate("a", 0, "浙A12345", confidence=0.9),
            plate("b", 1, "浙A1234S"),
            plate("c", 2, "浙A1Z34S"),
        ]
    )
    assert [(e.event_id, e.absorbed_event_ids) for e in out] == [("a", ["b", "c"])]


def test_different_plates_and_devices_do_not_collapse() -> None:
    out, _ = offline(
        [
            plate("a", 0, "浙A12345"),
            plate("b", 0.5, "浙A12346"),
            plate("c", 1, "浙A12345", device="dev-2"),
        ]
    )
    assert sorted(e.event_id for e in out) == ["a", "b", "c"]
    assert all(e.absorbed_event_ids == [] for e in out)


def test_lanes() -> None:
    out, _ = offline(
        [
            plate("a", 0, lane=1),
            plate("b", 0.5, lane=2),  # another lane: another vehicle
            plate("c", 1, lane=None),  # lane unknown: joins the latest compatible pass
            plate("d", 1.5, lane=1),
        ]
    )
    assert {e.event_id: e.absorbed_event_ids for e in out} == {"a": ["d"], "b": ["c"]}


def test_a_pass_knows_one_lane() -> None:
    # None, then lane 1: the pass is in lane 1, and a lane-2 read is another vehicle.
    out, _ = offline([plate("a", 0), plate("b", 1, lane=1), plate("c", 2, lane=2)])
    assert {e.event_id: e.absorbed_event_ids for e in out} == {"a": ["b"], "c": []}


def test_unreadable_reads_group_only_with_unreadable_reads() -> None:
    out, _ = offline(
        [
            plate("a", 0, None, confidence=0.2),
            plate("b", 1, PLATE),
            plate("c", 2, None, confidence=0.4),
            plate("d", 3, None, lane=2),
            plate("e", 3.5, None, lane=3),
        ]
    )
    assert {e.event_id: e.absorbed_event_ids for e in out} == {
        "b": [],
        "c": ["a", "d"],
        "e": [],
    }


def test_window_is_measured_from_the_previous_read_and_is_strict() -> None:
    window = CONFIG.plate_window
    just_inside = (window - timedelta(milliseconds=1)).total_seconds()
    out, _ = offline([plate("a", 0), plate("b", just_inside), plate("c", 2 * just_inside)])
    assert [(e.event_id, e.absorbed_event_ids) for e in out] == [("a", ["b", "c"])]
    exactly = window.total_seconds()
    out, _ = offline([plate("a", 0), plate("b", exactly)])
    assert [(e.event_id, e.absorbed_event_ids) for e in out] == [("a", []), ("b", [])]


def test_camera_and_cascade_copies_collapse_and_the_camera_wins_ties() -> None:
    # The GA/T 1400 copy of the same pass: same device id, captured earlier, smaller id.
    cascade = plate("a-gat", 0.0, confidence=0.9, source=CASCADE, delay=3)
    camera = plate("b-cam", 0.2, confidence=0.9, source=CAMERA)
    for order in ([cascade, camera], [camera, cascade]):
        out, _ = offline(order)
        assert [(e.event_id, e.absorbed_event_ids) for e in out] == [("b-cam", ["a-gat"])]
    # A better read from the cascade still wins.
    better = plate("c-gat", 0.1, confidence=0.95, source=CASCADE)
    out, _ = offline([camera, better])
    assert [(e.event_id, e.absorbed_event_ids) for e in out] == [("c-gat", ["b-cam"])]


def test_best_read_ties_go_to_the_earliest_then_the_smallest_id() -> None:
    out, _ = offline([plate("z", 0.5), plate("y", 0.5), plate("x", 1.0)])
    assert [(e.event_id, e.absorbed_event_ids) for e in out] == [("y", ["x", "z"])]
    # No confidence counts as 0.
    out, _ = offline([plate("a", 0), plate("b", 1, confidence=0.1)])
    assert [(e.event_id, e.absorbed_event_ids) for e in out] == [("b", ["a"])]


def test_a_read_arriving_out_of_order_joins_its_pass() -> None:
    dedup = Deduplicator(CONFIG)
    assert dedup.offer(plate("b", 1.0, confidence=0.8)) == Offer(Verdict.NEW, "b")
    # Captured first, arrived second: it belongs to the pass that "b" opened.
    assert dedup.offer(plate("a", 0.0, delay=2.0)) == Offer(Verdict.JOINED, "b")
    assert dedup.offer(plate("c", 0.5, delay=2.0)) == Offer(Verdict.JOINED, "b")
    [unique] = dedup.flush()
    assert (unique.event_id, unique.absorbed_event_ids) == ("b", ["a", "c"])


def test_an_out_of_order_read_can_split_what_it_arrives_between() -> None:
    # b (lane unknown) joined a (lane 1); c (lane 2), captured between them, arrives last. In
    # captured order a takes nothing, c takes b: the result depends on the set of reads only.
    # c's anchor is the one b got on arrival: alerts raised for that pass stay suppressed.
    reads = [plate("a", 0.0, lane=1), plate("b", 2.0), plate("c", 1.0, lane=2, delay=3.0)]
    dedup = Deduplicator(CONFIG)
    assert [dedup.offer(r) for r in reads] == [
        Offer(Verdict.NEW, "a"),
        Offer(Verdict.JOINED, "a"),
        Offer(Verdict.JOINED, "a"),
    ]
    out = dedup.flush()
    assert {e.event_id: e.absorbed_event_ids for e in out} == {"a": [], "c": ["b"]}
    again, _ = offline([reads[2], reads[0], reads[1]])
    assert again == out


def test_a_late_arriving_middle_read_near_only_a_later_read_starts_its_own_pass() -> None:
    # 1Z34S is one confusion from 1234S but two from 12345: in captured order it cannot join
    # 12345's pass, and 1234S joins the latest compatible pass, its own.
    reads = [
        plate("a", 0.0, "浙A12345"),
        plate("c", 2.0, "浙A1234S"),
        plate("b", 1.0, "浙A1Z34S", delay=3.0),
    ]
    out, _ = offline(reads)
    assert {e.event_id: e.absorbed_event_ids for e in out} == {"a": [], "b": ["c"]}
    assert offline(reversed(reads))[0] == out


# ---------------------------------------------------------------------------------------------
# faces and alarms


def test_face_track_collapses_with_its_time_span() -> None:
    dedup = Deduplicator(CONFIG)
    faces = [
        face("f1", 0, quality=0.5, appeared=-1.5),
        face("f2", 4, quality=0.9, appeared=3.5, disappeared=4.5),
        face("f3", 12, quality=0.7, disappeared=13),  # within 10 s of the previous capture
        face("g1", 5, track="track-2", quality=0.1),
        face("h1", 6, track=None),
        face("h2", 6.5, track=None),
    ]
    offers = [dedup.offer(f) for f in faces]
    assert [o.verdict for o in offers] == [Verdict.NEW, Verdict.JOINED, Verdict.JOINED] + [
        Verdict.NEW
    ] * 3
    out = by_id(dedup.flush())
    assert sorted(out) == ["f2", "g1", "h1", "h2"]
    best = out["f2"]
    assert isinstance(best, FaceCapture)
    assert best.absorbed_event_ids == ["f1", "f3"]
    assert best.quality == 0.9
    assert (best.appeared_at, best.disappeared_at) == (at(-1.5), at(13))
    single = out["h1"]
    assert isinstance(single, FaceCapture)
    assert (single.appeared_at, single.disappeared_at) == (at(6), at(6))
    assert dedup.counts["absorbed.face"] == 2


def test_face_ties_use_confidence_then_the_camera() -> None:
    out, _ = offline(
        [
            face("a", 0, quality=0.8, confidence=0.5),
            face("b", 1, quality=0.8, confidence=0.6, source=CASCADE),
            face("c", 2, quality=0.8, confidence=0.6),
        ]
    )
    assert [(e.event_id, e.absorbed_event_ids) for e in out] == [("c", ["a", "b"])]


def test_face_track_gap_starts_a_new_group() -> None:
    out, _ = offline([face("a", 0), face("b", 10), face("c", 30, device="dev-2"), face("d", 31)])
    assert {e.event_id: e.absorbed_event_ids for e in out} == {"a": [], "b": [], "c": [], "d": []}


def test_repeated_alarm_collapses_to_the_earliest() -> None:
    dedup = Deduplicator(CONFIG)
    repeats = [alarm(f"r{i}", i) for i in range(6)]  # every second while active
    others = [
        alarm("stop", 6, state=AlarmState.STOP),
        alarm("other-rule", 1, rule_name="gate"),
        alarm("no-rule", 1, rule_name=None),
        alarm("other-channel", 1, channel=2),
        alarm("no-channel", 1, channel=None),
        alarm("other-type", 1, alarm_type=AlarmType.LINE_CROSSING),
        alarm("other-vendor-type", 1, vendor_event_type="linedetection"),
        alarm("after-a-gap", 10.5),
    ]
    offers = [dedup.offer(a) for a in [*repeats, *others]]
    assert [o.anchor for o in offers[:6]] == ["r0"] * 6
    out = by_id(dedup.flush())
    assert out["r0"].absorbed_event_ids == ["r1", "r2", "r3", "r4", "r5"]
    assert sorted(out) == sorted(["r0", *(a.event_id for a in others)])
    assert dedup.counts["absorbed.alarm"] == 5


# ---------------------------------------------------------------------------------------------
# late events and stream time


def test_late_event_is_flagged_held_and_remembered() -> None:
    dedup = Deduplicator(CONFIG)
    dedup.offer(plate("on-time", 100, delay=1))
    lateness = CONFIG.lateness.total_seconds()
    late = plate("late", 0, "沪B00001", delay=lateness + 0.001)
    offer = dedup.offer(late)
    assert offer.verdict is Verdict.LATE
    assert offer.anchor == "late"
    assert offer.event == late.model_copy(update={"late": True})
    assert dedup.stream_time == at(101)  # not moved by the late event (received at 10.001)
    assert dedup.offer(late).verdict is Verdict.DUPLICATE
    assert dedup.counts["late"] == 1
    # Passed on when its late group closes, flagged.
    assert [(e.event_id, e.late) for e in dedup.flush()] == [("late", True), ("on-time", False)]
    assert dedup.offer(late).verdict is Verdict.DUPLICATE


def test_late_snapshots_of_one_pass_are_one_late_pass() -> None:
    """A camera flushing its buffer: the snapshots of each pass arrive together, long after."""
    dedup = Deduplicator(CONFIG)
    flushed = at(3600)
    reads = [
        plate("s1", 0.0, confidence=0.7, delay=3600),
        plate("s2", 0.4, "浙A1234S", confidence=0.95, delay=3600 - 0.4),  # a misread, best
        plate("s3", 0.9, confidence=0.8, delay=3600 - 0.9),
        plate("other", 30.0, "沪B00001", delay=3600 - 30.0),
    ]
    assert {r.received_at for r in reads} == {flushed}
    offers = [dedup.offer(read) for read in reads]
    assert [o.verdict for o in offers] == [Verdict.LATE] * 4
    assert [o.anchor for o in offers] == ["s1", "s1", "s1", "other"]
    hold = CONFIG.plate_window + CONFIG.lateness  # counted from the newest receipt
    assert dedup.advance(flushed + hold - timedelta(milliseconds=1)) == []
    out = dedup.advance(flushed + hold)
    assert [(e.event_id, e.late, e.absorbed_event_ids) for e in out] == [
        ("s2", True, ["s1", "s3"]),
        ("other", True, []),
    ]
    assert dedup.counts["absorbed.plate"] == 2
    # A straggler of the first pass, after its late group closed: absorbed by it.
    straggler = plate("s4", 1.2, delay=3600 + 20)
    assert dedup.offer(straggler) == Offer(Verdict.ABSORBED, "s1")
    assert dedup.offer(straggler).verdict is Verdict.DUPLICATE


def test_a_late_copy_of_an_open_pass_is_absorbed() -> None:
    dedup = Deduplicator(CONFIG)
    dedup.offer(plate("cam", 0.0, confidence=0.8, source=CAMERA, delay=0.5))
    copy = plate("gat", 0.2, confidence=0.99, source=CASCADE, delay=12)
    assert dedup.offer(copy) == Offer(Verdict.ABSORBED, "cam")
    assert dedup.counts["late"] == 1
    assert dedup.counts["absorbed.late"] == 1
    # The pass is passed on as it was seen on time, whatever the late copy read.
    [unique] = dedup.flush()
    assert (unique.event_id, unique.absorbed_event_ids, unique.late) == ("cam", [], False)
    assert dedup.offer(copy).verdict is Verdict.DUPLICATE


def test_a_late_copy_of_a_closed_pass_is_absorbed_while_remembered() -> None:
    dedup = Deduplicator(CONFIG)
    dedup.offer(plate("a", 0.0, lane=1, delay=0.5))
    dedup.offer(plate("b", 1.0, lane=1, delay=0.5))
    [closed] = dedup.advance(at(20))
    assert closed.event_id == "a"
    window = CONFIG.plate_window.total_seconds()
    # Within a window of the pass's reads (strictly), same lane or none, one confusion apart.
    assert dedup.offer(plate("c1", -window + 0.01, delay=60)).verdict is Verdict.ABSORBED
    assert dedup.offer(plate("c2", 1.0 + window - 0.01, "浙A1234S", delay=60)).anchor == "a"
    assert dedup.offer(plate("c3", 0.5, lane=None, delay=60)).verdict is Verdict.ABSORBED
    # Not reads of it: another lane, a window away, two confusions away, another device.
    for read in (
        plate("n1", 0.5, lane=2, delay=60),
        plate("n2", 1.0 + window, "沪B00002", delay=60),
        plate("n3", 1.0 + window, delay=60),
        plate("n4", 0.5, "浙A1Z34S", delay=60),
        plate("n5", 0.5, device="dev-2", delay=60),
    ):
        assert dedup.offer(read).verdict is Verdict.LATE, read.event_id
    # Late passes are remembered too: once the pass "a" is forgotten (closed at 20 s), n1 (a
    # late pass closed at 80 s) takes a read without a lane.
    [n1, *_] = dedup.advance(at(80))
    assert n1.event_id == "n1"
    dedup.advance(at(20) + CONFIG.dedup_memory)
    assert dedup.offer(plate("c4", 0.6, delay=150)) == Offer(Verdict.ABSORBED, "n1")
    # Forgotten with the passes' ids: a later copy is a late pass of its own.
    dedup.advance(at(80) + CONFIG.dedup_memory)
    assert dedup.offer(plate("c5", 0.5, delay=700)).verdict is Verdict.LATE


def test_an_on_time_read_that_comes_after_its_pass_closed_is_absorbed() -> None:
    """Inputs read at uneven paces: a read on time by its own clock is offered only after the
    stream time (moved by other inputs) closed its pass."""
    dedup = Deduplicator(CONFIG)
    dedup.offer(plate("a", 0.0, delay=0.5))
    dedup.offer(plate("other", 40.0, "沪B00001", delay=0.5))  # another input ran ahead
    [closed] = dedup.advance()
    assert closed.event_id == "a"
    straggler = plate("b", 1.0, confidence=0.99, delay=0.5)
    assert dedup.offer(straggler) == Offer(Verdict.ABSORBED, "a")
    assert dedup.counts["absorbed.closed"] == 1
    assert dedup.counts["late"] == 0
    assert dedup.offer(straggler).verdict is Verdict.DUPLICATE
    # Not a read of it: a window after its last read.
    window = CONFIG.plate_window.total_seconds()
    assert dedup.offer(plate("c", window, delay=0.5)).verdict is Verdict.NEW


def test_late_groups_of_faces_and_alarms() -> None:
    dedup = Deduplicator(CONFIG)
    for event in (
        face("f1", 0, quality=0.5, delay=100),
        face("f2", 4, quality=0.9, delay=96),
        alarm("x1", 0, delay=100),
        alarm("x2", 2, delay=98),
    ):
        assert dedup.offer(event).verdict is Verdict.LATE
    out = dedup.flush()
    assert [(e.event_id, e.late, e.absorbed_event_ids) for e in out] == [
        ("x1", True, ["x2"]),  # alarms: the earliest read
        ("f2", True, ["f1"]),  # faces: the best quality, with the track's span
    ]
    assert (out[1].appeared_at, out[1].disappeared_at) == (at(0), at(4))
    assert dedup.counts["absorbed.face"] == dedup.counts["absorbed.alarm"] == 1


def test_lateness_is_per_event_and_inclusive() -> None:
    dedup = Deduplicator(CONFIG)
    lateness = CONFIG.lateness.total_seconds()
    assert dedup.offer(plate("edge", 0, delay=lateness)).verdict is Verdict.NEW
    assert dedup.offer(plate("over", 50, "沪B00001", delay=lateness + 0.001)).verdict is (
        Verdict.LATE
    )
    # Received long after others, but promptly after its own capture: on time.
    assert dedup.offer(plate("fresh", 3600, "沪B00002", delay=0)).verdict is Verdict.NEW


def test_late_events_before_any_on_time_event() -> None:
    dedup = Deduplicator(CONFIG)
    offer = dedup.offer(plate("late", 0, delay=3600))
    assert offer.verdict is Verdict.LATE
    assert dedup.stream_time is None
    assert dedup.advance() == []
    assert dedup.offer(plate("late", 0, delay=3600)).verdict is Verdict.DUPLICATE


def test_stream_time_never_goes_back() -> None:
    dedup = Deduplicator(CONFIG)
    assert dedup.stream_time is None
    dedup.offer(plate("a", 10, delay=1))
    assert dedup.stream_time == at(11)
    dedup.offer(plate("b", 5, "沪B00001", delay=1))
    assert dedup.stream_time == at(11)
    dedup.advance(at(5))
    assert dedup.stream_time == at(11)
    dedup.advance(at(20))
    assert dedup.stream_time == at(20)
    dedup.offer(plate("c", 15, "沪B00002", delay=1))
    assert dedup.stream_time == at(20)
    with pytest.raises(ValueError, match="naive"):
        dedup.advance(datetime(2025, 6, 1, 9, 0))  # noqa: DTZ001


def test_advance_closes_only_due_groups() -> None:
    dedup = Deduplicator(CONFIG)
    delay = CONFIG.plate_window + CONFIG.lateness
    dedup.offer(plate("a1", 0))
    dedup.offer(plate("a2", 1))
    dedup.offer(plate("b1", 0.5, "沪B00001"))
    dedup.offer(plate("c1", 8, "沪C00001"))
    assert dedup.advance(at(0) + delay) == []  # a's last read is at 1, b's at 0.5
    closed = dedup.advance(at(1) + delay - timedelta(milliseconds=1))
    assert [e.event_id for e in closed] == ["b1"]
    closed = dedup.advance(at(1) + delay)
    assert [(e.event_id, e.absorbed_event_ids) for e in closed] == [("a1", ["a2"])]
    # A pass still receiving reads stays open: each read moves its end.
    dedup.offer(plate("c2", 12, "沪C00001"))
    assert dedup.advance(at(8) + delay) == []
    dedup.offer(plate("c3", 16, "沪C00001"))
    assert dedup.advance(at(12) + delay) == []
    closed = dedup.advance(at(16) + delay)
    assert [(e.event_id, e.absorbed_event_ids) for e in closed] == [("c1", ["c2", "c3"])]
    assert dedup.flush() == []


def test_advance_returns_unique_events_sorted() -> None:
    dedup = Deduplicator(CONFIG)
    events: list[CanonicalEvent] = [
        plate("p2", 2, "沪B00002"),
        face("f1", 1),
        alarm("a3", 3),
        plate("p0", 0.5, "沪B00003"),
        plate("p1", 0.5, "沪B00001"),
    ]
    for event in events:
        dedup.offer(event)
    closed = dedup.advance(at(60))
    assert [e.event_id for e in closed] == ["p0", "p1", "f1", "p2", "a3"]


def test_stream_time_moves_with_received_at() -> None:
    # Closing depends on received times (stream time), not on wall clock or capture time alone.
    dedup = Deduplicator(CONFIG)
    dedup.offer(plate("a", 0))
    dedup.offer(plate("b", 14, "沪B00001", delay=1))  # stream time: 15 = 0 + 5 + 10
    assert [e.event_id for e in dedup.advance()] == ["a"]


def test_flush_closes_everything() -> None:
    dedup = Deduplicator(CONFIG)
    dedup.offer(plate("a", 0))
    dedup.offer(face("f", 0))
    dedup.offer(alarm("x", 0))
    assert dedup.advance() == []
    assert [e.event_id for e in dedup.flush()] == ["a", "f", "x"]
    assert dedup.flush() == []
    # Still remembered after the flush.
    assert dedup.offer(plate("a", 0)).verdict is Verdict.DUPLICATE


def test_state_is_emptied_when_forgotten() -> None:
    dedup = Deduplicator(CONFIG)
    for i in range(30):
        dedup.offer(plate(f"e{i}", i * 0.4, f"沪B{i % 7:05d}", lane=i % 2))
    dedup.offer(plate("late", 0, delay=60))
    tables = dedup.tables()
    assert set(tables) == {"dedup.open", "dedup.memory", "dedup.clock"}
    assert tables["dedup.open"]
    dedup.advance(at(600))
    assert not tables["dedup.open"]
    assert tables["dedup.memory"]
    dedup.advance(at(600) + CONFIG.dedup_memory)
    assert not tables["dedup.memory"]
    assert dict(tables["dedup.clock"]) == {"stream_time": at(600) + CONFIG.dedup_memory}
    assert dedup.offer(plate("e0", 0, delay=0)).verdict is Verdict.NEW  # forgotten


def test_table_values_are_replaced_not_mutated() -> None:
    dedup = Deduplicator(CONFIG)
    dedup.offer(plate("a", 0))
    table = dedup.tables()["dedup.open"]
    [(key, first, _)] = list(table.take_changes())
    assert first is not None
    snapshot = pickle.dumps(first)
    dedup.offer(plate("b", 1))
    assert pickle.dumps(first) == snapshot
    assert [k for k, _, _ in table.take_changes()] == [key]
    assert all(isinstance(v, tuple) for v in table.values())


# ---------------------------------------------------------------------------------------------
# persisted state: a fresh deduplicator rebuilt from the tables continues identically


Step = tuple[str, Any]


def feed(dedup: Deduplicator, batches: Sequence[Sequence[CanonicalEvent]]) -> list[Step]:
    """Offers and advances, batch by batch: everything observable."""
    steps: list[Step] = []
    for batch in batches:
        for event in batch:
            steps.append(("offer", dedup.offer(event)))
        steps.append(("advance", dedup.advance()))
    return steps


def stream(dedup: Deduplicator, batches: Sequence[Sequence[CanonicalEvent]]) -> list[Step]:
    """``feed``, then the end of input."""
    steps = feed(dedup, batches)
    steps.append(("stream_time", dedup.stream_time))
    steps.append(("flush", dedup.flush()))
    return steps


def test_restore_mid_stream_continues_identically() -> None:
    events: list[CanonicalEvent] = sorted(
        [
            plate("a1", 0, confidence=0.5),
            plate("a2", 0.4, confidence=0.9),
            plate("a3", 0.8, delay=3),
            plate("b1", 3, None),
            plate("late", 1, "沪B00001", delay=30),
            face("f1", 2),
            face("f2", 9),
            alarm("x1", 4),
            alarm("x2", 5),
            plate("c1", 20, "沪C00001"),
            plate("c2", 21, "沪C0D001"),  # one confusion from c1
            plate("a1", 0),  # re-push
            face("f3", 25),
        ],
        key=lambda e: e.received_at,
    )
    batches = [events[i : i + 3] for i in range(0, len(events), 3)]
    for split in range(len(batches) + 1):
        whole = stream(Deduplicator(CONFIG), batches)
        first = Deduplicator(CONFIG)
        head = feed(first, batches[:split])
        resumed = stream(copy_tables(first, Deduplicator(CONFIG)), batches[split:])
        assert head + resumed == whole, split


# ---------------------------------------------------------------------------------------------
# properties

DEVICES = ("dev-1", "dev-2")
# Plates near each other (12345 is one confusion from 1234S and 12B45, which are two apart;
# 1Z34S is one from 1234S, two from 12345), another plate, and unreadable.
PLATES = ("浙A12345", "浙A1234S", "浙A1Z34S", "浙A12B45", "浙A12346", None)


@st.composite
def events_strategy(draw: st.DrawFn, *, late: bool = False) -> list[CanonicalEvent]:
    count = draw(st.integers(min_value=0, max_value=24))
    events: list[CanonicalEvent] = []
    lateness_ms = int(CONFIG.lateness / timedelta(milliseconds=1))
    for i in range(count):
        # Half-second steps: plenty of ties and of reads exactly a window apart.
        captured = draw(st.integers(min_value=0, max_value=60)) * 500
        delay = draw(
            st.sampled_from(
                [0, 500, 2_000, lateness_ms] + ([lateness_ms + 1, 3 * lateness_ms] if late else [])
            )
        )
        device = draw(st.sampled_from(DEVICES))
        event_id = f"e{i:02d}"
        kind = draw(st.sampled_from(["plate", "plate", "plate", "face", "alarm"]))
        if kind == "plate":
            event: CanonicalEvent = plate(
                event_id,
                captured / 1000,
                draw(st.sampled_from(PLATES)),
                device=device,
                lane=draw(st.sampled_from([None, None, 1, 2])),
                confidence=draw(st.sampled_from([None, 0.5, 0.9])),
                source=draw(st.sampled_from([CAMERA, CASCADE])),
                delay=delay / 1000,
            )
        elif kind == "face":
            event = face(
                event_id,
                captured / 1000,
                draw(st.sampled_from([None, "t1", "t2"])),
                device=device,
                quality=draw(st.sampled_from([None, 0.4, 0.8])),
                confidence=draw(st.sampled_from([None, 0.5])),
                source=draw(st.sampled_from([CAMERA, CASCADE])),
                appeared=draw(st.sampled_from([None, captured / 1000 - 1])),
                disappeared=draw(st.sampled_from([None, captured / 1000 + 1])),
                delay=delay / 1000,
            )
        else:
            event = alarm(
                event_id,
                captured / 1000,
                device=device,
                state=draw(st.sampled_from([AlarmState.START, AlarmState.PULSE])),
                rule_name=draw(st.sampled_from([None, "fence"])),
                delay=delay / 1000,
            )
        events.append(event)
    return events


@settings(max_examples=200, deadline=None)
@given(events=events_strategy(late=True), data=st.data())
def test_offering_everything_twice_changes_nothing(
    events: list[CanonicalEvent], data: st.DataObject
) -> None:
    doubled = data.draw(st.permutations(events + events))
    # The first copy of each event in the doubled order is the one that counts (which late
    # reads meet depends on the order they come in).
    firsts: dict[str, CanonicalEvent] = {}
    for event in doubled:
        firsts.setdefault(event.event_id, event)
    once, _ = offline(firsts.values())
    twice, dedup = offline(doubled)
    assert canonical(twice) == canonical(once)
    assert dedup.counts["duplicate"] == len(events)


@settings(max_examples=300, deadline=None)
@given(events=events_strategy(late=True), data=st.data())
def test_unique_events_do_not_depend_on_arrival_order(
    events: list[CanonicalEvent], data: st.DataObject
) -> None:
    # On-time reads: whatever the late reads among them do.
    expected, _ = offline(events)
    shuffled = data.draw(st.permutations(events))
    got, _ = offline(shuffled)
    assert on_time(got) == on_time(expected)


@settings(max_examples=300, deadline=None)
@given(events=events_strategy(late=True), data=st.data())
def test_streaming_in_received_order_matches_offline(
    events: list[CanonicalEvent], data: st.DataObject
) -> None:
    # Arrival in received order (ties in any order), advancing after every event: windows close
    # as early as they may, and the on-time result is still that of the whole set.
    expected, _ = offline(events)
    arrival = sorted(data.draw(st.permutations(events)), key=lambda e: e.received_at)
    dedup = Deduplicator(CONFIG)
    got: list[CanonicalEvent] = []
    for event in arrival:
        dedup.offer(event)
        got += dedup.advance()
    got += dedup.flush()
    assert on_time(got) == on_time(expected)


@settings(max_examples=300, deadline=None)
@given(events=events_strategy(late=True), data=st.data())
def test_every_event_is_accounted_for_exactly_once(
    events: list[CanonicalEvent], data: st.DataObject
) -> None:
    repushed = data.draw(st.lists(st.sampled_from(events), max_size=6)) if events else []
    arrival = data.draw(st.permutations(events + repushed))
    dedup = Deduplicator(CONFIG)
    dropped = [e.event_id for e in arrival if dedup.offer(e).verdict is Verdict.ABSORBED]
    out = dedup.flush()
    seen = [e.event_id for e in out] + [i for e in out for i in e.absorbed_event_ids] + dropped
    assert sorted(seen) == sorted(e.event_id for e in events)
    assert dedup.counts["duplicate"] == len(repushed)
    received_late = {e.event_id for e in events if e.received_at - e.captured_at > CONFIG.lateness}
    late = sum(1 + len(e.absorbed_event_ids) for e in out if e.late)
    assert late + len(received_late.intersection(dropped)) == dedup.counts["late"]
    for unique in out:
        assert unique.absorbed_event_ids == sorted(unique.absorbed_event_ids)
        # A group is all late reads or all on time.
        members = {unique.event_id, *unique.absorbed_event_ids}
        assert members <= received_late if unique.late else not members & received_late


@settings(max_examples=200, deadline=None)
@given(events=events_strategy(late=True), data=st.data())
def test_restore_from_the_change_log_mid_stream(
    events: list[CanonicalEvent], data: st.DataObject
) -> None:
    repushed = data.draw(st.lists(st.sampled_from(events), max_size=4)) if events else []
    arrival = sorted(data.draw(st.permutations(events + repushed)), key=lambda e: e.received_at)
    sizes = data.draw(st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=12))
    batches: list[list[CanonicalEvent]] = []
    rest = list(arrival)
    while rest:
        size = sizes[len(batches) % len(sizes)]
        batches.append(rest[:size])
        rest = rest[size:]
    split = data.draw(st.integers(min_value=0, max_value=len(batches)))
    whole = stream(Deduplicator(CONFIG), batches)

    running = Deduplicator(CONFIG)
    log = ChangeLog()
    head: list[Step] = []
    for batch in batches[:split]:
        head += feed(running, [batch])
        log.write(running)
    resumed = log.restore(Deduplicator(CONFIG))
    assert resumed.stream_time == running.stream_time
    assert head + stream(resumed, batches[split:]) == whole


@settings(max_examples=200, deadline=None)
@given(events=events_strategy(), data=st.data())
def test_late_reads_that_meet_group_as_if_on_time(
    events: list[CanonicalEvent], data: st.DataObject
) -> None:
    """Reads flushed an hour late, in any order, all before their late groups are due: the
    late unique events are the on-time ones, flagged."""
    expected, _ = offline(events)
    flushed = at(3600)
    late = [e.model_copy(update={"received_at": flushed}) for e in events]
    dedup = Deduplicator(CONFIG)
    offers = [dedup.offer(e) for e in data.draw(st.permutations(late))]
    assert {o.verdict for o in offers} <= {Verdict.LATE}
    # Held at least the lateness after their receipt (faces without a track: no more).
    assert dedup.advance(flushed + CONFIG.lateness - timedelta(milliseconds=1)) == []
    got = dedup.flush()
    assert canonical(got) == canonical(
        e.model_copy(update={"late": True, "received_at": flushed}) for e in expected
    )


def test_late_passes_survive_a_restore() -> None:
    dedup = Deduplicator(CONFIG)
    dedup.offer(plate("a", 0.0, delay=0.5))
    dedup.offer(plate("late1", 100.0, "沪B00001", delay=60))
    dedup.advance(at(20))  # "a" closes; the late group is open
    resumed = copy_tables(dedup, Deduplicator(CONFIG))
    for d in (dedup, resumed):
        assert d.offer(plate("copy", 0.3, delay=30)) == Offer(Verdict.ABSORBED, "a")
        offer = d.offer(plate("late2", 100.5, "沪B00001", delay=59.5))
        assert (offer.verdict, offer.anchor) == (Verdict.LATE, "late1")
        assert [(e.event_id, e.absorbed_event_ids) for e in d.flush()] == [("late1", ["late2"])]


def test_memory_written_before_passes_were_summarised_restores() -> None:
    resumed = Deduplicator(CONFIG)
    resumed.tables()["dedup.memory"].restore("m0", (at(20), ("a",)))
    resumed.advance(at(20))
    assert resumed.offer(plate("a", 0.0)).verdict is Verdict.DUPLICATE
    assert resumed.offer(plate("copy", 0.3, delay=30)).verdict is Verdict.LATE
    resumed.advance(at(20) + CONFIG.dedup_memory)  # expires the old bucket
    assert resumed.offer(plate("a", 0.0, "沪C00009", delay=700)).verdict is Verdict.LATE


@settings(max_examples=300, deadline=None)
@given(events=events_strategy(late=True), data=st.data())
def test_no_event_is_passed_on_twice_whatever_the_order(
    events: list[CanonicalEvent], data: st.DataObject
) -> None:
    """Any arrival order, windows closed at any point between offers: an id is passed on once,
    as a unique event or among one's absorbed ids, never both, never twice."""
    dedup = Deduplicator(CONFIG)
    out: list[CanonicalEvent] = []
    for event in data.draw(st.permutations(events)):
        dedup.offer(event)
        if data.draw(st.booleans()):
            out += dedup.advance()
    out += dedup.flush()
    ids = [e.event_id for e in out] + [i for e in out for i in e.absorbed_event_ids]
    assert len(ids) == len(set(ids))
