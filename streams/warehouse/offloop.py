"""Warehouse queries from the worker's event loop (its HTTP endpoints), run on one dedicated
thread so the loop never blocks on ClickHouse. The stages insert from their own threads."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from streams.warehouse.base import Params, Warehouse


class OffLoopWarehouse:
    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warehouse")

    async def query(self, sql: str, params: Params | None = None) -> list[dict[str, Any]]:
        call = partial(self.warehouse.query, sql, params)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.warehouse.close()
