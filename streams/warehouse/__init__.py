"""ClickHouse access behind one small interface, with two backends and one SQL dialect.

- ``chdb://PATH``: the embedded engine (chDB) in this process. Only one process may open a path;
  in embedded mode the worker process owns the warehouse.
- ``clickhouse://user:pass@host:9000/db``: a ClickHouse server over the native protocol.

Queries bind parameters server-side with ClickHouse's ``{name:Type}`` syntax on both backends;
values are never formatted into SQL.
"""

from streams.warehouse.base import Row, Warehouse, open_warehouse

__all__ = ["Row", "Warehouse", "open_warehouse"]
