"""The server backend: a ClickHouse server over the native protocol (clickhouse-driver)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from streams.errors import WarehouseError
from streams.warehouse.base import LANDING_SETTINGS, Params, Row, checked_identifier


def redact_url(url: str) -> str:
    """The URL with any password replaced, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


class ServerWarehouse:
    """A clickhouse-driver client; parameters are bound by the server (``{name:Type}``)."""

    def __init__(self, url: str, password: str | None = None) -> None:
        from clickhouse_driver import Client

        self._url = redact_url(url)
        extra: dict[str, Any] = {"settings": {"server_side_params": True}}
        if password is not None:
            extra["password"] = password
        try:
            self._client = Client.from_url(url, **extra)
            self._client.execute("SELECT 1")
        except Exception as exc:
            raise WarehouseError(f"cannot reach ClickHouse at {self._url}: {exc}") from None

    @property
    def description(self) -> str:
        return self._url

    def command(self, sql: str, params: Params | None = None) -> None:
        self._execute(sql, params)

    def query(self, sql: str, params: Params | None = None) -> list[dict[str, Any]]:
        rows, columns = self._execute(sql, params, with_column_types=True)
        names = [name for name, _type in columns]
        return [dict(zip(names, row, strict=True)) for row in rows]

    def insert(self, table: str, rows: Sequence[Row], *, dedup_token: str | None = None) -> int:
        if not rows:
            return 0
        columns = list(rows[0].keys())
        column_sql = ", ".join(checked_identifier(c) for c in columns)
        values = [tuple(row[c] for c in columns) for row in rows]
        # insert_distributed_sync (distributed_foreground_insert): through a Distributed table
        # (clustered schema) the insert returns once the shards hold the rows; no-op otherwise.
        settings: dict[str, Any] = {**LANDING_SETTINGS, "insert_distributed_sync": 1}
        if dedup_token is not None:
            settings["insert_deduplication_token"] = dedup_token
        try:
            self._client.execute(
                f"INSERT INTO {checked_identifier(table)} ({column_sql}) VALUES",
                values,
                settings=settings,
            )
        except Exception as exc:
            raise WarehouseError(f"insert into {table} failed: {exc}") from exc
        return len(rows)

    def _execute(self, sql: str, params: Params | None, **kwargs: Any) -> Any:
        try:
            return self._client.execute(sql, dict(params) if params else None, **kwargs)
        except Exception as exc:
            raise WarehouseError(f"warehouse rejected a statement: {exc}") from exc

    def close(self) -> None:
        self._client.disconnect()
