"""The restart part of the alert-latency benchmark: only the captures sent after the kill
count, and the first alert after it says how long the restart took."""

from __future__ import annotations

from streams.bench.correlate import _after_restart


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
