"""What a worker process owns at run time: its warehouse handle and its stages.

The embedded warehouse may be opened by one process only, so the worker opens it once before
the app starts (see ``streams.worker``) and everything in the process shares that handle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from streams.warehouse.offloop import OffLoopWarehouse

if TYPE_CHECKING:
    from streams.agents.runner import StageService

_warehouse: OffLoopWarehouse | None = None
_stages: StageService | None = None


def install(warehouse: OffLoopWarehouse, stages: StageService) -> None:
    global _warehouse, _stages
    _warehouse, _stages = warehouse, stages


def current_warehouse() -> OffLoopWarehouse:
    if _warehouse is None:
        raise RuntimeError("no warehouse in this process: start it with `streams worker`")
    return _warehouse


def current_stages() -> StageService:
    if _stages is None:
        raise RuntimeError("no stages in this process: start it with `streams worker`")
    return _stages
