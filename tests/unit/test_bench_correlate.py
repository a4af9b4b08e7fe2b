"""Parts of the correlation benchmark: the restart part of the alert-latency run (only the
captures sent after the kill count, and the first alert after it says how long the restart
took), where the warm-up ends, and the synthetic traffic's vehicles."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from streams.bench.correlate import (
    WARM_UP,
    _after_restart,
    cloned_plates,
    make_city,
    traffic,
    warm_up_index,
)
from streams.canonical import CanonicalEvent, PlateCapture
from streams.correlate.cloned_plate import ClonedPlateRule
from streams.correlate.config import RuleConfig
from streams.domain.geo import haversine_m
from tests.unit.correlate_builders import plate_capture


def test_only_captures_sent_after_the_kill_are_measured() -> None:
    kill = 1000.0
    intended = {"before": 999.5, "a": 1000.5, "b": 1001.0, "never": 1002.0}
    arrivals = {"before": 1007.0, "a": 1006.5, "b": 1006.6}
    counters = {"streams_state_records_restored_total": {"dedup": 1200, "plates": 300}}

    restart = _after_restart(kill, intended, arrivals, counters)

    assert restart["first_alert_seconds_after_kill"] == 6.5
    assert restart["alerts"] == 2  # "before" was sent before the kill, "never" raised none
    assert restart["p50_ms"] == 6000.0
    assert restart["max_ms"] == 6000.0
    assert restart["state_records_restored"] == 1500


def test_no_alert_after_the_kill_is_said_as_such() -> None:
    restart = _after_restart(10.0, {"a": 11.0}, {}, {})
    assert restart["first_alert_seconds_after_kill"] is None
    assert restart["alerts"] == 0
    assert restart["p99_ms"] is None
    assert restart["state_records_restored"] == 0


def test_the_warm_up_ends_at_the_first_capture_a_minute_after_the_first() -> None:
    seconds = [0.0, 10.0, 59.9, WARM_UP.total_seconds(), 61.0]
    events: list[CanonicalEvent] = [plate_capture(f"e{i}", s) for i, s in enumerate(seconds)]
    assert warm_up_index(events) == 3
    assert warm_up_index(events[:3]) is None  # the run ends inside the warm-up
    assert warm_up_index([]) is None


def test_only_plates_two_vehicles_carry_make_impossible_trips() -> None:
    city = make_city(devices=400, vehicles=3_000)
    cloned = cloned_plates(city)
    assert 0 < len(cloned) < len(city.plates) / 100
    start = datetime(2026, 11, 22, 8, tzinfo=UTC)
    plates = [e for e in traffic(city, 30_000, start, 60) if isinstance(e, PlateCapture)]
    rule = ClonedPlateRule(RuleConfig())
    fired: Counter[str] = Counter()
    for capture in plates:
        for alert in rule.observe(capture, start):
            fired.update(alert.plate_numbers)
    assert fired, "the cloned plates raise alerts"
    assert set(fired) <= cloned

    # Vehicles move: (nearly) every pass after a plate's first is at another device, one grid
    # step (about 1 km) from the last, after at least the step's drive at 80 km/h.
    last: dict[str, PlateCapture] = {}
    passes = 0
    for capture in plates:
        plate = capture.plate_number
        assert plate is not None
        before = last.get(plate)
        last[plate] = capture
        if before is None or plate in cloned or before.device_id == capture.device_id:
            continue  # a plate's first pass, a cloned plate, or another read of the same pass
        passes += 1
        a, b = before.position, capture.position
        assert a is not None
        assert b is not None
        seconds = (capture.captured_at - before.captured_at).total_seconds()
        metres = haversine_m(a.lat, a.lon, b.lat, b.lon)
        assert 900 < metres < 1100
        assert seconds >= 1000 / (80 / 3.6) - 1.3  # from the last read of the pass before
    first_passes = len({e.plate_number for e in plates})
    assert passes > first_passes
