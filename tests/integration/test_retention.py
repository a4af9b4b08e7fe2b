"""Retention from the settings as table TTLs, on the real embedded engine (chDB)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from streams.settings import Settings
from streams.warehouse.embedded import EmbeddedWarehouse
from streams.warehouse.retention import (
    apply_retention,
    current_ttls,
    enforce_retention,
    retention_plan,
)

pytestmark = pytest.mark.integration

TABLES = [
    "raw_captures",
    "plate_captures",
    "plate_days",
    "plate_names",
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
        "plate_names": "toDateTime(last_day) + toIntervalDay(60)",
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


def _dead_letter(dead_letter_id: str, age_days: int) -> dict[str, object]:
    failed_at = datetime.now(UTC) - timedelta(age_days)
    return {"dead_letter_id": dead_letter_id, "stage": "s", "reason": "", "failed_at": failed_at}


def test_a_first_ttl_applies_to_the_rows_already_there(
    migrated_warehouse: EmbeddedWarehouse,
) -> None:
    # Two parts written before any TTL: merged once, a day's part is never merged again, so
    # without a TTL of their own these rows would never expire.
    migrated_warehouse.insert("dead_letters", [_dead_letter("old0", 40)])
    migrated_warehouse.insert("dead_letters", [_dead_letter("old1", 41), _dead_letter("new", 5)])
    apply_retention(migrated_warehouse, Settings(retention_dead_letters_days=30))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the mutation runs in the background
        rows = migrated_warehouse.query("SELECT dead_letter_id FROM dead_letters")
        if rows == [{"dead_letter_id": "new"}]:
            break
        time.sleep(0.2)
    assert rows == [{"dead_letter_id": "new"}]


def test_a_changed_ttl_rewrites_nothing(migrated_warehouse: EmbeddedWarehouse) -> None:
    mutations = "SELECT count() AS n FROM system.mutations WHERE table = 'dead_letters'"
    apply_retention(migrated_warehouse, Settings(retention_dead_letters_days=30))
    first = migrated_warehouse.query(mutations)
    for n, age in enumerate((20, 21)):  # two parts, within the first TTL
        migrated_warehouse.insert("dead_letters", [_dead_letter(f"old{n}", age)])
    apply_retention(migrated_warehouse, Settings(retention_dead_letters_days=10))
    # The parts keep the TTL they were written with: no mutation rewrites them at start.
    time.sleep(1)
    assert migrated_warehouse.query("SELECT count() AS n FROM dead_letters") == [{"n": 2}]
    assert migrated_warehouse.query(mutations) == first
    # A part written now gets the new TTL; the older parts still keep theirs.
    migrated_warehouse.insert("dead_letters", [_dead_letter("new", 11)])
    migrated_warehouse.command("OPTIMIZE TABLE dead_letters FINAL")
    rows = migrated_warehouse.query("SELECT dead_letter_id FROM dead_letters ORDER BY 1")
    assert [r["dead_letter_id"] for r in rows] == ["old0", "old1"]


def test_enforcing_applies_a_shortened_retention_to_the_rows_already_stored(
    migrated_warehouse: EmbeddedWarehouse,
) -> None:
    apply_retention(migrated_warehouse, Settings(retention_faces_days=90))
    for n, age in enumerate((50, 60, 3)):
        migrated_warehouse.insert("dead_letters", [_dead_letter(f"letter{n}", age)])
    vectors = [
        {
            "event_id": f"f{age}",
            "device_id": "d",
            "captured_at": datetime.now(UTC) - timedelta(age),
            "embedding": [0.1] * 128,
        }
        for age in (50, 60, 3)
    ]
    migrated_warehouse.insert("face_vectors", vectors)
    shorter = Settings(retention_faces_days=30, retention_dead_letters_days=30)
    apply_retention(migrated_warehouse, shorter)
    assert migrated_warehouse.query("SELECT count() AS n FROM face_vectors") == [{"n": 3}]

    told: list[str] = []
    enforced = enforce_retention(migrated_warehouse, shorter, progress=told.append)

    # Returned once done: the expired rows are gone, the others kept.
    assert migrated_warehouse.query("SELECT event_id FROM face_vectors") == [{"event_id": "f3"}]
    rows = migrated_warehouse.query("SELECT dead_letter_id FROM dead_letters")
    assert rows == [{"dead_letter_id": "letter2"}]
    assert sorted(r.table for r in enforced) == sorted(TABLES)
    assert "enforcing 30-day retention on face_vectors (by captured_at)" in told
