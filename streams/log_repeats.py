"""Repeated log records condensed: the first shown, the rest counted.

While a broker is down, every Kafka client of a process reports each reconnect attempt, and a
worker has a dozen clients: a minute's outage wrote over ten thousand error lines, which bury
what else happened and fill disks. :class:`RepeatCondenser` lets the first record of each kind
through and drops the repeats for ``period`` seconds; the next repeat after that goes through
with how many were dropped meanwhile. Records of a kind are those whose message is the same
once digits are left out (ports, client numbers, milliseconds vary between the repeats of one
failure), from the same logger at the same level.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable

from streams.metrics import COUNTERS, Metric

DEFAULT_PERIOD_SECONDS = 30.0
_DIGITS = re.compile(r"\d+")


def kind_of(record: logging.LogRecord) -> tuple[str, int, str]:
    """What makes two records repeats of each other."""
    return record.name, record.levelno, _DIGITS.sub("#", record.getMessage())


class RepeatCondenser(logging.Filter):
    """A filter that passes the first record of a kind, then at most one per ``period``
    seconds, telling in that one how many it held back. ``clock`` is injectable for tests."""

    def __init__(
        self,
        period: float = DEFAULT_PERIOD_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.period = period
        self.clock = clock
        self._shown: dict[tuple[str, int, str], tuple[float, int]] = {}  # kind: (when, held)
        self._lock = threading.Lock()  # clients log from their own threads

    def filter(self, record: logging.LogRecord) -> bool:
        kind = kind_of(record)
        now = self.clock()
        with self._lock:
            shown = self._shown.get(kind)
            if shown is not None and now - shown[0] < self.period:
                self._shown[kind] = (shown[0], shown[1] + 1)
                COUNTERS.add(Metric.LOG_RECORDS_CONDENSED, record.name)
                return False
            held, since = (0, 0.0) if shown is None else (shown[1], now - shown[0])
            self._shown[kind] = (now, 0)
            if len(self._shown) > 1000:  # kinds seen once long ago
                self._forget(now)
        if held:
            record.msg = f"{record.getMessage()} [and {held} more like it in the last {since:.0f}s]"
            record.args = ()  # an empty tuple: the worker's formatter (mode's) wants a tuple
        return True

    def _forget(self, now: float) -> None:
        for kind, (when, held) in list(self._shown.items()):
            if not held and now - when >= self.period:
                del self._shown[kind]


def condense(loggers: Iterable[logging.Logger], period: float = DEFAULT_PERIOD_SECONDS) -> None:
    """Give each of these loggers a condenser (once); a filter on a logger applies to the
    records logged through that logger itself, not its children."""
    for logger in loggers:
        if not any(isinstance(f, RepeatCondenser) for f in logger.filters):
            logger.addFilter(RepeatCondenser(period))


def loggers_under(prefix: str) -> list[logging.Logger]:
    """Every logger created so far named ``prefix`` or ``prefix.*``."""
    names = [
        name
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger) and (name == prefix or name.startswith(prefix + "."))
    ]
    return [logging.getLogger(name) for name in sorted(names)]
