from __future__ import annotations

import pytest

from streams.kafka_admin import needs_update, topic_config
from streams.topics import ALL_TOPICS, RAW, SOURCES, WATCHLIST, raw_topic_name


def test_every_topic_declared_once() -> None:
    names = [spec.name for spec in ALL_TOPICS]
    assert len(names) == len(set(names))


def test_one_raw_topic_per_source() -> None:
    assert set(RAW) == set(SOURCES)
    assert all(RAW[s].name == f"raw.{s}" for s in SOURCES)


def test_unknown_source_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown source"):
        raw_topic_name("axis")


def test_watchlist_is_compacted_and_raw_topics_expire() -> None:
    assert topic_config(WATCHLIST)["cleanup.policy"] == "compact"
    assert topic_config(RAW["gat1400"])["retention.ms"] == str(72 * 3600 * 1000)


def test_change_logs_are_compacted_with_small_segments() -> None:
    from streams.topics import AREA_CHANGELOG, DEDUP_CHANGELOG, PLATES_CHANGELOG

    for spec in (DEDUP_CHANGELOG, PLATES_CHANGELOG, AREA_CHANGELOG):
        config = topic_config(spec)
        assert config["cleanup.policy"] == "compact"
        assert int(config["segment.ms"]) <= 3600 * 1000
    # The area stage sees every device: its input and its change log have one partition.
    from streams.topics import AREA

    assert AREA.partitions == 1
    assert AREA_CHANGELOG.partitions == 1
    assert DEDUP_CHANGELOG.partitions is None  # partitioned like the capture topics


def test_existing_topics_get_only_what_correctness_needs() -> None:
    # Records may grow, never shrink below what is declared; the operator may allow more.
    assert needs_update("max.message.bytes", "8454144", "1048588")
    assert needs_update("max.message.bytes", "8454144", None)
    assert not needs_update("max.message.bytes", "8454144", "8454144")
    assert not needs_update("max.message.bytes", "8454144", "16777216")
    # A change log or the watchlist must be compacted.
    assert needs_update("cleanup.policy", "compact", "delete")
    assert not needs_update("cleanup.policy", "compact", "compact")
    # Tuning stays as the operator set it.
    assert not needs_update("retention.ms", "259200000", "1000")
    assert not needs_update("segment.ms", "600000", "3600000")
