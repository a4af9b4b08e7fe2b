"""The correlation scenario through the real broker: its events produced as the normalize stage
would, what the offline run expects of it, and the worker's outputs read back."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from streams.canonical import CanonicalEvent
from streams.codecs.avro import encode
from streams.correlate.pipeline import run_offline
from streams.correlate.records import Alert, Correlation
from streams.correlate.watchlist import watchlist_from_entries
from streams.kafka_admin import ensure_topics
from streams.publisher import Publisher
from streams.settings import Settings
from streams.topics import (
    ALARMS,
    ALERTS,
    FACE_CAPTURES,
    PLATE_CAPTURES,
    UNIQUE_ALARMS,
    UNIQUE_FACES,
    UNIQUE_PLATES,
)
from streams.watchlist_topic import publish_entries
from tests.correlate_scenario import Scenario, build, watchlist_entries
from tests.integration.kafka_reading import read_topic

CAPTURE_TOPICS = {"plate": PLATE_CAPTURES, "face": FACE_CAPTURES, "alarm": ALARMS}


def scenario_start() -> datetime:
    return (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)


def produce(settings: Settings, events: list[CanonicalEvent]) -> None:
    # The same producer (and partitioner) as the normalize stage: keyed by device.
    publisher = Publisher(settings)
    for event in events:
        topic = settings.topic(CAPTURE_TOPICS[event.kind].name)
        publisher.produce(topic, encode(event), event.device_id.encode())
    publisher.flush_sync()


def offline_records(settings: Settings, scenario: Scenario, t0: datetime) -> list[Any]:
    watchlist = watchlist_from_entries(watchlist_entries(t0))
    return list(run_offline(scenario.events, settings.rule_config(), watchlist, t0))


def expected_ids(offline: list[Any], scenario: Scenario) -> tuple[set[str], set[str], set[str]]:
    # The last ticks never close in the worker (nothing comes after them); offline flushes them.
    unique = {
        r.event_id
        for r in offline
        if getattr(r, "kind", None) in ("plate", "face", "alarm")
        and r.event_id not in scenario.ticks
    }
    alerts = {r.alert_id for r in offline if isinstance(r, Alert)}
    correlations = {r.correlation_id for r in offline if isinstance(r, Correlation)}
    return unique, alerts, correlations


# The scenario's alerts by rule (the offline run is checked the same way in
# tests/unit/test_correlate_offline.py).
ALERTS_BY_RULE = {"watchlist": 5, "cloned_plate": 1, "convoy": 1, "alarm_context": 1}


def read_outputs(
    settings: Settings, alert_ids: set[str], unique_ids: set[str]
) -> tuple[list[Any], list[Any]]:
    """The alerts and the unique events the worker published, once it published them all."""
    alerts = read_topic(settings, settings.topic(ALERTS.name), len(alert_ids), timeout=120)
    return alerts, read_unique(settings, len(unique_ids))


def assert_each_once(
    alerts: list[Any], unique: list[Any], alert_ids: set[str], unique_ids: set[str]
) -> None:
    """Exactly the expected alerts and unique events, none published twice."""
    assert Counter(a.rule for a in alerts) == ALERTS_BY_RULE
    assert {a.alert_id for a in alerts} == alert_ids
    assert len(alerts) == len(alert_ids), "an alert was published twice"
    assert {e.event_id for e in unique} == unique_ids
    assert len(unique) == len(unique_ids), "a unique event was published twice"


def read_unique(settings: Settings, expected: int) -> list[Any]:
    found: list[Any] = []
    for spec in (UNIQUE_PLATES, UNIQUE_FACES, UNIQUE_ALARMS):
        found += read_topic(settings, settings.topic(spec.name), 0, timeout=1)
    deadline = time.monotonic() + 90
    while len({e.event_id for e in found}) < expected and time.monotonic() < deadline:
        time.sleep(1)
        found = []
        for spec in (UNIQUE_PLATES, UNIQUE_FACES, UNIQUE_ALARMS):
            found += read_topic(settings, settings.topic(spec.name), 0, timeout=1)
    return found


def prepared(settings: Settings) -> tuple[Scenario, set[str], set[str], set[str]]:
    """Topics made and the watchlist published; the scenario, with the unique event, alert and
    correlation ids the offline run expects of it."""
    ensure_topics(settings)
    t0 = scenario_start()
    scenario = build(t0)
    offline = offline_records(settings, scenario, t0)
    unique_ids, alert_ids, correlation_ids = expected_ids(offline, scenario)
    publish_entries(settings, watchlist_entries(t0))
    return scenario, unique_ids, alert_ids, correlation_ids
