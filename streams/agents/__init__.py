"""The worker's stages: thin loops that move data between topics and the warehouse.

Which stage reads and writes which topic is stated in ``streams/app.py``; ``runner`` drives them.
"""

from __future__ import annotations

from streams.agents.correlate import AreaStage, DedupStage, PlatesStage
from streams.agents.normalize import NormalizeStage
from streams.agents.raw_archive import RawArchiveStage
from streams.agents.runner import Stage
from streams.agents.sink import WarehouseSinkStage
from streams.codecs.wire import wire_format
from streams.publisher import Publisher
from streams.settings import Settings
from streams.warehouse.base import Warehouse
from streams.worker_context import normalize_context


def build_stages(settings: Settings, warehouse: Warehouse) -> list[Stage]:
    wire = wire_format(settings)
    stages: list[Stage] = [
        NormalizeStage(settings, Publisher(settings), normalize_context(settings), wire),
        DedupStage(settings, Publisher(settings), wire),
        PlatesStage(settings, Publisher(settings), wire),
        AreaStage(settings, Publisher(settings), wire),
        WarehouseSinkStage(settings, warehouse, Publisher(settings), wire),
    ]
    if settings.archive_raw:
        stages.append(RawArchiveStage(settings, warehouse))
    return stages
