"""Repeated log records: the first written, repeats counted and summed up in the next one."""

from __future__ import annotations

import io
import logging
import uuid

import pytest
from mode.utils.logging import ExtensionFormatter

from streams.log_repeats import RepeatCondenser, condense, kind_of, loggers_under
from streams.metrics import COUNTERS, Metric


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _record(
    msg: str, *args: object, name: str = "aiokafka", level: int = logging.ERROR
) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args or None, None)


def _refused(port: int, client: int) -> logging.LogRecord:
    return _record(
        "FAIL [rdkafka#consumer-%d] [thrd:127.0.0.1:%d/bootstrap]: Connect to ipv4#127.0.0.1:%d "
        "failed: Connection refused (after 0ms in state CONNECT)",
        client,
        port,
        port,
        name="streams.librdkafka",
    )


def test_repeats_differing_in_numbers_only_are_held_back_and_counted_in_the_next() -> None:
    clock = _Clock()
    condenser = RepeatCondenser(period=30, clock=clock)
    before = COUNTERS.get(Metric.LOG_RECORDS_CONDENSED, "streams.librdkafka")

    first = _refused(9092, 1)
    assert condenser.filter(first)
    assert "[and" not in first.getMessage()
    passed = []
    for client in range(2, 12):
        clock.now += 2
        passed.append(condenser.filter(_refused(9092, client)))
    assert passed == [False] * 10
    assert COUNTERS.get(Metric.LOG_RECORDS_CONDENSED, "streams.librdkafka") == before + 10

    clock.now += 15  # 35 s after the first
    later = _refused(9092, 3)
    assert condenser.filter(later)
    assert later.getMessage().endswith("[and 10 more like it in the last 35s]")
    assert later.getMessage().startswith("FAIL [rdkafka#consumer-3]")

    clock.now += 1
    assert not condenser.filter(_refused(9092, 4))  # a new period began with the one shown


def test_a_summed_up_record_formats_with_the_workers_formatter() -> None:
    clock = _Clock()
    condenser = RepeatCondenser(period=30, clock=clock)
    assert condenser.filter(_refused(9092, 1))
    assert not condenser.filter(_refused(9092, 2))
    clock.now += 30
    later = _refused(9092, 3)
    assert condenser.filter(later)
    # faust's worker logs through mode's formatter, which formats the record's args itself.
    text = ExtensionFormatter(io.StringIO(), fmt="%(levelname)s %(message)s").format(later)
    assert text.startswith("ERROR FAIL [rdkafka#consumer-3]")
    assert text.endswith("[and 1 more like it in the last 30s]")


def test_other_messages_levels_and_loggers_pass() -> None:
    clock = _Clock()
    condenser = RepeatCondenser(period=30, clock=clock)
    assert condenser.filter(_record("Unable connect to node with id %d", 1))
    assert condenser.filter(_record("Unable to update metadata from [%d]", 1))
    assert condenser.filter(_record("Unable connect to node with id %d", 1, level=logging.WARNING))
    assert condenser.filter(_record("Unable connect to node with id %d", 1, name="aiokafka.conn"))
    assert not condenser.filter(_record("Unable connect to node with id %d", 2))


def test_a_repeat_after_a_quiet_period_is_shown_as_it_is() -> None:
    clock = _Clock()
    condenser = RepeatCondenser(period=30, clock=clock)
    assert condenser.filter(_record("broker %s down", "a"))
    clock.now += 31
    again = _record("broker %s down", "a")
    assert condenser.filter(again)
    assert again.getMessage() == "broker a down"


def test_kinds_seen_once_long_ago_are_forgotten() -> None:
    clock = _Clock()
    condenser = RepeatCondenser(period=30, clock=clock)
    for n in range(1001):
        assert condenser.filter(_record(f"message {chr(0x4E00 + n)}"))
    clock.now += 31
    assert condenser.filter(_record("one more"))
    assert len(condenser._shown) == 1


def test_kind_ignores_digits_only() -> None:
    assert kind_of(_refused(9092, 1)) == kind_of(_refused(19092, 12))
    assert kind_of(_record("node a down")) != kind_of(_record("node b down"))


def test_condense_filters_a_logger_once_and_logging_through_it_is_condensed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    prefix = f"test{uuid.uuid4().hex[:8]}"
    logging.getLogger(prefix)
    logging.getLogger(f"{prefix}.inner")
    logging.getLogger(f"{prefix}x.other")  # not under the prefix
    found = loggers_under(prefix)
    assert [logger.name for logger in found] == [prefix, f"{prefix}.inner"]
    condense(found)
    condense(found)
    assert [len(logger.filters) for logger in found] == [1, 1]
    inner = logging.getLogger(f"{prefix}.inner")
    with caplog.at_level(logging.ERROR, logger=prefix):
        for port in range(100):
            inner.error("connect to 127.0.0.1:%d refused", port)
    assert [r.getMessage() for r in caplog.records] == ["connect to 127.0.0.1:0 refused"]
