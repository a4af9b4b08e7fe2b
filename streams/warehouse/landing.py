"""Landing a batch in the warehouse: idempotent, retried until it lands, committed only after.

These are plain functions; the sink stages call them with the batch they consumed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True, order=True)
class OffsetRange:
    topic: str
    partition: int
    first: int
    last: int


def offset_ranges(positions: Iterable[tuple[str, int, int]]) -> list[OffsetRange]:
    """Collapse (topic, partition, offset) triples into one range per topic-partition."""
    bounds: dict[tuple[str, int], tuple[int, int]] = {}
    for topic, partition, offset in positions:
        key = (topic, partition)
        low, high = bounds.get(key, (offset, offset))
        bounds[key] = (min(low, offset), max(high, offset))
    return sorted(OffsetRange(t, p, lo, hi) for (t, p), (lo, hi) in bounds.items())


def dedup_token(table: str, ranges: Sequence[OffsetRange]) -> str:
    """The insert_deduplication_token of a batch: the same batch always yields the same token."""
    spans = ";".join(f"{r.topic}:{r.partition}:{r.first}-{r.last}" for r in ranges)
    return f"{table}|{spans}"


@dataclass(frozen=True)
class Backoff:
    initial: float = 0.2
    maximum: float = 10.0
    factor: float = 2.0

    def delays(self) -> Iterable[float]:
        delay = self.initial
        while True:
            yield delay
            delay = min(delay * self.factor, self.maximum)


def land_with_retry(
    insert: Callable[[], int],
    backoff: Backoff,
    stopping: threading.Event,
    *,
    what: str,
    on_failure: Callable[[Exception], None] | None = None,
) -> int:
    """Call ``insert`` until it succeeds; only ``stopping`` ends the retries (``Stopped``), and
    ``MustStop`` from ``insert`` ends them at once.

    The caller commits its Kafka offsets only after this returns, so a warehouse outage holds
    the committed offset where it is instead of losing the batch.
    """
    for attempt, delay in enumerate(backoff.delays(), start=1):
        try:
            return insert()
        except MustStop:
            raise
        except Exception as exc:
            if on_failure is not None:
                on_failure(exc)
            log.warning(
                "landing %s failed (attempt %d), retrying in %.1fs: %s", what, attempt, delay, exc
            )
            if stopping.wait(delay):
                raise Stopped(f"stopped while {what} was not landed") from exc
    raise AssertionError("unreachable: backoff delays never end")


class Stopped(Exception):
    """The worker is stopping before a batch was made durable; it will be redelivered."""


class MustStop(Exception):
    """A failure that retrying cannot fix and the worker must not get past: nothing of the batch
    is committed, and the worker stops with this message."""
