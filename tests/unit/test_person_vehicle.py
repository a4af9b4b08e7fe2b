"""Person-vehicle association: a face and a plate at one device within the gap."""

from __future__ import annotations

from datetime import timedelta
from random import Random

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.canonical.models import (
    CanonicalEvent,
    FaceCapture,
    GeoPoint,
    ImageKind,
    PlateCapture,
)
from streams.correlate.person_vehicle import PersonVehicleRule
from streams.correlate.records import Correlation, digest_id
from tests.unit.correlate_builders import (
    CONFIG,
    NOW,
    SLACK,
    alarm_event,
    at,
    face_capture,
    plate_capture,
    resume_from_change_log,
    same_in_any_order,
)

GATE = GeoPoint(lat=30.25, lon=120.16)


def plate(
    event_id: str, seconds: float, number: str | None = "京A12345", device: str = "gate"
) -> PlateCapture:
    return plate_capture(
        event_id, seconds, number, device=device, position=GATE, image=ImageKind.SCENE
    )


def face(event_id: str, seconds: float, device: str = "gate") -> FaceCapture:
    return face_capture(event_id, seconds, f"track-{event_id}", device=device, image=ImageKind.FACE)


def feed(rule: PersonVehicleRule, events: list[CanonicalEvent]) -> list[Correlation]:
    return [c for event in events for c in rule.observe(event, NOW)]


def test_face_then_plate() -> None:
    rule = PersonVehicleRule(CONFIG)
    assert rule.observe(face("f1", 0.0), NOW) == []
    [record] = rule.observe(plate("p1", 2.5), NOW)
    assert record.relation == "person_vehicle"
    assert record.correlation_id == digest_id("person_vehicle", "p1", "f1")
    assert record.subject == "京A12345"
    assert record.plate_numbers == ["京A12345"]
    assert record.device_ids == ["gate"]
    assert record.event_ids == ["f1", "p1"]
    assert [(s.event_id, s.kind) for s in record.evidence] == [("f1", "face"), ("p1", "plate")]
    assert record.evidence[0].track_id == "track-f1"
    assert record.evidence[0].position is None
    assert record.evidence[1].position == GATE
    assert record.evidence[1].plate_number == "京A12345"
    assert record.evidence[1].images[0].url == "http://img/p1.jpg"
    assert record.occurred_at == at(2.5)
    assert record.details == {"gap_ms": "2500"}
    # built without validation on the hot path: it must be exactly what validation gives
    assert Correlation.model_validate(record.model_dump()) == record
    assert Correlation.model_validate_json(record.model_dump_json()) == record


def test_plate_then_face_gives_the_same_record() -> None:
    events: list[CanonicalEvent] = [face("f1", 0.0), plate("p1", 2.5)]
    assert feed(PersonVehicleRule(CONFIG), events) == feed(PersonVehicleRule(CONFIG), events[::-1])


def test_what_does_not_pair() -> None:
    rule = PersonVehicleRule(CONFIG)
    events: list[CanonicalEvent] = [
        face("f1", 0.0),
        alarm_event("a1", 0.0, device="gate"),
        plate("p0", 1.0, number=None),  # unreadable
        plate("p1", 5.001),  # just beyond the gap
        plate("p2", 1.0, device="other"),  # another device
        face("f2", -1.0),  # two faces never pair
    ]
    assert feed(rule, events) == []
    assert "a1" not in {s[1] for kept in rule.recent.values() for s in kept}


def test_every_pair_once_even_when_re_offered() -> None:
    rule = PersonVehicleRule(CONFIG)
    events: list[CanonicalEvent] = [face("f1", 0.0), face("f2", 1.0), plate("p1", 5.0)]
    records = feed(rule, events)
    assert [r.event_ids for r in records] == [["f1", "p1"], ["f2", "p1"]]  # the gap is inclusive
    assert feed(rule, events) == []


@st.composite
def captures(draw: st.DrawFn) -> list[CanonicalEvent]:
    """Faces and plates at two devices within a span shorter than the slack."""
    span_ms = int(SLACK.total_seconds() * 1000)
    events: list[CanonicalEvent] = []
    for i in range(draw(st.integers(min_value=2, max_value=12))):
        seconds = draw(st.integers(min_value=0, max_value=span_ms)) / 1000
        device = draw(st.sampled_from(["gate", "lane"]))
        if draw(st.booleans()):
            events.append(face(f"f{i}", seconds, device))
        else:
            events.append(plate(f"p{i}", seconds, device=device))
    return events


@settings(max_examples=200)
@given(captures(), st.randoms(use_true_random=False))
def test_pairs_do_not_depend_on_arrival_order(events: list[CanonicalEvent], random: Random) -> None:
    forward = same_in_any_order(
        lambda events: feed(PersonVehicleRule(CONFIG), events), events, random
    )
    expected = {
        digest_id("person_vehicle", p.event_id, f.event_id)
        for p in events
        if isinstance(p, PlateCapture)
        for f in events
        if isinstance(f, FaceCapture)
        and f.device_id == p.device_id
        and abs(f.captured_at - p.captured_at) <= CONFIG.person_vehicle_gap
    }
    assert set(forward) == expected


def test_expire_drops_idle_devices() -> None:
    rule = PersonVehicleRule(CONFIG)
    feed(rule, [face("f1", 0.0), plate("p1", 40.0, device="lane")])
    keep = CONFIG.person_vehicle_gap + SLACK
    rule.expire(at(0) + keep)
    assert set(rule.recent) == {"gate", "lane"}
    rule.expire(at(0) + keep + timedelta(milliseconds=1))
    assert set(rule.recent) == {"lane"}
    rule.expire(at(40) + keep + timedelta(milliseconds=1))
    assert dict(rule.recent) == {}


def test_a_busy_device_keeps_only_the_recent_captures() -> None:
    rule = PersonVehicleRule(CONFIG)
    feed(rule, [face(f"f{i}", i * 2.0) for i in range(100)])
    kept = rule.recent["gate"]
    assert kept[-1][0] - kept[0][0] <= CONFIG.person_vehicle_gap + SLACK
    assert len(kept) < 20


# ------------------------------------------------------------------------------------------
# restore


def test_a_rule_rebuilt_from_its_change_log_continues_identically() -> None:
    stream: list[CanonicalEvent] = [
        face("f1", 0.0),
        plate("p1", 1.0),
        face("f2", 3.0, device="lane"),
        plate("p2", 4.0, device="lane"),
        face("f3", 5.5),  # pairs with p1 (4.5 s)
        plate("p3", 7.0, device="lane"),  # pairs with f2 and... not f3 (other device)
        face("f4", 60.0),
        plate("p4", 61.0),
    ]

    def step(rule: PersonVehicleRule, event: CanonicalEvent) -> list[Correlation]:
        produced = rule.observe(event, NOW)
        rule.expire(event.received_at)
        return produced

    produced = resume_from_change_log(lambda: PersonVehicleRule(CONFIG), step, stream, 3)
    assert [r.event_ids for r in produced] == [
        ["f2", "p2"],
        ["p1", "f3"],
        ["f2", "p3"],
        ["f4", "p4"],
    ]
