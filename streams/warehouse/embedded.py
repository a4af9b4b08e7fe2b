"""The embedded backend: the ClickHouse engine in this process through chDB."""

from __future__ import annotations

import fcntl
import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from streams.errors import WarehouseError
from streams.warehouse.base import (
    LANDING_SETTINGS,
    Params,
    Row,
    checked_identifier,
    settings_text,
)

# Rows arrive as JSON; ISO timestamps with offsets need the lenient parser.
_INSERT_SETTINGS = "date_time_input_format='best_effort', " + settings_text(LANDING_SETTINGS)


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    raise TypeError(f"cannot store {type(value).__name__} in the warehouse")


def param_text(value: Any, nested: bool = False) -> str:
    """A parameter value in the text form chDB expects for ``{name:Type}``.

    Top-level strings are read in the escaped (TSV) format, so backslashes and control
    characters are escaped; inside arrays and tuples strings are quoted and escaped.
    """
    if isinstance(value, str):
        return _quote(value) if nested else value.translate(_ESCAPED)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime parameter: use UTC-aware datetimes")
        return (
            _quote(value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"))
            if nested
            else (value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"))
        )
    if isinstance(value, list | tuple):
        inner = ",".join(param_text(v, nested=True) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    if value is None:
        return "NULL" if nested else "\\N"
    return str(value)


class EmbeddedWarehouse:
    """chDB session on a directory. One process per directory: a second one fails to lock it."""

    def __init__(self, path: str | Path, database: str) -> None:
        from chdb import session

        open_session: Any = session.Session  # chDB ships without type hints

        self.path = Path(path).resolve()
        self.database = checked_identifier(database)
        self._lock = threading.Lock()
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            self._session: Any = open_session(str(self.path))
        except RuntimeError as exc:
            owner = _lock_owner(self.path)
            if owner is not None:
                raise WarehouseError(
                    f"the embedded warehouse at {self.path} is open in another process "
                    f"({owner}; chDB allows one process per path): stop it or use its API"
                ) from None
            raise WarehouseError(
                f"cannot open the embedded warehouse at {self.path}: {exc}"
            ) from None
        self._run(f"CREATE DATABASE IF NOT EXISTS {self.database}")
        self._run(f"USE {self.database}")

    @property
    def description(self) -> str:
        return f"chdb://{self.path} (database {self.database})"

    def _run(self, sql: str, params: Params | None = None, fmt: str = "JSONEachRow") -> bytes:
        try:
            with self._lock:
                result = self._session.query(sql, fmt, params=_texts(params))
        except Exception as exc:  # chDB raises its own error types, all with ClickHouse's text
            raise WarehouseError(f"warehouse rejected a statement: {exc}") from exc
        data: bytes = result.bytes()
        return data

    def command(self, sql: str, params: Params | None = None) -> None:
        self._run(sql, params)

    def query(self, sql: str, params: Params | None = None) -> list[dict[str, Any]]:
        data = self._run(sql, params)
        return [orjson.loads(line) for line in data.splitlines() if line]

    def insert(self, table: str, rows: Sequence[Row], *, dedup_token: str | None = None) -> int:
        if not rows:
            return 0
        settings = _INSERT_SETTINGS
        if dedup_token is not None:
            # The token is built by the project from topic/partition/offsets; quote it anyway.
            settings += ", insert_deduplication_token=" + _quote(dedup_token)
        # One JSON array (JSONEachRow reads it as rows): one call into orjson for the batch.
        body = orjson.dumps(rows if isinstance(rows, list) else list(rows), default=_json_default)
        # Through a file, not chDB's streaming insert: that one reports success when the engine
        # refuses the block after parsing it (a violated constraint, a materialized view that
        # throws), and the rows are gone. (Inline in the statement works too, 25 % slower.)
        # Columns named, so those the rows leave out get their DEFAULT (landed_at).
        names = ", ".join(checked_identifier(c) for c in rows[0])
        head = f"INSERT INTO {checked_identifier(table)} ({names}) SETTINGS {settings}"
        self._insert_file(
            table,
            body,
            lambda path: f"{head} SELECT * FROM file({path}, 'JSONEachRow')",  # noqa: S608
        )
        return len(rows)

    def insert_avro(
        self,
        table: str,
        columns: Sequence[str],
        select: str,
        structure: str,
        data: bytes,
        *,
        settings: str,
        dedup_token: str | None = None,
    ) -> int:
        """Insert the rows ``select`` makes of an Avro object container: ``select`` reads the
        records from ``{source}`` (columns as in ``structure``). Returns the rows the engine
        wrote, those of materialized views on ``table`` included.

        The engine reads the container from a file: a streaming insert takes no SELECT, and a
        query's text cannot carry binary data.
        """
        if dedup_token is not None:
            settings += ", insert_deduplication_token=" + _quote(dedup_token)
        names = ", ".join(checked_identifier(c) for c in columns)
        source = "file({path}, 'Avro', " + _quote(structure) + ")"
        return self._insert_file(
            table,
            data,
            lambda path: (
                f"INSERT INTO {checked_identifier(table)} ({names}) SETTINGS {settings} "
                + select.replace("{source}", source.replace("{path}", path))
            ),
        )

    def _insert_file(self, table: str, data: bytes, statement: Callable[[str], str]) -> int:
        """Run the INSERT ``statement(path)`` reads from a file holding ``data`` (``path`` comes
        quoted); returns the rows the engine wrote."""
        fd, name = tempfile.mkstemp(prefix="streams-sink-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            try:
                with self._lock:
                    result = self._session.query(statement(_quote(name)), "JSONEachRow")
            except Exception as exc:
                raise WarehouseError(f"insert into {table} failed: {exc}") from exc
            written: int = result.rows_written()
            return written
        finally:
            os.unlink(name)

    def close(self) -> None:
        with self._lock:
            self._session.close()


def _lock_owner(path: Path) -> str | None:
    """Who holds the engine's lock on ``path/status`` (the engine writes its PID there)."""
    status = path / "status"
    try:
        with status.open("rb") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                first = handle.read(64).decode(errors="replace").splitlines()
                return first[0].strip() if first else "unknown process"
            fcntl.flock(handle, fcntl.LOCK_UN)
    except FileNotFoundError:
        return None
    return None


def _texts(params: Params | None) -> dict[str, str] | None:
    return {k: param_text(v) for k, v in params.items()} if params else None


# The escaped format of a top-level parameter: a bare newline or tab ends the value there.
_ESCAPED = str.maketrans({"\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"})


def _quote(text: str) -> str:
    return "'" + text.translate(_QUOTED) + "'"


_QUOTED = str.maketrans({**{chr(k): v for k, v in _ESCAPED.items()}, "'": "\\'"})
