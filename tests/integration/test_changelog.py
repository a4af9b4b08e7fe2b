"""The change log through the real broker: what a stage wrote is what a new owner rebuilds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from streams.agents.changelog import Changelog, PartitionedRules
from streams.correlate.state import Stateful, StateTable
from streams.kafka_admin import ensure_topics
from streams.publisher import Publisher
from streams.settings import Settings
from streams.topics import DEDUP_CHANGELOG

pytestmark = pytest.mark.integration


class Rule(Stateful):
    def __init__(self) -> None:
        self.seen: StateTable[Any] = StateTable("rule.seen")
        self.open: StateTable[Any] = StateTable("rule.open")


def test_a_new_owner_rebuilds_exactly_the_written_state(settings: Settings) -> None:
    ensure_topics(settings, [DEDUP_CHANGELOG])
    topic = settings.topic(DEDUP_CHANGELOG.name)
    publisher = Publisher(settings)
    owner = PartitionedRules(Changelog(settings, topic, publisher), Rule, lambda r: (r,))
    owner.assign([0, 1])
    at = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(500):
        part = owner.get(i % 2)
        part.seen[f"e{i}"] = (at, i)
        part.open[f"k{i % 7}"] = ("pass", i)
    for i in range(0, 500, 3):
        del owner.get(i % 2).seen[f"e{i}"]
    assert owner.write_changes() > 0
    publisher.flush_sync()
    # A second round, as the next batch would write it.
    owner.get(0).seen["late"] = (at, -1)
    del owner.get(1).open["k1"]
    owner.write_changes()
    publisher.flush_sync()

    heir = PartitionedRules(Changelog(settings, topic, Publisher(settings)), Rule, lambda r: (r,))
    heir.assign([0, 1])
    for partition in (0, 1):
        assert dict(heir.get(partition).seen) == dict(owner.get(partition).seen)
        assert dict(heir.get(partition).open) == dict(owner.get(partition).open)
    assert "k1" not in heir.get(1).open
    # Restoring does not count as a change to write again.
    assert heir.write_changes() == 0


def test_revoked_partitions_are_dropped_and_rebuilt_on_return(settings: Settings) -> None:
    ensure_topics(settings, [DEDUP_CHANGELOG])
    topic = settings.topic(DEDUP_CHANGELOG.name)
    publisher = Publisher(settings)
    rules = PartitionedRules(Changelog(settings, topic, publisher), Rule, lambda r: (r,))
    rules.assign([1])
    rules.get(1).seen["x"] = 1
    rules.write_changes()
    publisher.flush_sync()
    rules.revoke([1])
    assert 1 not in rules.items()
    rules.assign([1])
    assert dict(rules.get(1).seen) == {"x": 1}
