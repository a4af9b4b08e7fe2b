"""What the stages that land batches in the warehouse share: rows per table, each table
inserted with retry and an idempotency token, the offsets committed only once all have landed.

``process`` of a subclass prepares the inserts of its batch (:meth:`prepare` for rows of a
table, :meth:`prepare_insert` for any other insert); the runner then calls ``flush``, which
lands them one by one. An insert that landed is not made again while a later one is retried
(its token would absorb the repeat, but it costs an insert). The runner commits after ``flush``
returns, so an outage holds the committed offsets.

Rows the warehouse refuses for good (``streams.warehouse.refusals``) do not hold the stage: the
rest of their insert lands, and the messages they came from go to the dead-letter topic with the
warehouse's reason. When more than ``dead_letter_max_ratio`` of a table's recent rows (the last
``dead_letter_window``, at least 100) were refused, the table is wrong, not the data: the worker
stops instead of draining the feed into dead letters.

Each landed insert is measured: its rows, the duration of the attempt that landed, and the time
from its events' ``received_at`` to now. Reading received_at costs a decode per row on the
engine path, so only up to ``LATENCY_SAMPLES`` evenly spaced rows of an insert are read, each
standing for its share of the rows (the histogram still counts every row).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from streams import deadletters, topics
from streams.codecs.wire import WireFormat
from streams.metrics import COUNTERS, HISTOGRAMS, Metric
from streams.publisher import Publisher
from streams.settings import Settings
from streams.warehouse.base import Row, Warehouse
from streams.warehouse.landing import (
    Backoff,
    MustStop,
    dedup_token,
    land_with_retry,
    offset_ranges,
)
from streams.warehouse.refusals import RefusedShare, land_apart

log = logging.getLogger(__name__)

T = TypeVar("T")
LATENCY_SAMPLES = 32
# When rows of an insert were received: (epoch seconds, rows that sample stands for).
Received = list[tuple[float, int]]


def received_samples(items: Sequence[T], received_at: Callable[[T], Any]) -> Received:
    """Up to ``LATENCY_SAMPLES`` evenly spaced items' received times (datetime or epoch
    milliseconds, None when unknown), each weighted by the items it stands for."""
    n = len(items)
    k = min(n, LATENCY_SAMPLES)
    out: Received = []
    for i in range(k):
        first, after = i * n // k, (i + 1) * n // k
        value = received_at(items[first])
        if isinstance(value, datetime):
            out.append((value.timestamp(), after - first))
        elif isinstance(value, int | float):
            out.append((value / 1000, after - first))
    return out


def _row_received_at(row: Row) -> Any:
    return row.get("received_at")


class WarehouseStage:
    """Base of the warehouse sinks (``Stage`` protocol of ``streams.agents.runner``)."""

    name: str
    topics: Sequence[str]

    def __init__(
        self, settings: Settings, warehouse: Warehouse, publisher: Publisher, wire: WireFormat
    ) -> None:
        self.warehouse = warehouse
        self.publisher = publisher
        self.wire = wire
        self.dead_letters = settings.topic(topics.DEAD_LETTERS.name)
        self.max_refused_ratio = settings.dead_letter_max_ratio
        self.refused_window = settings.dead_letter_window
        self.refused_shares: dict[str, RefusedShare] = {}
        self.backoff = Backoff(settings.sink_retry_initial_seconds, settings.sink_retry_max_seconds)
        self.batch_size = settings.sink_batch_size
        self.batch_wait = settings.sink_flush_seconds
        self.checkpoint_seconds = 0.0  # every batch: inserts are large, commits follow them
        # A batch's inserts carry tokens derived from its offset ranges: a redelivery must be
        # cut the same way for them to absorb it (streams.agents.redelivery).
        self.regathers_batches = True
        # Key -> (table, one attempt at the insert returning the rows landed, when its rows
        # were received), until landed.
        self.unlanded: dict[str, tuple[str, Callable[[], int], Received]] = {}

    def process(self, messages: Sequence[Any]) -> None:
        raise NotImplementedError

    def prepare(self, table: str, rows: Sequence[Row], messages: Sequence[Any]) -> None:
        """Rows for ``table``, each from the message at the same index (a confluent-kafka
        ``Message``): the same messages always give the same token, so a redelivered batch is
        absorbed."""
        positions = ((m.topic(), m.partition(), m.offset()) for m in messages)
        token = dedup_token(table, offset_ranges(positions))
        self.prepare_insert(
            table,
            table,
            lambda: self.land_rows(table, rows, messages, token),
            received_samples(rows, _row_received_at),
        )

    def land_rows(
        self, table: str, rows: Sequence[Row], messages: Sequence[Any], token: str
    ) -> int:
        """One attempt at inserting ``rows``; rows the warehouse refuses for good are left out
        and their messages dead-lettered once the rest has landed."""
        refused: dict[int, str] = {}

        def insert(first: int, after: int, part: str) -> int:
            part_rows = rows if (first, after) == (0, len(rows)) else rows[first:after]
            return self.warehouse.insert(table, part_rows, dedup_token=part)

        def refuse(index: int, name: str, exc: BaseException) -> None:
            refused[index] = f"{name}: {exc}"

        landed = land_apart(insert, len(rows), token, refuse)
        share = self.refused_shares.get(table)
        if share is None:
            share = self.refused_shares[table] = RefusedShare(
                self.max_refused_ratio, self.refused_window
            )
        verdict = share.record(len(rows), len(refused))
        if not refused:
            return landed
        if verdict is not None:
            raise MustStop(
                f"{self.name}: the warehouse refuses the rows for {table}: {verdict}, "
                f"the first of this batch with {refused[min(refused)][:500]}. A table that "
                "refuses most rows needs fixing: the worker stops instead of dead-lettering "
                "them, and nothing is committed past them"
            )
        for index, reason in sorted(refused.items()):
            COUNTERS.add(Metric.SINK_REFUSED_ROWS, table)
            self.dead_letter(
                messages[index], f"{self.name}: the warehouse refused the row for {table}: {reason}"
            )
        return landed

    def dead_letter(self, message: Any, reason: str) -> None:
        """Send a consumed message to the dead-letter topic with ``reason``; one that came
        from that topic is logged and dropped (sending it again would loop)."""
        topic = message.topic()
        if topic == self.dead_letters:
            log.error(
                "%s: dropping a dead letter at %s:%s:%s: %s",
                self.name,
                topic,
                message.partition(),
                message.offset(),
                reason,
            )
            return
        letter = deadletters.of_message(
            message, stage=self.name, reason=reason[:2000], failed_at=datetime.now(UTC)
        )
        deadletters.publish(self.publisher, self.wire, self.dead_letters, letter)
        COUNTERS.add(Metric.DEAD_LETTERS, self.name)

    def prepare_insert(
        self, key: str, table: str, insert: Callable[[], int], received: Received | None = None
    ) -> None:
        """An insert into ``table`` for this batch, under a ``key`` unique in the batch;
        ``received``: when its rows were received (see ``received_samples``), if known."""
        if key in self.unlanded:
            # The runner flushes after every batch; rows of two batches under one token would
            # make a later redelivery of either look new.
            raise RuntimeError(f"{self.name}: rows for {key} prepared twice without a flush")
        self.unlanded[key] = (table, insert, received or [])

    def flush(self, stopping: threading.Event) -> None:
        # Dead letters acknowledged before the runner commits: the offsets committed after
        # this cover them too. Some are found while landing (rows the warehouse refused).
        self.publisher.flush_sync(timeout=300)
        self._land_all(stopping)
        self.publisher.flush_sync(timeout=300)

    def _land_all(self, stopping: threading.Event) -> None:
        for key in list(self.unlanded):
            table, insert, received = self.unlanded[key]
            landed = land_with_retry(
                _timed(table, insert),
                self.backoff,
                stopping,
                what=table,
                on_failure=lambda _exc: COUNTERS.add(Metric.SINK_INSERT_FAILURES, table),  # noqa: B023
            )
            del self.unlanded[key]
            COUNTERS.add(Metric.ROWS_LANDED, table, landed)
            COUNTERS.add(Metric.SINK_BATCHES, table)
            HISTOGRAMS.observe(Metric.SINK_BATCH_ROWS, table, landed)
            now = time.time()
            for at, rows in received:
                HISTOGRAMS.observe(Metric.RECEIVED_TO_LANDED, table, max(0.0, now - at), rows)

    def after_commit(self) -> None:
        return None


def _timed(table: str, insert: Callable[[], int]) -> Callable[[], int]:
    """The insert, its duration observed when it lands (failed attempts are counted apart)."""

    def attempt() -> int:
        started = time.perf_counter()
        landed = insert()
        HISTOGRAMS.observe(Metric.SINK_INSERT_SECONDS, table, time.perf_counter() - started)
        return landed

    return attempt
