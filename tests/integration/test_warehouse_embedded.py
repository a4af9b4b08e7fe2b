"""The warehouse interface against the real embedded engine (chDB)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from streams.errors import WarehouseError
from streams.warehouse.embedded import EmbeddedWarehouse, param_text
from streams.warehouse.migrations import (
    MIGRATIONS_TABLE,
    load_migrations,
    migrate,
    wait_until_migrated,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[EmbeddedWarehouse]:
    wh = EmbeddedWarehouse(tmp_path / "wh", "streams")
    yield wh
    wh.close()


def _table(wh: EmbeddedWarehouse) -> None:
    wh.command(
        "CREATE TABLE t (id UInt64, name String, at DateTime64(3, 'UTC'), tags Array(String)) "
        "ENGINE = ReplacingMergeTree ORDER BY id "
        "SETTINGS non_replicated_deduplication_window = 100"
    )


def test_insert_and_query_round_trip(warehouse: EmbeddedWarehouse) -> None:
    _table(warehouse)
    at = datetime(2026, 3, 1, 8, 30, 15, 123000, tzinfo=UTC)
    sent = warehouse.insert("t", [{"id": 1, "name": "浙A12345", "at": at, "tags": ["a", "b"]}])
    assert sent == 1
    rows = warehouse.query("SELECT id, name, toString(at) AS at, tags FROM t")
    assert rows == [
        {"id": 1, "name": "浙A12345", "at": "2026-03-01 08:30:15.123", "tags": ["a", "b"]}
    ]


def test_parameters_are_bound_not_formatted(warehouse: EmbeddedWarehouse) -> None:
    _table(warehouse)
    warehouse.insert("t", [{"id": 1, "name": "x", "at": datetime.now(UTC), "tags": []}])
    hostile = "x' OR 1=1 --"
    rows = warehouse.query(
        "SELECT count() AS n FROM t WHERE name = {name:String}", {"name": hostile}
    )
    assert rows == [{"n": 0}]
    rows = warehouse.query(
        "SELECT count() AS n FROM t WHERE name IN {names:Array(String)}", {"names": ["x", hostile]}
    )
    assert rows == [{"n": 1}]


def test_datetime_and_array_parameters(warehouse: EmbeddedWarehouse) -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)
    rows = warehouse.query(
        "SELECT toString({at:DateTime64(3, 'UTC')}) AS at, length({xs:Array(String)}) AS n",
        {"at": at, "xs": ["it's", "b\\c"]},
    )
    assert rows == [{"at": "2026-01-02 03:04:05.006", "n": 2}]
    with pytest.raises(ValueError, match="naive"):
        param_text(datetime(2026, 1, 1))  # noqa: DTZ001  (the naive value is the point)


def test_retried_batch_with_same_token_is_inserted_once(warehouse: EmbeddedWarehouse) -> None:
    _table(warehouse)
    rows = [{"id": i, "name": "n", "at": datetime.now(UTC), "tags": []} for i in range(5)]
    warehouse.insert("t", rows, dedup_token="topic:0:0-4")
    warehouse.insert("t", rows, dedup_token="topic:0:0-4")
    assert warehouse.query("SELECT count() AS n FROM t") == [{"n": 5}]
    warehouse.insert("t", rows, dedup_token="topic:0:5-9")
    # A different token inserts again; the ReplacingMergeTree key is the second net.
    assert warehouse.query("SELECT count() AS n FROM t FINAL") == [{"n": 5}]


def test_rejected_statement_is_a_warehouse_error(warehouse: EmbeddedWarehouse) -> None:
    with pytest.raises(WarehouseError, match=r"UNKNOWN_TABLE|does not exist"):
        warehouse.query("SELECT * FROM no_such_table")


def test_columns_the_rows_leave_out_get_their_default(warehouse: EmbeddedWarehouse) -> None:
    _table(warehouse)
    warehouse.command("ALTER TABLE t ADD COLUMN landed DateTime64(3, 'UTC') DEFAULT now64(3)")
    before = datetime.now(UTC).replace(microsecond=0)
    warehouse.insert("t", [{"id": 1, "name": "x", "at": before, "tags": []}])
    [row] = warehouse.query(
        "SELECT landed >= {before:DateTime64(3, 'UTC')} AS now FROM t", {"before": before}
    )
    assert row == {"now": 1}


def test_an_insert_the_engine_refuses_after_parsing_is_an_error(
    warehouse: EmbeddedWarehouse,
) -> None:
    # Refusals that come after the rows were parsed: a constraint of the table, and a
    # materialized view that throws. Both must reach the caller, or its offsets would pass
    # rows that never landed.
    _table(warehouse)
    warehouse.command("ALTER TABLE t ADD CONSTRAINT named CHECK name != 'refused'")
    rows = [
        {"id": 1, "name": "kept", "at": datetime.now(UTC), "tags": []},
        {"id": 2, "name": "refused", "at": datetime.now(UTC), "tags": []},
    ]
    with pytest.raises(WarehouseError, match="VIOLATED_CONSTRAINT"):
        warehouse.insert("t", rows)
    assert warehouse.query("SELECT count() AS n FROM t") == [{"n": 0}]

    warehouse.command("CREATE TABLE seen (id UInt64) ENGINE = MergeTree ORDER BY id")
    warehouse.command(
        "CREATE MATERIALIZED VIEW seen_ids TO seen AS "
        "SELECT id FROM t WHERE throwIf(id = 3, 'view refuses 3') = 0"
    )
    with pytest.raises(WarehouseError, match="view refuses 3"):
        warehouse.insert("t", [{"id": 3, "name": "x", "at": datetime.now(UTC), "tags": []}])
    warehouse.insert("t", [rows[0]])
    assert warehouse.query("SELECT id FROM seen") == [{"id": 1}]


def test_migrate_applies_once_and_records(warehouse: EmbeddedWarehouse) -> None:
    first = migrate(warehouse)
    assert [m.version for m in first] == [m.version for m in load_migrations()]
    assert migrate(warehouse) == []
    recorded = warehouse.query(
        f"SELECT version, name FROM {MIGRATIONS_TABLE} ORDER BY version"  # noqa: S608
    )
    assert [r["version"] for r in recorded] == [m.version for m in first]
    tables = {r["name"] for r in warehouse.query("SELECT name FROM system.tables")}
    assert "raw_captures" in tables


def test_waiting_applies_nothing_and_returns_once_another_thread_migrated(
    warehouse: EmbeddedWarehouse, tmp_path: Path
) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_first.sql").write_text(
        "CREATE TABLE a (x UInt8) ENGINE = MergeTree ORDER BY x;\n"
    )
    (folder / "0002_second.sql").write_text(
        "CREATE TABLE b (x UInt8) ENGINE = MergeTree ORDER BY x;\n"
    )
    heard: list[str] = []
    with pytest.raises(WarehouseError, match=r"0001_first\.sql, 0002_second\.sql were not applied"):
        wait_until_migrated(
            warehouse, timeout=0.3, directory=folder, progress=heard.append, poll_seconds=0.05
        )
    assert heard == ["waiting for another process to apply 0001_first.sql, 0002_second.sql"]
    tables = {r["name"] for r in warehouse.query("SELECT name FROM system.tables")}
    assert not {"a", "b", MIGRATIONS_TABLE} & tables  # nothing created while waiting

    migrator = threading.Timer(0.5, lambda: migrate(warehouse, folder))
    migrator.start()
    started = time.monotonic()
    wait_until_migrated(warehouse, timeout=30, directory=folder, poll_seconds=0.05)
    assert time.monotonic() - started >= 0.4
    migrator.join()
    recorded = warehouse.query(f"SELECT version FROM {MIGRATIONS_TABLE} ORDER BY 1")  # noqa: S608
    assert [r["version"] for r in recorded] == [1, 2]


@pytest.mark.parametrize("again", ["migrate", "wait"])
def test_changed_migration_is_refused(
    warehouse: EmbeddedWarehouse, tmp_path: Path, again: str
) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    path = folder / "0001_first.sql"
    path.write_text("CREATE TABLE a (x UInt8) ENGINE = MergeTree ORDER BY x;\n")
    migrate(warehouse, folder)
    path.write_text("CREATE TABLE a (x UInt16) ENGINE = MergeTree ORDER BY x;\n")
    check = {
        "migrate": lambda: migrate(warehouse, folder),
        "wait": lambda: wait_until_migrated(warehouse, timeout=30, directory=folder),
    }[again]
    with pytest.raises(WarehouseError, match="frozen"):
        check()


def test_migration_numbering_must_not_have_gaps(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0003_c.sql").write_text("SELECT 1;")
    with pytest.raises(WarehouseError, match="gap"):
        load_migrations(tmp_path)


def test_multi_statement_migration_splits_on_line_end_semicolons(tmp_path: Path) -> None:
    (tmp_path / "0001_two.sql").write_text(
        "-- two tables\nCREATE TABLE a (s String DEFAULT ';') ENGINE = Memory;\n"
        "CREATE TABLE b (x UInt8) ENGINE = Memory;\n-- trailing comment\n"
    )
    (migration,) = load_migrations(tmp_path)
    assert len(migration.statements()) == 2


def test_a_comment_line_ending_in_a_semicolon_does_not_end_the_statement(
    warehouse: EmbeddedWarehouse, tmp_path: Path
) -> None:
    (tmp_path / "0001_commented.sql").write_text(
        "CREATE TABLE a\n(\n    -- the key; see below;\n    k UInt8\n)\nENGINE = Memory;\n"
        "-- done;\n"
    )
    (migration,) = load_migrations(tmp_path)
    [statement] = migration.statements()
    assert statement.startswith("CREATE TABLE a")
    assert statement.endswith("ENGINE = Memory")
    migrate(warehouse, tmp_path)
    assert warehouse.query("SELECT name FROM system.columns WHERE table = 'a'") == [{"name": "k"}]


def test_second_process_on_same_path_gets_a_clear_error(
    warehouse: EmbeddedWarehouse, tmp_path: Path
) -> None:
    code = (
        "import sys\n"
        "from streams.warehouse.embedded import EmbeddedWarehouse\n"
        "from streams.errors import WarehouseError\n"
        f"try:\n    EmbeddedWarehouse({str(tmp_path / 'wh')!r}, 'streams')\n"
        "except WarehouseError as e:\n    print(e); sys.exit(3)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 3, result.stderr
    assert "open in another process" in result.stdout
