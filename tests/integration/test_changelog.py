"""The change log through the real broker: what a stage wrote is what a new owner rebuilds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from streams.agents.changelog import Changelog, PartitionedRules
from streams.correlate.state import Stateful, StateTable
from streams.kafka_admin import ensure_topics
from streams.metrics import COUNTERS, Metric
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


def test_partitions_are_read_together_each_into_its_own_tables(settings: Settings) -> None:
    rules, publisher = _owner(settings)
    rules.assign([0])
    for i in range(30):
        rules.get(0).seen[f"e{i}"] = i
    rules.write_changes()
    publisher.flush_sync()

    changelog = Changelog(settings, settings.topic(DEDUP_CHANGELOG.name), Publisher(settings))
    fresh = {0: Rule(), 1: Rule()}  # nothing was ever written to partition 1
    read = changelog.restore({p: (rule,) for p, rule in fresh.items()})
    assert read == {0: 30, 1: 0}
    assert dict(fresh[0].seen) == {f"e{i}": i for i in range(30)}
    assert dict(fresh[1].seen) == {}


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


def _owner(settings: Settings) -> tuple[PartitionedRules[Rule], Publisher]:
    ensure_topics(settings, [DEDUP_CHANGELOG])
    publisher = Publisher(settings)
    topic = settings.topic(DEDUP_CHANGELOG.name)
    return PartitionedRules(Changelog(settings, topic, publisher), Rule, lambda r: (r,)), publisher


def test_a_written_partition_given_back_is_kept_without_reading_the_change_log(
    settings: Settings,
) -> None:
    rules, publisher = _owner(settings)
    topic = settings.topic(DEDUP_CHANGELOG.name)
    rules.assign([0, 1])
    for i in range(50):
        rules.get(i % 2).seen[f"e{i}"] = i
    rules.write_changes()
    publisher.flush_sync()
    held = rules.get(0)
    held.scratch = "in memory only"  # type: ignore[attr-defined]
    restored_before = COUNTERS.get(Metric.STATE_RESTORED, topic)
    kept_before = COUNTERS.get(Metric.STATE_KEPT, topic)

    rules.revoke([0, 1], written=True)
    assert rules.items() == {}
    rules.assign([0])  # partition 1 went to another worker

    assert rules.get(0) is held
    assert COUNTERS.get(Metric.STATE_RESTORED, topic) == restored_before
    assert COUNTERS.get(Metric.STATE_KEPT, topic) == kept_before + 1
    assert rules.kept == {}  # what was not given back is dropped
    rules.assign([0, 1])  # partition 1 back later: read from the change log
    assert dict(rules.get(1).seen) == {f"e{i}": i for i in range(1, 50, 2)}
    assert COUNTERS.get(Metric.STATE_RESTORED, topic) == restored_before + 25


def _holding(settings: Settings, partition: int, key: str, value: int) -> PartitionedRules[Rule]:
    """An owner of ``partition`` that has written ``key`` to its change log."""
    rules, publisher = _owner(settings)
    rules.assign([partition])
    rules.get(partition).seen[key] = value
    rules.write_changes()
    publisher.flush_sync()
    return rules


def test_a_partition_written_to_by_another_owner_meanwhile_is_read_again(
    settings: Settings,
) -> None:
    rules = _holding(settings, 1, "mine", 1)
    held = rules.get(1)
    rules.revoke([1], written=True)
    other = _holding(settings, 1, "theirs", 2)
    other.revoke([1])

    rules.assign([1])
    assert rules.get(1) is not held
    assert dict(rules.get(1).seen) == {"mine": 1, "theirs": 2}


def test_a_partition_revoked_with_unwritten_changes_is_read_again(settings: Settings) -> None:
    rules = _holding(settings, 0, "written", 1)
    held = rules.get(0)
    held.seen["not written"] = 2  # a batch whose outputs were never acknowledged
    rules.revoke([0], written=False)
    rules.assign([0])
    assert rules.get(0) is not held
    assert dict(rules.get(0).seen) == {"written": 1}
