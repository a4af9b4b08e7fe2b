"""Parts of the correlation benchmark: the restart part of the alert-latency run (only the
captures sent after the kill count, and the first alert after it says how long the restart
took), and where the warm-up ends."""

from __future__ import annotations

from streams.bench.correlate import WARM_UP, _after_restart, warm_up_index
from streams.canonical import CanonicalEvent
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
