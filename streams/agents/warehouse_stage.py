"""What the stages that land batches in the warehouse share: rows per table, each table
inserted with retry and an idempotency token, the offsets committed only once all have landed.

``process`` of a subclass prepares the rows of its batch per table (:meth:`prepare`); the
runner then calls ``flush``, which lands them table by table. A table that landed is not
inserted again while a later one is retried (its token would absorb the repeat, but it costs an
insert). The runner commits after ``flush`` returns, so an outage holds the committed offsets.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

from streams.metrics import COUNTERS, Metric
from streams.settings import Settings
from streams.warehouse.base import Row, Warehouse
from streams.warehouse.landing import Backoff, dedup_token, land_with_retry, offset_ranges


class WarehouseStage:
    """Base of the warehouse sinks (``Stage`` protocol of ``streams.agents.runner``)."""

    name: str
    topics: Sequence[str]

    def __init__(self, settings: Settings, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        self.backoff = Backoff(settings.sink_retry_initial_seconds, settings.sink_retry_max_seconds)
        self.batch_size = settings.sink_batch_size
        self.batch_wait = settings.sink_flush_seconds
        self.checkpoint_seconds = 0.0  # every batch: inserts are large, commits follow them
        # Table -> (rows, insert_deduplication_token) of the batch, until landed.
        self.unlanded: dict[str, tuple[Sequence[Row], str]] = {}

    def process(self, messages: Sequence[Any]) -> None:
        raise NotImplementedError

    def prepare(
        self, table: str, rows: Sequence[Row], positions: Iterable[tuple[str, int, int]]
    ) -> None:
        """Rows for ``table`` from the messages at ``positions`` (topic, partition, offset):
        the same messages always give the same token, so a redelivered batch is absorbed."""
        if table in self.unlanded:
            # The runner flushes after every batch; rows of two batches under one token would
            # make a later redelivery of either look new.
            raise RuntimeError(f"{self.name}: rows for {table} prepared twice without a flush")
        self.unlanded[table] = (rows, dedup_token(table, offset_ranges(positions)))

    def flush(self, stopping: threading.Event) -> None:
        for table in list(self.unlanded):
            rows, token = self.unlanded[table]
            landed = land_with_retry(
                lambda: self.warehouse.insert(table, rows, dedup_token=token),  # noqa: B023
                self.backoff,
                stopping,
                what=table,
                on_failure=lambda _exc: COUNTERS.add(Metric.SINK_INSERT_FAILURES, table),  # noqa: B023
            )
            del self.unlanded[table]
            COUNTERS.add(Metric.ROWS_LANDED, table, landed)
            COUNTERS.add(Metric.SINK_BATCHES, table)

    def after_commit(self) -> None:
        return None
