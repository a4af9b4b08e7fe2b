"""Numbered, frozen, forward-only SQL migrations under ``schemas/clickhouse/``.

A migration file is ``NNNN_name.sql``: statements separated by ``;`` at the end of a line.
Applied migrations are recorded with a checksum; a file that changed after it was applied is an
error (migrations are frozen: fix forward with a new one).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from streams.errors import WarehouseError
from streams.warehouse.base import Warehouse

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "schemas" / "clickhouse"
MIGRATIONS_TABLE = "schema_migrations"
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_STATEMENT_END = re.compile(r";\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self) -> list[str]:
        """The statements of the file, comments-only fragments dropped."""
        parts = _STATEMENT_END.split(self.sql)
        return [p.strip() for p in parts if _has_code(p)]


def _has_code(fragment: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in fragment.splitlines())


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """All migration files, in version order; numbering must be unique and gap-free."""
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise WarehouseError(f"migration file {path.name} is not named NNNN_name.sql")
        found.append(Migration(int(match[1]), match[2], path.read_text(encoding="utf-8")))
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise WarehouseError(
                f"migration numbering has a gap or duplicate at {migration.version:04d}"
            )
    return found


def applied_migrations(warehouse: Warehouse) -> dict[int, str]:
    """Version -> checksum of the migrations already applied."""
    warehouse.command(
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} ("
        " version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC')"
        ") ENGINE = MergeTree ORDER BY version"
    )
    rows = warehouse.query(
        f"SELECT version, checksum FROM {MIGRATIONS_TABLE} ORDER BY version"  # noqa: S608  (constant)
    )
    return {int(r["version"]): str(r["checksum"]) for r in rows}


def migrate(warehouse: Warehouse, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Apply the pending migrations in order; return the ones applied now."""
    migrations = load_migrations(directory)
    applied = applied_migrations(warehouse)
    for migration in migrations:
        recorded = applied.get(migration.version)
        if recorded is not None and recorded != migration.checksum:
            raise WarehouseError(
                f"migration {migration.version:04d}_{migration.name} changed after it was "
                "applied; migrations are frozen, add a new one instead"
            )
    known = {m.version for m in migrations}
    unknown = sorted(set(applied) - known)
    if unknown:
        raise WarehouseError(
            f"the warehouse has migrations this code does not know: {unknown}; upgrade the code"
        )
    done: list[Migration] = []
    for migration in migrations:
        if migration.version in applied:
            continue
        for statement in migration.statements():
            warehouse.command(statement)
        warehouse.insert(
            MIGRATIONS_TABLE,
            [
                {
                    "version": migration.version,
                    "name": migration.name,
                    "checksum": migration.checksum,
                    "applied_at": datetime.now(UTC),
                }
            ],
        )
        done.append(migration)
    return done
