"""``streams bench side-by-side`` at a small size through the real broker: the limit, ours and the
Quix Streams peer each move every payload, and their numbers add up."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.bench.side_by_side import compare, peer_interpreter
from streams.bench.side_by_side_report import BEGIN, END, table, write_section
from streams.localkafka import LocalKafka
from streams.settings import Settings

pytestmark = pytest.mark.integration

PAYLOADS = 1_500


def test_limit_ours_and_peer_move_every_event(
    settings: Settings, kafka_broker: LocalKafka, tmp_path: Path
) -> None:
    python, why = peer_interpreter()
    assert python is not None, why  # `make install` creates .venv/peer: missing is a failure
    comparison = compare(
        settings, PAYLOADS, broker_pid=kafka_broker.running_pid(), say=lambda _line: None
    )

    data = comparison.dataset
    events = data["canonical_events"]
    assert data["payloads"] == PAYLOADS
    assert PAYLOADS < events < 2 * PAYLOADS
    assert comparison.skipped == {}
    assert set(comparison.results) == {"limit", "ours", "peer"}
    for result in comparison.results.values():
        assert result.payloads == PAYLOADS
        assert result.wall_seconds > 0
        assert result.cpu_seconds > 0
        assert result.per_second == pytest.approx(PAYLOADS / result.wall_seconds)
        assert result.per_core == pytest.approx(PAYLOADS / result.cpu_seconds)
        assert result.broker_cpu_seconds is not None
        assert result.broker_cpu_seconds >= 0

    limit, ours, peer = (comparison.results[n] for n in ("limit", "ours", "peer"))
    assert limit.outputs == PAYLOADS  # every raw message copied once
    assert limit.duplicates == 0
    planted = data["repushes"] + data["second_snapshots"]
    for deduplicated in (ours, peer):
        # Every canonical event passed on once or dropped as a duplicate, and the planted
        # duplicates (about 12 % of the events) mostly found.
        assert deduplicated.outputs + deduplicated.duplicates == events
        assert planted // 2 <= deduplicated.duplicates <= events // 4

    printed = table(comparison)
    assert "limit: confluent-kafka copy loop" in printed
    assert "ours / peer per core" in printed

    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\nSomething else.\n")
    write_section(docs, comparison)
    write_section(docs, comparison)  # a re-run replaces the section
    text = docs.read_text()
    assert text.startswith("# Benchmarks\n\nSomething else.\n")
    assert text.count(BEGIN) == 1
    assert text.count(END) == 1
    assert f"{PAYLOADS:,} raw payloads" in text
