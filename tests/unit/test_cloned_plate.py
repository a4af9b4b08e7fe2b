"""Cloned plates: impossible trips of one plate between two devices."""

from __future__ import annotations

import itertools
import math
from datetime import timedelta
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from streams.canonical.models import GeoPoint, ImageKind, PlateCapture
from streams.correlate.cloned_plate import MAX_SIGHTINGS_PER_PLATE, ClonedPlateRule
from streams.correlate.config import RuleConfig
from streams.correlate.records import Alert, digest_id
from streams.domain.geo import haversine_m
from tests.unit.correlate_builders import (
    CONFIG,
    NOW,
    SLACK,
    T0,
    plate_capture,
    resume_from_change_log,
)

BEIJING = (39.9042, 116.4074)
SHANGHAI = (31.2304, 121.4737)


def sighting(
    event_id: str,
    device: str,
    seconds: float,
    where: tuple[float, float] | None,
    plate: str | None = "京A12345",
) -> PlateCapture:
    position = None if where is None else GeoPoint(lat=where[0], lon=where[1])
    return plate_capture(
        event_id, seconds, plate, device=device, position=position, image=ImageKind.SCENE
    )


def feed(rule: ClonedPlateRule, events: list[PlateCapture]) -> list[Alert]:
    return [alert for event in events for alert in rule.observe(event, NOW)]


def test_beijing_and_shanghai_within_an_hour() -> None:
    rule = ClonedPlateRule(CONFIG)
    first = sighting("e1", "bj", 0.0, BEIJING)
    second = sighting("e2", "sh", 3600.0, SHANGHAI)
    assert rule.observe(first, NOW) == []
    [alert] = rule.observe(second, NOW)
    distance = haversine_m(*BEIJING, *SHANGHAI)
    assert alert.alert_id == digest_id("cloned_plate", "e1", "e2")
    assert alert.rule == "cloned_plate"
    assert alert.priority == CONFIG.cloned_priority
    assert alert.subject == "京A12345"
    assert alert.occurred_at == second.captured_at
    assert alert.raised_at == NOW
    assert alert.plate_numbers == ["京A12345"]
    assert alert.device_ids == ["bj", "sh"]
    assert alert.event_ids == ["e1", "e2"]
    assert [s.event_id for s in alert.evidence] == ["e1", "e2"]
    assert alert.evidence[0].position == GeoPoint(lat=BEIJING[0], lon=BEIJING[1])
    assert alert.evidence[0].plate_number == "京A12345"
    assert alert.evidence[1].images == second.images
    assert alert.details == {
        "distance_m": f"{distance:.1f}",
        "seconds": "3600.000",
        "speed_kmh": f"{distance / 1000:.1f}",
        "max_speed_kmh": "250",
    }
    # evidence is built without validation: it must be exactly what validation gives
    assert Alert.model_validate(alert.model_dump()) == alert
    assert Alert.model_validate_json(alert.model_dump_json()) == alert


def test_the_pair_gives_the_same_alert_in_either_arrival_order() -> None:
    events = [sighting("e1", "bj", 0.0, BEIJING), sighting("e2", "sh", 3600.0, SHANGHAI)]
    forward = feed(ClonedPlateRule(CONFIG), events)
    backward = feed(ClonedPlateRule(CONFIG), events[::-1])
    assert forward == backward
    assert len(forward) == 1


def test_possible_trips_same_device_and_near_devices_never_fire() -> None:
    rule = ClonedPlateRule(CONFIG)
    trips = [
        # 100 km in one hour
        [sighting("a1", "d1", 0, (30.0, 120.0)), sighting("a2", "d2", 3600, (30.9, 120.0))],
        # the same device, however implausible its reported positions
        [
            sighting("b1", "d3", 0, (31.0, 121.0), "沪A00001"),
            sighting("b2", "d3", 1, (32.0, 121.0), "沪A00001"),
        ],
        # two devices 600 m apart seeing the plate at the same instant
        [
            sighting("c1", "d4", 0, (30.0, 120.0), "沪B00002"),
            sighting("c2", "d5", 0, (30.0054, 120.0), "沪B00002"),
        ],
    ]
    for trip in trips:
        assert feed(rule, trip) == [], trip[0].event_id


def test_the_same_instant_far_apart_is_impossible() -> None:
    rule = ClonedPlateRule(CONFIG)
    [alert] = feed(
        rule, [sighting("e1", "d1", 5, (30.0, 120.0)), sighting("e2", "d2", 5, (30.02, 120.0))]
    )
    assert alert.details["speed_kmh"] == "inf"
    assert alert.details["seconds"] == "0.000"


def test_unreadable_plates_positionless_and_repeated_sightings_are_ignored() -> None:
    rule = ClonedPlateRule(CONFIG)
    assert rule.observe(sighting("u1", "d1", 0, BEIJING, plate=None), NOW) == []
    assert rule.observe(sighting("p1", "d1", 0, None), NOW) == []
    assert dict(rule.sightings) == {}
    first = sighting("e1", "bj", 0, BEIJING)
    second = sighting("e2", "sh", 60, SHANGHAI)
    assert len(feed(rule, [first, second])) == 1
    assert feed(rule, [second, first]) == []  # offered again: no new pair
    assert len(rule.sightings["京A12345"]) == 2


def test_one_alert_per_impossible_pair() -> None:
    rule = ClonedPlateRule(CONFIG)
    alerts = feed(
        rule,
        [
            sighting("e1", "bj1", 0, BEIJING),
            sighting("e2", "bj2", 600, (39.95, 116.45)),  # 6 km in 10 min: possible
            sighting("e3", "sh", 1800, SHANGHAI),  # impossible from either
        ],
    )
    assert [a.event_ids for a in alerts] == [["e1", "e3"], ["e2", "e3"]]


def test_sightings_older_than_the_memory_do_not_count() -> None:
    config = RuleConfig(cloned_memory=timedelta(minutes=30))
    rule = ClonedPlateRule(config)
    alerts = feed(rule, [sighting("e1", "bj", 0, BEIJING), sighting("e2", "sh", 1801, SHANGHAI)])
    assert alerts == []  # 1200 km in 30 minutes would be impossible, but e1 is forgotten


def test_expire_drops_old_sightings_and_idle_plates() -> None:
    rule = ClonedPlateRule(CONFIG)
    feed(rule, [sighting("e1", "d1", 0, BEIJING), sighting("e2", "d2", 600, (39.95, 116.45))])
    feed(rule, [sighting("x1", "d1", 30, BEIJING, "沪A00001")])
    keep = CONFIG.cloned_memory + SLACK
    rule.expire(T0 + keep)
    assert len(rule.sightings["京A12345"]) == 2
    rule.expire(T0 + keep + timedelta(seconds=31))
    assert [s[1] for s in rule.sightings["京A12345"]] == ["e2"]
    assert "沪A00001" not in rule.sightings
    rule.expire(T0 + keep + timedelta(seconds=601))
    assert dict(rule.sightings) == {}
    assert list(rule.sightings.take_changes())[-1] == ("沪A00001", None, False)


def test_a_plate_keeps_at_most_its_newest_sightings() -> None:
    rule = ClonedPlateRule(CONFIG)
    for i in range(MAX_SIGHTINGS_PER_PLATE + 10):
        rule.observe(sighting(f"e{i:04d}", "d1", i, BEIJING), NOW)
    kept = rule.sightings["京A12345"]
    assert len(kept) == MAX_SIGHTINGS_PER_PLATE
    assert kept[0][1] == "e0010"


# ------------------------------------------------------------------------------------------
# properties

MAX_MPS = CONFIG.max_speed_kmh / 3.6
coordinates = st.tuples(
    st.floats(min_value=29.5, max_value=31.0), st.floats(min_value=119.5, max_value=121.0)
)


@given(
    coordinates,
    st.floats(min_value=-1.0, max_value=1.0),
    st.floats(min_value=-1.0, max_value=1.0),
    st.floats(min_value=1.0, max_value=5.0),
)
def test_never_fires_for_a_physically_possible_trip(
    a: tuple[float, float], dlat: float, dlon: float, slowness: float
) -> None:
    b = (a[0] + dlat, a[1] + dlon)
    distance = haversine_m(*a, *b)
    # the shortest feasible time (or more), to the millisecond; at least 1 ms
    millis = max(1, math.ceil(distance / MAX_MPS * 1000 * slowness))
    seconds = millis / 1000
    assume(distance / seconds * 3.6 <= CONFIG.max_speed_kmh)
    for first, second in [("d1", "d2"), ("d2", "d1")]:
        rule = ClonedPlateRule(CONFIG)
        events = [sighting("e1", first, 0, a), sighting("e2", second, seconds, b)]
        assert feed(rule, events) == []
        assert feed(ClonedPlateRule(CONFIG), events[::-1]) == []


@st.composite
def journeys(draw: st.DrawFn) -> list[PlateCapture]:
    """Sightings of two plates at a few devices, in arbitrary arrival order."""
    devices = draw(st.lists(coordinates, min_size=2, max_size=5))
    count = draw(st.integers(min_value=2, max_value=10))
    events = []
    for i in range(count):
        device = draw(st.integers(min_value=0, max_value=len(devices) - 1))
        millis = draw(st.integers(min_value=0, max_value=3_600_000))
        plate = draw(st.sampled_from(["京A12345", "京B54321"]))
        events.append(sighting(f"e{i}", f"d{device}", millis / 1000, devices[device], plate))
    return events


def oracle(events: list[PlateCapture], config: RuleConfig) -> set[str]:
    """Every impossible pair, by brute force."""
    found = set()
    for a, b in itertools.combinations(events, 2):
        if a.plate_number != b.plate_number or a.device_id == b.device_id:
            continue
        assert a.position is not None
        assert b.position is not None
        seconds = abs((a.captured_at - b.captured_at).total_seconds())
        if seconds > config.cloned_memory.total_seconds():
            continue
        distance = haversine_m(a.position.lat, a.position.lon, b.position.lat, b.position.lon)
        if distance < config.cloned_min_distance_m:
            continue
        if seconds == 0 or distance / seconds * 3.6 > config.max_speed_kmh:
            found.add(digest_id("cloned_plate", *sorted((a.event_id, b.event_id))))
    return found


@settings(max_examples=200)
@given(journeys(), st.randoms(use_true_random=False))
def test_alerts_are_exactly_the_impossible_pairs_in_any_order(
    events: list[PlateCapture], random: Any
) -> None:
    shuffled = list(events)
    random.shuffle(shuffled)
    alerts = feed(ClonedPlateRule(CONFIG), shuffled)
    assert len(alerts) == len({a.alert_id for a in alerts})
    assert {a.alert_id for a in alerts} == oracle(events, CONFIG)
    in_order = {a.alert_id: a for a in feed(ClonedPlateRule(CONFIG), events)}
    assert {a.alert_id: a for a in alerts} == in_order


# ------------------------------------------------------------------------------------------
# restore


def test_a_rule_rebuilt_from_its_change_log_continues_identically() -> None:
    config = RuleConfig(cloned_memory=timedelta(minutes=20))
    west, east, far = (30.0, 120.0), (30.0, 120.5), (30.9, 121.0)
    stream = [
        sighting("e1", "w", 0, west),
        sighting("x1", "w", 10, west, "沪A00001"),
        sighting("e2", "e", 60, east),  # 48 km in a minute: impossible
        sighting("x2", "far", 120, far, "沪A00001"),  # impossible
        sighting("e3", "far", 1500, far),  # e1, e2 forgotten or out of the memory
        sighting("e4", "w", 1560, west),  # impossible with e3
        sighting("x3", "e", 4000, east, "沪A00001"),
        sighting("x4", "far", 4005, far, "沪A00001"),
    ]

    def step(rule: ClonedPlateRule, event: PlateCapture) -> list[Alert]:
        fired = rule.observe(event, NOW)
        rule.expire(event.captured_at)
        return fired

    fired = resume_from_change_log(lambda: ClonedPlateRule(config), step, stream, 3)
    assert [a.event_ids for a in fired] == [["x1", "x2"], ["e3", "e4"], ["x3", "x4"]]
