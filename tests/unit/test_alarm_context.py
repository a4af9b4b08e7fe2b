"""Alarm context: alarms with the captures around them in space and time."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.canonical.models import (
    Alarm,
    AlarmState,
    AlarmType,
    CanonicalEvent,
    FaceCapture,
    GeoPoint,
    ImageKind,
    PlateCapture,
)
from streams.correlate.alarm_context import AlarmContextRule
from streams.correlate.config import RuleConfig
from streams.correlate.records import Alert, digest_id
from streams.domain.geo import haversine_m
from tests.unit.correlate_builders import (
    CONFIG,
    NOW,
    alarm_event,
    at,
    face_capture,
    plate_capture,
    resume_from_change_log,
)

CENTER = (30.25, 120.16)
M_PER_DEG = 111_195.0


def offset(north_m: float, east_m: float, origin: tuple[float, float] = CENTER) -> GeoPoint:
    lat = origin[0] + north_m / M_PER_DEG
    lon = origin[1] + east_m / (M_PER_DEG * math.cos(math.radians(origin[0])))
    return GeoPoint(lat=lat, lon=((lon + 180.0) % 360.0) - 180.0)


def alarm(
    event_id: str,
    seconds: float,
    position: GeoPoint | None = None,
    device: str = "cam-0",
    state: AlarmState = AlarmState.START,
) -> Alarm:
    return alarm_event(
        event_id,
        seconds,
        device=device,
        position=position,
        image=ImageKind.SCENE,
        alarm_type=AlarmType.INTRUSION,
        state=state,
    )


def plate(
    event_id: str,
    seconds: float,
    position: GeoPoint | None,
    device: str = "cam-1",
    number: str | None = "京A12345",
) -> PlateCapture:
    return plate_capture(event_id, seconds, number, device=device, position=position)


def face(
    event_id: str, seconds: float, position: GeoPoint | None, device: str = "cam-2"
) -> FaceCapture:
    return face_capture(event_id, seconds, f"t-{event_id}", device=device, position=position)


DUE = CONFIG.alarm_context + CONFIG.lateness


def test_alarm_with_the_captures_around_it() -> None:
    rule = AlarmContextRule(CONFIG)
    here = offset(0, 0)
    events: list[CanonicalEvent] = [
        plate("p-near", 50.0, offset(100, 50)),
        face("f-edge", 160.0, offset(-300, 390)),  # 60 s after: the range is inclusive
        plate("p-far", 100.0, offset(0, 520)),  # beyond the radius
        plate("p-early", 39.999, offset(10, 10)),  # just over a minute before
        plate("p-other", 90.0, offset(-20, 0), device="cam-3", number="沪B00001"),
        plate("p-unread", 95.0, offset(5, 5), device="cam-3", number=None),
        plate("p-nopos", 100.0, None, device="cam-0"),  # no position: not near a placed alarm
        alarm("a1", 100.0, here),
    ]
    for event in events:
        rule.observe(event)
    assert rule.advance(at(100) + DUE - timedelta(milliseconds=1), NOW) == []
    [alert] = rule.advance(at(100) + DUE, NOW)
    assert alert.alert_id == digest_id("alarm_context", "a1")
    assert alert.rule == "alarm_context"
    assert alert.priority == CONFIG.alarm_priority
    assert alert.subject == "cam-0"
    assert alert.raised_at == NOW
    assert not alert.late
    assert alert.event_ids == ["a1", "p-near", "p-other", "p-unread", "f-edge"]
    assert [s.kind for s in alert.evidence] == ["alarm", "plate", "plate", "plate", "face"]
    assert alert.evidence[0].images[0].url == "http://img/a1.jpg"
    assert alert.evidence[0].position == here
    assert alert.evidence[4].track_id == "t-f-edge"
    assert alert.device_ids == ["cam-0", "cam-1", "cam-3", "cam-2"]
    assert alert.plate_numbers == ["京A12345", "沪B00001"]
    assert alert.occurred_at == at(160)
    assert alert.details == {"alarm_type": "intrusion", "captures": "4"}
    # evidence is built without validation: it must be exactly what validation gives
    assert Alert.model_validate(alert.model_dump()) == alert
    assert Alert.model_validate_json(alert.model_dump_json()) == alert
    assert rule.advance(at(1000), NOW) == []
    assert dict(rule.pending) == {}


def test_an_alarm_fires_alone_stop_is_ignored_and_repeats_fire_once() -> None:
    rule = AlarmContextRule(CONFIG)
    for event in [
        alarm("a1", 0.0, offset(0, 0)),
        alarm("a1", 0.0, offset(0, 0)),
        alarm("a2", 5.0, offset(0, 0), state=AlarmState.STOP),
        alarm("a3", 1.0, offset(0, 0), state=AlarmState.PULSE),
    ]:
        rule.observe(event)
    alerts = rule.advance(at(1) + DUE, NOW)
    assert [(a.event_ids, a.details["captures"]) for a in alerts] == [(["a1"], "0"), (["a3"], "0")]
    assert alerts[0].occurred_at == at(0)
    assert alerts[0].plate_numbers == []


def test_an_alarm_without_position_takes_its_own_device() -> None:
    rule = AlarmContextRule(CONFIG)
    events: list[CanonicalEvent] = [
        plate("mine", 1.0, None, device="cam-0"),
        face("mine-face", 2.0, None, device="cam-0"),
        plate("theirs", 1.0, None, device="cam-9"),
        alarm("a1", 0.0, None, device="cam-0"),
    ]
    for event in events:
        rule.observe(event)
    [alert] = rule.flush(NOW)
    assert alert.event_ids == ["a1", "mine", "mine-face"]
    assert alert.evidence[0].position is None
    assert Alert.model_validate_json(alert.model_dump_json()) == alert


def test_flush_fires_every_pending_alarm_oldest_first() -> None:
    rule = AlarmContextRule(CONFIG)
    rule.observe(alarm("b", 10.0, offset(0, 0)))
    rule.observe(alarm("a", 10.0, offset(0, 0)))
    rule.observe(alarm("c", 5.0, offset(0, 0)))
    rule.observe(plate("p", 11.0, offset(1, 1)))
    assert [a.event_ids for a in rule.flush(NOW)] == [["c", "p"], ["a", "p"], ["b", "p"]]
    assert rule.flush(NOW) == []
    assert rule.advance(at(10_000), NOW) == []


def test_across_the_antimeridian() -> None:
    rule = AlarmContextRule(CONFIG)
    east = (10.0, 179.9999)
    rule.observe(plate("west", 0.0, offset(0, 40, east)))  # lon -179.99..., 40 m away
    rule.observe(alarm("a1", 0.0, GeoPoint(lat=east[0], lon=east[1])))
    [alert] = rule.flush(NOW)
    assert alert.event_ids == ["a1", "west"]


def test_near_a_pole_every_longitude_is_searched() -> None:
    rule = AlarmContextRule(CONFIG)
    rule.observe(plate("p", 0.0, GeoPoint(lat=89.999, lon=-100.0)))
    rule.observe(alarm("a1", 0.0, GeoPoint(lat=89.999, lon=80.0)))  # 222 m across the pole
    [alert] = rule.flush(NOW)
    assert alert.event_ids == ["a1", "p"]


def test_captures_are_dropped_once_no_alarm_can_need_them() -> None:
    rule = AlarmContextRule(CONFIG)
    rule.observe(plate("p", 0.0, offset(0, 0)))
    rule.observe(plate("q", 1.0, None))
    keep = 2 * CONFIG.alarm_context + CONFIG.lateness
    rule.advance(at(0) + keep, NOW)
    assert len(rule.captures) == 2
    rule.advance(at(60) + keep, NOW)
    assert dict(rule.captures) == {}
    # an alarm due after the stream time still finds captures as old as it needs
    rule.observe(plate("r", 200.0, offset(0, 0)))
    rule.observe(alarm("a", 260.0, offset(0, 0)))
    [alert] = rule.advance(at(260) + DUE, NOW)
    assert alert.event_ids == ["a", "r"]


# ------------------------------------------------------------------------------------------
# properties


@st.composite
def scenes(draw: st.DrawFn) -> list[CanonicalEvent]:
    """Alarms and captures within 1.5 km and a few minutes, some without position."""
    events: list[CanonicalEvent] = []
    count = draw(st.integers(min_value=1, max_value=25))
    for i in range(count):
        seconds = draw(st.integers(min_value=0, max_value=300_000)) / 1000
        placed = draw(st.integers(min_value=0, max_value=5)) > 0
        position = (
            offset(
                draw(st.floats(min_value=-1500, max_value=1500)),
                draw(st.floats(min_value=-1500, max_value=1500)),
            )
            if placed
            else None
        )
        device = f"cam-{draw(st.integers(min_value=0, max_value=3))}"
        kind = draw(st.sampled_from(["alarm", "stop", "plate", "face"]))
        if kind == "alarm":
            events.append(alarm(f"a{i}", seconds, position, device))
        elif kind == "stop":
            events.append(alarm(f"s{i}", seconds, position, device, AlarmState.STOP))
        elif kind == "plate":
            number = draw(st.sampled_from(["京A12345", "沪B00001", None]))
            events.append(plate(f"p{i}", seconds, position, device, number))
        else:
            events.append(face(f"f{i}", seconds, position, device))
    return events


def oracle(events: list[CanonicalEvent], config: RuleConfig) -> dict[str, list[str]]:
    """Alarm id -> the event ids of its alert, by brute force."""
    expected = {}
    captures = [e for e in events if not isinstance(e, Alarm)]
    for a in events:
        if not isinstance(a, Alarm) or a.state == AlarmState.STOP:
            continue
        near = []
        for c in captures:
            if abs(c.captured_at - a.captured_at) > config.alarm_context:
                continue
            if a.position is None:
                ok = c.position is None and c.device_id == a.device_id
            else:
                ok = c.position is not None and (
                    haversine_m(a.position.lat, a.position.lon, c.position.lat, c.position.lon)
                    <= config.alarm_radius_m
                )
            if ok:
                near.append(c)
        near.sort(key=lambda c: (c.captured_at, c.event_id))
        expected[a.event_id] = [a.event_id, *(c.event_id for c in near)]
    return expected


def in_time_order(rule: AlarmContextRule, events: list[CanonicalEvent]) -> list[Alert]:
    """Arrival in received order, advancing the stream time after each event."""
    alerts = []
    for event in sorted(events, key=lambda e: (e.received_at, e.event_id)):
        rule.observe(event)
        alerts += rule.advance(event.received_at, NOW)
    return alerts + rule.advance(at(10_000), NOW)


@settings(max_examples=200)
@given(scenes(), st.randoms(use_true_random=False))
def test_alerts_match_brute_force_whatever_the_arrival_order(
    events: list[CanonicalEvent], random: Any
) -> None:
    config = RuleConfig(alarm_context=timedelta(seconds=30))
    streamed = in_time_order(AlarmContextRule(config), events)
    shuffled = list(events)
    random.shuffle(shuffled)
    rule = AlarmContextRule(config)
    for event in shuffled:
        rule.observe(event)
    flushed = rule.flush(NOW)
    assert streamed == flushed
    assert {a.event_ids[0]: a.event_ids for a in flushed} == oracle(events, config)


# ------------------------------------------------------------------------------------------
# restore


def test_a_rule_rebuilt_from_its_change_log_continues_identically() -> None:
    stream: list[CanonicalEvent] = [
        plate("p1", 0.0, offset(0, 0)),
        alarm("a1", 10.0, offset(100, 0)),
        face("f1", 20.0, offset(0, 100)),
        plate("p2", 30.0, None, device="cam-0"),
        alarm("a2", 40.0, None, device="cam-0"),
        plate("p3", 65.0, offset(50, 50)),  # a1 needs it (55 s after)
        plate("p4", 150.0, offset(0, 0)),
        alarm("a3", 200.0, offset(0, 0)),
        plate("p5", 230.0, offset(0, 0)),
    ]

    def step(rule: AlarmContextRule, event: CanonicalEvent) -> list[Alert]:
        rule.observe(event)
        return rule.advance(event.received_at, NOW)

    fired = resume_from_change_log(
        lambda: AlarmContextRule(CONFIG), step, stream, 5, lambda rule: rule.flush(NOW)
    )
    assert [a.event_ids for a in fired] == [
        ["a1", "p1", "f1", "p3"],
        ["a2", "p2"],
        ["a3", "p4", "p5"],
    ]
