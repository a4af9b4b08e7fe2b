"""What a worker process owns at run time: its warehouse handle.

The embedded warehouse may be opened by one process only, so the worker opens it once before
the app starts (see ``streams.worker``) and everything in the process shares that handle.
"""

from __future__ import annotations

from streams.warehouse.offloop import OffLoopWarehouse

_warehouse: OffLoopWarehouse | None = None


def install_warehouse(warehouse: OffLoopWarehouse) -> None:
    global _warehouse
    _warehouse = warehouse


def current_warehouse() -> OffLoopWarehouse:
    if _warehouse is None:
        raise RuntimeError("no warehouse in this process: start it with `streams worker`")
    return _warehouse


def release_warehouse() -> None:
    global _warehouse
    if _warehouse is not None:
        _warehouse.close()
        _warehouse = None
