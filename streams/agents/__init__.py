"""The worker's stages: thin loops that move data between topics and the warehouse.

Which stage reads and writes which topic is stated in ``streams/app.py``; ``runner`` drives them.
"""

from __future__ import annotations

from collections.abc import Callable

from streams.agents.correlate import AreaStage, DedupStage, PlatesStage
from streams.agents.normalize import NormalizeStage
from streams.agents.raw_archive import RawArchiveStage
from streams.agents.runner import Stage
from streams.agents.sink import WarehouseSinkStage
from streams.codecs.wire import wire_format
from streams.errors import ConfigError
from streams.publisher import Publisher
from streams.settings import Settings
from streams.warehouse.base import Warehouse
from streams.worker_context import normalize_context

STAGE_NAMES = ("normalize", "dedup", "plates", "area", "warehouse_sink", "raw_archive")


def selected_stages(settings: Settings) -> list[str]:
    """The stage names ``worker_stages`` asks for, in pipeline order."""
    text = settings.worker_stages.strip()
    if text == "all":
        return [n for n in STAGE_NAMES if n != "raw_archive" or settings.archive_raw]
    wanted = {name.strip() for name in text.split(",") if name.strip()}
    unknown = wanted - set(STAGE_NAMES)
    if unknown or not wanted:
        raise ConfigError(
            f"STREAMS_WORKER_STAGES: unknown stage(s) {sorted(unknown)}; "
            f"known: all, {', '.join(STAGE_NAMES)}"
        )
    return [n for n in STAGE_NAMES if n in wanted]


def build_stages(settings: Settings, warehouse: Warehouse) -> list[Stage]:
    wire = wire_format(settings)
    builders: dict[str, Callable[[], Stage]] = {
        "normalize": lambda: NormalizeStage(
            settings, Publisher(settings), normalize_context(settings), wire
        ),
        "dedup": lambda: DedupStage(settings, Publisher(settings), wire),
        "plates": lambda: PlatesStage(settings, Publisher(settings), wire),
        "area": lambda: AreaStage(settings, Publisher(settings), wire),
        "warehouse_sink": lambda: WarehouseSinkStage(
            settings, warehouse, Publisher(settings), wire
        ),
        "raw_archive": lambda: RawArchiveStage(settings, warehouse, Publisher(settings), wire),
    }
    return [builders[name]() for name in selected_stages(settings)]
