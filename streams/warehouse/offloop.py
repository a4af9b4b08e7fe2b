"""Runs warehouse calls on one dedicated thread, so the event loop never blocks on ClickHouse.

One thread keeps the embedded engine's session on a single thread and orders the calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from streams.warehouse.base import Params, Row, Warehouse


class OffLoopWarehouse:
    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warehouse")

    async def insert(self, table: str, rows: Sequence[Row], *, dedup_token: str | None) -> int:
        call = partial(self.warehouse.insert, table, rows, dedup_token=dedup_token)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def query(self, sql: str, params: Params | None = None) -> list[dict[str, Any]]:
        call = partial(self.warehouse.query, sql, params)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.warehouse.close()
