"""Migration 0005: plate_captures rebuilt in smaller granules, on the real embedded engine.

The rows stored before it are all there after it, the views fed by the table neither count them
again nor stop counting new rows, the new granules are in force, repeating the migration after
an interruption loses nothing, and retention reaches the rows the rebuild carried over.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from streams.settings import Settings
from streams.warehouse.embedded import EmbeddedWarehouse
from streams.warehouse.migrations import MIGRATIONS_DIR, load_migrations, migrate
from streams.warehouse.retention import apply_retention
from streams.warehouse.rows import PLATE_DAYS_TABLE, PLATE_TABLE, rows_by_table
from tests.integration.test_search_queries import _plate

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
REBUILD = 5
LEFTOVER = "plate_captures_0005"
# What a warehouse migrated up to the one before the rebuild has left to apply.
FROM_REBUILD = [m.version for m in load_migrations() if m.version >= REBUILD]
DEVICES = ["D1", "D2", "D3"]


def _rows(prefix: str, count: int, days_ago: int, seed: int) -> list[dict[str, Any]]:
    """``count`` passes spread over the day ``days_ago`` days before today (one partition)."""
    rng = random.Random(seed)
    day = (NOW - timedelta(days=days_ago)).replace(hour=0, minute=0, second=0)
    passes = [
        _plate(
            f"{prefix}{i}",
            f"浙A{rng.randrange(100):02d}{rng.randrange(1000):03d}",
            rng.choice(DEVICES),
            day + timedelta(seconds=rng.randrange(86_400)),
        )
        for i in range(count)
    ]
    return rows_by_table(passes)[PLATE_TABLE]


def _before_rebuild(root: Path) -> EmbeddedWarehouse:
    """A warehouse migrated up to 0004 holding 3,000 passes of yesterday (100 of them stored
    twice, as a redelivery would) and 200 passes from 100 days ago."""
    earlier = root / "migrations"
    earlier.mkdir()
    for migration in load_migrations()[: REBUILD - 1]:
        shutil.copy(MIGRATIONS_DIR / migration.file_name, earlier / migration.file_name)
    wh = EmbeddedWarehouse(root / "wh", "streams")
    migrate(wh, earlier)
    recent = _rows("r", 3_000, 1, seed=1)
    wh.insert(PLATE_TABLE, recent)
    wh.insert(PLATE_TABLE, recent[:100])
    wh.insert(PLATE_TABLE, _rows("old", 200, 100, seed=2))
    return wh


def _contents(wh: EmbeddedWarehouse) -> list[dict[str, Any]]:
    return wh.query(f"SELECT * FROM {PLATE_TABLE} ORDER BY event_id")  # noqa: S608


def _counts(wh: EmbeddedWarehouse) -> dict[str, int]:
    """What the views fed by plate_captures have counted."""
    days = wh.query(f"SELECT sum(reads) AS n FROM {PLATE_DAYS_TABLE}")  # noqa: S608
    hourly = wh.query("SELECT sum(events) AS n FROM device_hourly WHERE kind = 'plate'")
    return {"plate_days": int(days[0]["n"]), "device_hourly": int(hourly[0]["n"])}


def _granule_rows(wh: EmbeddedWarehouse) -> int:
    """The most rows in one granule of the table's active parts."""
    rows = wh.query(
        f"SELECT max(rows_in_granule) AS n FROM mergeTreeIndex(currentDatabase(), {PLATE_TABLE})"  # noqa: S608
    )
    return int(rows[0]["n"])


def _bloom_filter_rows(wh: EmbeddedWarehouse) -> int:
    """Rows per filter of fuzzy search's bloom filter index."""
    (index,) = wh.query(
        "SELECT granularity FROM system.data_skipping_indices "
        "WHERE database = currentDatabase() AND table = {t:String} AND name = 'plate_folded_bf'",
        {"t": PLATE_TABLE},
    )
    settings = wh.query(
        "SELECT extract(engine_full, 'index_granularity = (\\d+)') AS g FROM system.tables "
        "WHERE database = currentDatabase() AND name = {t:String}",
        {"t": PLATE_TABLE},
    )
    return int(index["granularity"]) * int(settings[0]["g"])


def _tables(wh: EmbeddedWarehouse) -> set[str]:
    rows = wh.query("SELECT name FROM system.tables WHERE database = currentDatabase()")
    return {str(r["name"]) for r in rows}


Rebuilt = tuple[EmbeddedWarehouse, list[dict[str, Any]], dict[str, int]]


@pytest.fixture
def rebuilt(tmp_path: Path) -> Iterator[Rebuilt]:
    """The warehouse after migration 0005, the table's rows before it and the views' counts."""
    wh = _before_rebuild(tmp_path)
    assert _granule_rows(wh) > 1024
    contents, counts = _contents(wh), _counts(wh)
    assert [m.version for m in migrate(wh)] == FROM_REBUILD
    yield wh, contents, counts
    wh.close()


def test_the_rows_and_the_views_counts_survive(
    rebuilt: Rebuilt,
) -> None:
    wh, contents, counts = rebuilt
    after = _contents(wh)
    # The same rows, field for field; of the redelivered batch (landed twice, at two times)
    # the rewrite kept one copy.
    assert len(contents) == 3_300
    assert len(after) == 3_200
    assert {json.dumps(r, sort_keys=True) for r in after} <= {
        json.dumps(r, sort_keys=True) for r in contents
    }
    assert {r["event_id"] for r in after} == {r["event_id"] for r in contents}
    assert _counts(wh) == counts  # no view fired for the rows taken over
    assert LEFTOVER not in _tables(wh)


def test_the_new_granules_are_in_force(
    rebuilt: Rebuilt,
) -> None:
    wh, _contents_before, _counts_before = rebuilt
    assert _granule_rows(wh) == 1024
    engine = wh.query(
        "SELECT engine_full FROM system.tables WHERE database = currentDatabase() "
        "AND name = {t:String}",
        {"t": PLATE_TABLE},
    )[0]["engine_full"]
    assert "index_granularity = 1024" in engine
    assert "max_compress_block_size = 65536" in engine
    assert _bloom_filter_rows(wh) == 8192


def test_views_count_rows_landed_after_it(
    rebuilt: Rebuilt,
) -> None:
    wh, _contents_before, counts = rebuilt
    wh.insert(PLATE_TABLE, _rows("n", 50, 1, seed=3))
    assert _counts(wh) == {name: n + 50 for name, n in counts.items()}


def test_retention_reaches_the_rows_carried_over(
    rebuilt: Rebuilt,
) -> None:
    wh, _contents_before, _counts_before = rebuilt
    apply_retention(wh, Settings(retention_plates_days=90))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the first TTL is applied in the background
        old = wh.query(f"SELECT count() AS n FROM {PLATE_TABLE} WHERE startsWith(event_id, 'old')")  # noqa: S608
        if old == [{"n": 0}]:
            break
        time.sleep(0.2)
    assert old == [{"n": 0}]
    assert wh.query(f"SELECT count() AS n FROM {PLATE_TABLE}") == [{"n": 3_000}]  # noqa: S608


@pytest.mark.parametrize("done", range(1, 8))
def test_repeating_it_after_an_interruption_loses_no_row(tmp_path: Path, done: int) -> None:
    """The first ``done`` statements ran, then the process stopped; the next start runs the
    whole migration again (it was not recorded)."""
    wh = _before_rebuild(tmp_path)
    try:
        contents, counts = _contents(wh), _counts(wh)
        (migration,) = [m for m in load_migrations() if m.version == REBUILD]
        statements = migration.statements()
        assert statements[1].startswith("EXCHANGE")
        assert statements[5].startswith("DROP TABLE")
        for statement in statements[:done]:
            wh.command(statement)
        assert [m.version for m in migrate(wh)] == FROM_REBUILD
        after = _contents(wh)
        assert {r["event_id"] for r in after} == {r["event_id"] for r in contents}
        assert len(after) == 3_200
        assert _counts(wh) == counts
        assert LEFTOVER not in _tables(wh)
        # Stopped after the swap and before the old table was dropped, the repeat swaps the
        # names back: the old table stays, with every row, in its old granules (and the new
        # filter spans 8 of those).
        upgraded = done not in (2, 3, 4, 5)
        assert (_granule_rows(wh) == 1024) is upgraded
        assert _bloom_filter_rows(wh) == (8192 if upgraded else 65_536)
    finally:
        wh.close()
