"""Numbered, frozen, forward-only SQL migrations under ``schemas/clickhouse/``.

A migration file is ``NNNN_name.sql``: statements separated by ``;`` at the end of a line.
Applied migrations are recorded with a checksum; a file that changed after it was applied is an
error (migrations are frozen: fix forward with a new one).

On a cluster (``cluster`` given) the same files are applied in their clustered form
(:mod:`streams.warehouse.clustered`); the checksums stay those of the files.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from streams.errors import WarehouseError
from streams.warehouse.base import Warehouse
from streams.warehouse.clustered import (
    DEFAULT_CLUSTER,
    checked_cluster,
    checked_database,
    clustered_statements,
    render_clustered_schema,
)

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "schemas" / "clickhouse"
CLUSTERED_SCHEMA_FILE = MIGRATIONS_DIR / "clustered" / "schema.sql"
MIGRATIONS_TABLE = "schema_migrations"
MIGRATIONS_TABLE_DDL = (
    f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} ("
    " version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC')"
    ") ENGINE = MergeTree ORDER BY version"
)
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def file_name(self) -> str:
        return f"{self.version:04d}_{self.name}.sql"

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self) -> list[str]:
        """The statements of the file, comments-only fragments dropped. A statement ends at a
        line of code ending in ``;``; a comment line ending in one does not end it."""
        parts: list[str] = []
        current: list[str] = []
        for line in self.sql.splitlines():
            current.append(line)
            code = line.strip()
            if code.endswith(";") and not code.startswith("--"):
                current[-1] = line.rstrip()[:-1]
                parts.append("\n".join(current))
                current = []
        parts.append("\n".join(current))
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


def applied_migrations(warehouse: Warehouse, *, cluster: str | None = None) -> dict[int, str]:
    """Version -> checksum of the migrations already applied."""
    if cluster is None:
        warehouse.command(MIGRATIONS_TABLE_DDL)
    else:
        _clustered_migrations_table(warehouse, cluster)
    return _read_recorded(warehouse)


def migrate(
    warehouse: Warehouse,
    directory: Path = MIGRATIONS_DIR,
    *,
    cluster: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Migration]:
    """Apply the pending migrations in order; return the ones applied now.

    With ``cluster``, the clustered form of each migration is applied (ON CLUSTER DDL).
    ``progress`` hears of each migration before it runs (one may rewrite a large table).
    """
    migrations = load_migrations(directory)
    # Each migration is translated before anything runs: one without a clustered form stops
    # the run before it changes anything.
    statements = {m.version: m.statements() for m in migrations}
    if cluster is not None:
        database = _current_database(warehouse)
        statements = {
            m.version: clustered_statements(
                statements[m.version], cluster, database, origin=m.file_name
            )
            for m in migrations
        }
    applied = applied_migrations(warehouse, cluster=cluster)
    _check_applied(migrations, applied)
    done: list[Migration] = []
    for migration in migrations:
        if migration.version in applied:
            continue
        if progress is not None:
            progress(f"applying warehouse migration {migration.file_name}")
        for statement in statements[migration.version]:
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


def wait_until_migrated(
    warehouse: Warehouse,
    *,
    timeout: float,
    directory: Path = MIGRATIONS_DIR,
    progress: Callable[[str], None] | None = None,
    poll_seconds: float = 2.0,
) -> None:
    """Return once every migration of ``directory`` is recorded as applied, applying none.

    For processes that must not migrate themselves (a deploy runs one migration Job while the
    pods' init containers wait): a rebuild such as 0005 must not run twice at once.

    Raises:
        WarehouseError: ``timeout`` seconds passed first, or the recorded migrations disagree
            with these files.
    """
    migrations = load_migrations(directory)
    deadline = time.monotonic() + timeout
    announced: list[str] | None = None
    while True:
        applied = _recorded_migrations(warehouse)
        _check_applied(migrations, applied)
        pending = [m.file_name for m in migrations if m.version not in applied]
        if not pending:
            return
        if progress is not None and pending != announced:
            progress(f"waiting for another process to apply {', '.join(pending)}")
            announced = pending
        if time.monotonic() >= deadline:
            raise WarehouseError(
                f"migrations {', '.join(pending)} were not applied within {timeout:g} s: run "
                "`streams migrate` (on Kubernetes, the streams-migrate Job) and see its log"
            )
        time.sleep(poll_seconds)


def _recorded_migrations(warehouse: Warehouse) -> dict[int, str]:
    """Version -> checksum as recorded, without creating anything (none: no record yet)."""
    found = warehouse.query(
        "SELECT count() AS n FROM system.tables "
        "WHERE database = currentDatabase() AND name = {name:String}",
        {"name": MIGRATIONS_TABLE},
    )
    return _read_recorded(warehouse) if int(found[0]["n"]) else {}


def _read_recorded(warehouse: Warehouse) -> dict[int, str]:
    rows = warehouse.query(
        f"SELECT version, checksum FROM {MIGRATIONS_TABLE} ORDER BY version"  # noqa: S608  (constant)
    )
    return {int(r["version"]): str(r["checksum"]) for r in rows}


def _check_applied(migrations: list[Migration], applied: dict[int, str]) -> None:
    """The recorded migrations are these files, unchanged, and none is unknown to this code."""
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


def clustered_schema(
    cluster: str = DEFAULT_CLUSTER, database: str | None = None, directory: Path = MIGRATIONS_DIR
) -> str:
    """The whole clustered schema as SQL text: the migrations table, then every migration."""
    parts: list[tuple[str, list[str]]] = [
        (f"{MIGRATIONS_TABLE}: the record of applied migrations", [MIGRATIONS_TABLE_DDL])
    ]
    parts += [(m.file_name, m.statements()) for m in load_migrations(directory)]
    return render_clustered_schema(parts, cluster, database)


def _current_database(warehouse: Warehouse) -> str:
    rows = warehouse.query("SELECT currentDatabase() AS db")
    return checked_database(str(rows[0]["db"]))


def _clustered_migrations_table(warehouse: Warehouse, cluster: str) -> None:
    """The migrations table, replicated to every node, made on the first run only: ON CLUSTER
    DDL waits for every node, which every process start should not."""
    found = warehouse.query(
        "SELECT engine FROM system.tables "
        "WHERE database = currentDatabase() AND name = {name:String}",
        {"name": MIGRATIONS_TABLE},
    )
    if found and str(found[0]["engine"]).startswith("Replicated"):
        return
    if found:
        raise WarehouseError(
            "this database was migrated for a single node (its schema_migrations is not "
            "replicated): the clustered schema starts on a new database "
            "(docs/clickhouse-cluster.md), or unset STREAMS_WAREHOUSE_CLUSTER"
        )
    database = _current_database(warehouse)
    # The other nodes may not have the database yet; the migrations need it everywhere.
    warehouse.command(
        f"CREATE DATABASE IF NOT EXISTS {database} ON CLUSTER '{checked_cluster(cluster)}'"
    )
    for statement in clustered_statements([MIGRATIONS_TABLE_DDL], cluster, database):
        warehouse.command(statement)
