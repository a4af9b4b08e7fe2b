"""The warehouse interface and the factory that picks a backend from the URL."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

from streams.errors import ConfigError
from streams.settings import Settings

Row = Mapping[str, Any]
Params = Mapping[str, Any]

# Settings of every insert that lands pipeline data, on every backend. Synchronous: the sink
# acknowledges offsets after the insert returns. A retried insert (same deduplication token)
# reaches the materialized views again, and each drops what it already stored (migration 0007):
# a view that failed gets its rows, the others count nothing twice.
LANDING_SETTINGS: Mapping[str, int] = {
    "async_insert": 0,
    "deduplicate_blocks_in_dependent_materialized_views": 1,
}


def settings_text(settings: Mapping[str, int]) -> str:
    """Numeric settings as the text after ``SETTINGS``."""
    return ", ".join(f"{checked_identifier(k)}={int(v)}" for k, v in settings.items())


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


def checked_identifier(name: str) -> str:
    """Table and column names are the only text put into SQL; they must be plain identifiers."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return name


class Warehouse(Protocol):
    """What the pipeline and the search need from ClickHouse."""

    @property
    def description(self) -> str:
        """Where the warehouse is, without secrets."""
        ...

    def command(self, sql: str, params: Params | None = None) -> None:
        """Run a statement that returns no rows (DDL, ALTER, ...)."""
        ...

    def query(self, sql: str, params: Params | None = None) -> list[dict[str, Any]]:
        """Run a SELECT and return its rows as dicts."""
        ...

    def insert(
        self,
        table: str,
        rows: Sequence[Row],
        *,
        dedup_token: str | None = None,
    ) -> int:
        """Insert rows (dicts of Python values; datetimes UTC-aware) in one block.

        ``dedup_token`` makes a retried insert of the same batch a no-op on tables with a
        deduplication window. Returns the number of rows sent.
        """
        ...

    def close(self) -> None: ...


def open_warehouse(settings: Settings) -> Warehouse:
    """Open the warehouse named by ``settings.warehouse_url``."""
    url = settings.warehouse_url
    parts = urlsplit(url)
    if parts.scheme == "chdb":
        from streams.warehouse.embedded import EmbeddedWarehouse

        path = (parts.netloc + parts.path) or ".local/warehouse"
        return EmbeddedWarehouse(path, settings.warehouse_database)
    if parts.scheme == "clickhouse":
        from streams.warehouse.server import ServerWarehouse

        password = settings.warehouse_password
        return ServerWarehouse(url, password.get_secret_value() if password else None)
    raise ConfigError(f"warehouse URL must start with chdb:// or clickhouse://, got {url!r}")
