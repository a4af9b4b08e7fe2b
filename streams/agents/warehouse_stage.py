"""What the stages that land batches in the warehouse share: rows per table, each table
inserted with retry and an idempotency token, the offsets committed only once all have landed.

``process`` of a subclass prepares the inserts of its batch (:meth:`prepare` for rows of a
table, :meth:`prepare_insert` for any other insert); the runner then calls ``flush``, which
lands them one by one. An insert that landed is not made again while a later one is retried
(its token would absorb the repeat, but it costs an insert). The runner commits after ``flush``
returns, so an outage holds the committed offsets.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
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
        # Key -> (table, one attempt at the insert, returning the rows landed), until landed.
        self.unlanded: dict[str, tuple[str, Callable[[], int]]] = {}

    def process(self, messages: Sequence[Any]) -> None:
        raise NotImplementedError

    def prepare(
        self, table: str, rows: Sequence[Row], positions: Iterable[tuple[str, int, int]]
    ) -> None:
        """Rows for ``table`` from the messages at ``positions`` (topic, partition, offset):
        the same messages always give the same token, so a redelivered batch is absorbed."""
        token = dedup_token(table, offset_ranges(positions))
        self.prepare_insert(
            table, table, lambda: self.warehouse.insert(table, rows, dedup_token=token)
        )

    def prepare_insert(self, key: str, table: str, insert: Callable[[], int]) -> None:
        """An insert into ``table`` for this batch, under a ``key`` unique in the batch."""
        if key in self.unlanded:
            # The runner flushes after every batch; rows of two batches under one token would
            # make a later redelivery of either look new.
            raise RuntimeError(f"{self.name}: rows for {key} prepared twice without a flush")
        self.unlanded[key] = (table, insert)

    def flush(self, stopping: threading.Event) -> None:
        for key in list(self.unlanded):
            table, insert = self.unlanded[key]
            landed = land_with_retry(
                insert,
                self.backoff,
                stopping,
                what=table,
                on_failure=lambda _exc: COUNTERS.add(Metric.SINK_INSERT_FAILURES, table),  # noqa: B023
            )
            del self.unlanded[key]
            COUNTERS.add(Metric.ROWS_LANDED, table, landed)
            COUNTERS.add(Metric.SINK_BATCHES, table)

    def after_commit(self) -> None:
        return None
