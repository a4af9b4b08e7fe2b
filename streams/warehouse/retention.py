"""Retention enforced by the warehouse: each table's TTL, from the settings, set at every start.

Retention is a setting, not part of the frozen migrations: ``apply_retention`` runs after them
and changes a table's TTL only when it differs from the setting, so a restart costs nothing.
A table's first TTL applies to the rows it already holds at once (a part written without a TTL
would otherwise never expire: a day's part is merged once and then left alone); a changed TTL
applies to new parts and to existing parts as they merge (``materialize_ttl_after_modify = 0``:
no rewrite of the whole table at start). ``enforce_retention`` applies the TTLs to the rows
already stored, when an operator asks (a shortened retention must delete at once). On a cluster
the TTL is that of the tables holding the rows (``<table>_local`` on every shard, ON CLUSTER).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from streams.errors import WarehouseError
from streams.settings import Settings
from streams.warehouse.base import Warehouse, checked_identifier
from streams.warehouse.clustered import alter_target, local_table
from streams.warehouse.migrations import Migration, migrate


@dataclass(frozen=True)
class Retention:
    table: str
    column: str  # the time the age is counted from
    days: int

    @property
    def ttl(self) -> str:
        """The TTL expression as the engine writes it back in ``system.tables``."""
        if type(self.days) is not int or self.days < 1:  # only a validated number goes into SQL
            raise ValueError(f"retention of {self.table} must be a whole number of days >= 1")
        return f"toDateTime({checked_identifier(self.column)}) + toIntervalDay({self.days})"


def retention_plan(settings: Settings) -> list[Retention]:
    """The TTL of every table with a retention setting."""
    return [
        Retention("raw_captures", "received_at", settings.retention_raw_days),
        Retention("plate_captures", "captured_at", settings.retention_plates_days),
        Retention("plate_days", "day", settings.retention_plates_days),
        Retention("plate_names", "last_day", settings.retention_plates_days),
        # Biometric data: captures and their embeddings go together.
        Retention("face_captures", "captured_at", settings.retention_faces_days),
        Retention("face_vectors", "captured_at", settings.retention_faces_days),
        Retention("alarms", "captured_at", settings.retention_alarms_days),
        Retention("alerts", "occurred_at", settings.retention_alerts_days),
        Retention("correlations", "occurred_at", settings.retention_alerts_days),
        Retention("dead_letters", "failed_at", settings.retention_dead_letters_days),
        Retention("search_audit", "at", settings.retention_audit_days),
    ]


_TTL = re.compile(r" TTL (.+?)(?= SETTINGS |$)")


def current_ttls(warehouse: Warehouse, tables: list[str]) -> dict[str, str | None]:
    """Table -> its table TTL expression as the engine shows it (None: no TTL)."""
    rows = warehouse.query(
        "SELECT name, engine_full FROM system.tables "
        "WHERE database = currentDatabase() AND has({tables:Array(String)}, name)",
        {"tables": tables},
    )
    found: dict[str, str | None] = {}
    for row in rows:
        match = _TTL.search(str(row["engine_full"]))
        found[str(row["name"])] = match[1] if match else None
    return found


def apply_retention(warehouse: Warehouse, settings: Settings) -> list[Retention]:
    """Set each table's TTL from the settings where it differs; return the ones changed."""
    cluster = settings.warehouse_cluster
    plan = retention_plan(settings)
    # The table whose TTL counts: the one holding the rows (on a cluster, a node's local one).
    stored = {r.table: r.table if cluster is None else local_table(r.table) for r in plan}
    current = current_ttls(warehouse, list(stored.values()))
    missing = [stored[r.table] for r in plan if stored[r.table] not in current]
    if missing:
        raise WarehouseError(f"tables {missing} do not exist: run `streams migrate` first")
    changed = []
    for retention in plan:
        ttl = retention.ttl
        if current[stored[retention.table]] == ttl:
            continue
        first = current[stored[retention.table]] is None
        warehouse.command(
            f"ALTER TABLE {alter_target(retention.table, cluster)} MODIFY TTL {ttl} "
            f"SETTINGS materialize_ttl_after_modify = {int(first)}"
        )
        changed.append(retention)
    return changed


def enforce_retention(
    warehouse: Warehouse, settings: Settings, progress: Callable[[str], None] | None = None
) -> list[Retention]:
    """Apply each table's TTL to the rows it already holds, now: rows past their retention are
    deleted and the parts' TTL information recalculated (``MATERIALIZE TTL``, one mutation per
    table, waited for). It rewrites the parts that hold expired rows, so on large tables it
    takes minutes; returns the tables done."""
    cluster = settings.warehouse_cluster
    done = []
    for retention in retention_plan(settings):
        if progress is not None:
            progress(
                f"enforcing {retention.days}-day retention on {retention.table} "
                f"(by {retention.column})"
            )
        # mutations_sync = 2: returned once every replica has applied it (1 on a single node).
        warehouse.command(
            f"ALTER TABLE {alter_target(retention.table, cluster)} MATERIALIZE TTL "
            "SETTINGS mutations_sync = 2"
        )
        done.append(retention)
    return done


def bring_up_to_date(
    warehouse: Warehouse, settings: Settings, progress: Callable[[str], None] | None = None
) -> tuple[list[Migration], list[Retention]]:
    """Pending migrations applied, then retention set from the settings: what every process
    that opens the warehouse does first. Returns what changed; ``progress`` hears of each
    migration before it runs."""
    done = migrate(warehouse, cluster=settings.warehouse_cluster, progress=progress)
    return done, apply_retention(warehouse, settings)
