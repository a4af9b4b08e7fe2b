"""Retention from the settings as table TTLs, on the real embedded engine (chDB)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from streams.settings import Settings
from streams.warehouse.embedded import EmbeddedWarehouse
from streams.warehouse.retention import apply_retention, current_ttls, retention_plan

pytestmark = pytest.mark.integration

TABLES = [
    "raw_captures",
    "plate_captures",
    "plate_days",
    "face_captures",
    "face_vectors",
    "alarms",
    "alerts",
    "correlations",
    "dead_letters",
    "search_audit",
]


def _modified(warehouse: EmbeddedWarehouse) -> dict[str, str]:
    """When each table's metadata last changed (to the second: wait a second before a call
    whose changes should show)."""
    rows = warehouse.query(
        "SELECT name, toString(metadata_modification_time) AS at FROM system.tables "
        "WHERE database = currentDatabase()"
    )
    return {r["name"]: r["at"] for r in rows}


def test_ttls_follow_the_settings(migrated_warehouse: EmbeddedWarehouse) -> None:
    settings = Settings(retention_plates_days=60, retention_faces_days=14, retention_audit_days=400)
    changed = apply_retention(migrated_warehouse, settings)
    # raw_captures already has its 3 days from migration 0001.
    assert sorted(r.table for r in changed) == sorted(set(TABLES) - {"raw_captures"})
    assert current_ttls(migrated_warehouse, TABLES) == {
        "raw_captures": "toDateTime(received_at) + toIntervalDay(3)",
        "plate_captures": "toDateTime(captured_at) + toIntervalDay(60)",
        "plate_days": "toDateTime(day) + toIntervalDay(60)",
        "face_captures": "toDateTime(captured_at) + toIntervalDay(14)",
        "face_vectors": "toDateTime(captured_at) + toIntervalDay(14)",
        "alarms": "toDateTime(captured_at) + toIntervalDay(90)",
        "alerts": "toDateTime(occurred_at) + toIntervalDay(365)",
        "correlations": "toDateTime(occurred_at) + toIntervalDay(365)",
        "dead_letters": "toDateTime(failed_at) + toIntervalDay(30)",
        "search_audit": "toDateTime(at) + toIntervalDay(400)",
    }


def test_a_second_start_changes_nothing(migrated_warehouse: EmbeddedWarehouse) -> None:
    settings = Settings()
    apply_retention(migrated_warehouse, settings)
    before = _modified(migrated_warehouse)
    time.sleep(1.1)
    assert apply_retention(migrated_warehouse, settings) == []
    assert _modified(migrated_warehouse) == before


def test_a_changed_setting_changes_only_its_tables(migrated_warehouse: EmbeddedWarehouse) -> None:
    apply_retention(migrated_warehouse, Settings())
    before = _modified(migrated_warehouse)
    time.sleep(1.1)
    changed = apply_retention(
        migrated_warehouse, Settings(retention_faces_days=7, retention_raw_days=1)
    )
    assert sorted(r.table for r in changed) == ["face_captures", "face_vectors", "raw_captures"]
    ttls = current_ttls(migrated_warehouse, TABLES)
    assert ttls["face_vectors"] == "toDateTime(captured_at) + toIntervalDay(7)"
    assert ttls["raw_captures"] == "toDateTime(received_at) + toIntervalDay(1)"
    assert ttls["plate_captures"] == "toDateTime(captured_at) + toIntervalDay(90)"
    after = _modified(migrated_warehouse)
    assert after["face_vectors"] != before["face_vectors"]
    untouched = set(TABLES) - {"face_captures", "face_vectors", "raw_captures"}
    assert {t: after[t] for t in untouched} == {t: before[t] for t in untouched}


def test_the_engine_drops_expired_rows(migrated_warehouse: EmbeddedWarehouse) -> None:
    apply_retention(migrated_warehouse, Settings(retention_dead_letters_days=10))
    now = datetime.now(UTC)
    migrated_warehouse.insert(
        "dead_letters",
        [
            {
                "dead_letter_id": "old",
                "stage": "s",
                "reason": "r",
                "failed_at": now - timedelta(11),
            },
            {"dead_letter_id": "new", "stage": "s", "reason": "r", "failed_at": now - timedelta(9)},
        ],
    )
    migrated_warehouse.command("OPTIMIZE TABLE dead_letters FINAL")
    assert migrated_warehouse.query("SELECT dead_letter_id FROM dead_letters") == [
        {"dead_letter_id": "new"}
    ]


def test_every_table_with_a_setting_is_in_the_plan() -> None:
    assert sorted(r.table for r in retention_plan(Settings())) == sorted(TABLES)


def test_existing_rows_wait_for_a_merge(migrated_warehouse: EmbeddedWarehouse) -> None:
    now = datetime.now(UTC)
    for n, age in enumerate((40, 41)):  # two parts, written before any TTL
        migrated_warehouse.insert(
            "dead_letters",
            [
                {
                    "dead_letter_id": f"old{n}",
                    "stage": "s",
                    "reason": "",
                    "failed_at": now - timedelta(age),
                }
            ],
        )
    apply_retention(migrated_warehouse, Settings(retention_dead_letters_days=30))
    # No rewrite when the TTL is set: the expired rows are still there ...
    assert migrated_warehouse.query("SELECT count() AS n FROM dead_letters") == [{"n": 2}]
    # ... until the parts merge.
    migrated_warehouse.command("OPTIMIZE TABLE dead_letters FINAL")
    assert migrated_warehouse.query("SELECT count() AS n FROM dead_letters") == [{"n": 0}]
