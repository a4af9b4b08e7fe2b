"""Every metric, declared once (name, type, label names, help), the in-process values behind
them, and their rendering in the Prometheus text exposition format 0.0.4 (``GET /metrics``).

Stage loops run in threads, so every update takes its store's lock (uncontended, well under a
microsecond). No client library at run time: the format is small and stable, and the renderer
below is all of it. ``docs/metrics.md`` lists the metrics for operators.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# One label value, or one per label name for metrics with several (snapshots join them "/").
Labels = str | tuple[str, ...]


class Kind(StrEnum):
    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


# Fixed buckets. Latencies run from milliseconds (an alert on the hot path) to minutes (a batch
# held by a warehouse outage, or an alarm's context window closing).
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
INSERT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
ROWS_BUCKETS = (1.0, 10.0, 50.0, 100.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 20000.0, 50000.0)
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SEARCH_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

_C, _G, _H = Kind.COUNTER, Kind.GAUGE, Kind.HISTOGRAM


class Metric(StrEnum):
    """A metric: its value is the exposed name; ``kind``, ``labels``, ``help`` and (histograms)
    ``buckets`` are declared with it."""

    _value_: str
    kind: Kind
    labels: tuple[str, ...]
    help: str
    buckets: tuple[float, ...]

    def __new__(
        cls,
        name: str,
        kind: Kind,
        labels: tuple[str, ...],
        help: str,
        buckets: tuple[float, ...] = (),
    ) -> Metric:
        member = str.__new__(cls, name)
        member._value_ = name
        member.kind = kind
        member.labels = labels
        member.help = help
        member.buckets = buckets
        return member

    # -- ingest and normalize ------------------------------------------------------------------
    RAW_EVENTS_IN = (
        "streams_raw_events_in_total",
        _C,
        ("source",),
        "Raw payloads read by the normalize stage.",
    )
    RAW_ARCHIVED = (
        "streams_raw_archived_total",
        _C,
        ("source",),
        "Raw payloads the raw_archive stage read.",
    )
    CANONICAL_EVENTS_OUT = (
        "streams_canonical_events_out_total",
        _C,
        ("source", "kind"),
        "Canonical events the normalize stage produced, by source and kind.",
    )
    DEAD_LETTERS = (
        "streams_dead_letters_total",
        _C,
        ("origin",),
        "Records sent to the dead-letter topic: origin is the source of a payload the normalize "
        "stage refused, or the stage that could not read a record.",
    )
    CLOCK_AHEAD = (
        "streams_clock_ahead_events_total",
        _C,
        ("source",),
        "Events whose capture time lay more than STREAMS_CLOCK_AHEAD_LIMIT_SECONDS after their "
        "receipt (a device clock set ahead): corrected by a zone error, or to their receipt.",
    )
    SKIPPED = (
        "streams_payloads_skipped_total",
        _C,
        ("source",),
        "Payloads that carry no event (keepalives, control messages).",
    )
    GATEWAY_ACCEPTED = (
        "streams_gateway_payloads_accepted_total",
        _C,
        ("source",),
        "Payloads the gateway forwarded and the broker acknowledged.",
    )
    GATEWAY_BACKPRESSURE = (
        "streams_gateway_payloads_refused_total",
        _C,
        ("source",),
        "Payloads the gateway answered 503 (queue full or broker unreachable).",
    )
    GATEWAY_CONTROL = (
        "streams_gateway_control_messages_total",
        _C,
        ("action",),
        "GA/T 1400 Register, UnRegister and Keepalive messages answered.",
    )
    GATEWAY_REQUEST_SECONDS = (
        "streams_gateway_request_seconds",
        _H,
        ("route",),
        "Time to answer an ingest request, by route kind (including the broker acknowledgement).",
        REQUEST_BUCKETS,
    )
    GATEWAY_QUEUE = (
        "streams_gateway_producer_queue_messages",
        _G,
        (),
        "Messages in the gateway producer's queue, not yet acknowledged (read at scrape time).",
    )
    # -- warehouse sinks ---------------------------------------------------------------------
    ROWS_LANDED = (
        "streams_warehouse_rows_landed_total",
        _C,
        ("table",),
        "Rows inserted, by table.",
    )
    SINK_INSERT_FAILURES = (
        "streams_warehouse_insert_failures_total",
        _C,
        ("table",),
        "Insert attempts that failed and were retried.",
    )
    SINK_BATCHES = (
        "streams_warehouse_batches_total",
        _C,
        ("table",),
        "Inserts that landed, by table.",
    )
    SINK_UNREADABLE = (
        "streams_warehouse_unreadable_records_total",
        _C,
        ("topic",),
        "Records the warehouse sink could not decode or map to a table, by input topic.",
    )
    SINK_REFUSED_ROWS = (
        "streams_warehouse_refused_rows_total",
        _C,
        ("table",),
        "Rows the warehouse refused for good (a value its column cannot hold, a constraint, a "
        "view that throws), by table; their messages went to the dead-letter topic.",
    )
    SINK_BATCH_ROWS = (
        "streams_warehouse_batch_rows",
        _H,
        ("table",),
        "Rows per insert that landed, by table.",
        ROWS_BUCKETS,
    )
    SINK_INSERT_SECONDS = (
        "streams_warehouse_insert_seconds",
        _H,
        ("table",),
        "Duration of the insert attempt that landed, by table.",
        INSERT_BUCKETS,
    )
    RECEIVED_TO_LANDED = (
        "streams_received_to_landed_seconds",
        _H,
        ("table",),
        "From an event's received_at to its insert landing, by table; up to 32 evenly spaced "
        "rows of each insert are measured, each standing for its share of the rows.",
        LATENCY_BUCKETS,
    )
    # -- correlation -------------------------------------------------------------------------
    CAPTURES_IN = ("streams_captures_in_total", _C, (), "Canonical events the dedup stage read.")
    DUPLICATES_DROPPED = (
        "streams_duplicates_dropped_total",
        _C,
        ("kind",),
        "Duplicates dropped: exact repeats of an event id, or near-duplicates by event kind.",
    )
    LATE_EVENTS = (
        "streams_late_events_total",
        _C,
        (),
        "Events received later than the allowed lateness.",
    )
    UNIQUE_EVENTS_OUT = (
        "streams_unique_events_out_total",
        _C,
        ("kind",),
        "Unique events produced, by kind.",
    )
    ALERTS = ("streams_alerts_total", _C, ("rule",), "Alerts produced, by rule.")
    RECEIVED_TO_ALERT = (
        "streams_received_to_alert_seconds",
        _H,
        ("rule",),
        "From the received_at of the newest event an alert names (among those the stage still "
        "holds) to the alert handed to the producer, by rule; late alerts are left out.",
        LATENCY_BUCKETS,
    )
    CORRELATIONS = (
        "streams_correlations_total",
        _C,
        ("relation",),
        "Correlations produced, by relation.",
    )
    WATCHLIST_ENTRIES = (
        "streams_watchlist_changes_applied_total",
        _C,
        (),
        "Watchlist entries added, changed or removed, as this process applied them.",
    )
    STATE_CHANGES = (
        "streams_state_changes_written_total",
        _C,
        ("topic",),
        "Window-state changes written to a change-log topic.",
    )
    STATE_RESTORED = (
        "streams_state_records_restored_total",
        _C,
        ("topic",),
        "Window-state records read back from a change-log topic.",
    )
    STATE_KEPT = (
        "streams_state_partitions_kept_total",
        _C,
        ("topic",),
        "Partitions whose window state a worker kept across a rebalance that gave them back "
        "(nobody wrote to their change log meanwhile), instead of reading it back.",
    )
    # -- stages ------------------------------------------------------------------------------
    STAGE_ASSIGNMENTS = (
        "streams_stage_assignments_total",
        _C,
        ("stage",),
        "Partition assignments a stage received: one per rebalance of its consumer group "
        "that this worker took part in, and one at start.",
    )
    CONSUMER_LAG = (
        "streams_consumer_lag",
        _G,
        ("stage", "topic"),
        "Messages not yet read by a stage: over its assigned partitions of the topic, high "
        "watermark minus position; refreshed between batches, at most every 5 seconds.",
    )
    INPUTS_HELD = (
        "streams_inputs_held",
        _G,
        ("stage",),
        "Input partitions a stage leaves unread for now because it read them too far ahead "
        "in event time of the slowest input of their partition (catching up a backlog).",
    )
    LOG_RECORDS_CONDENSED = (
        "streams_log_records_condensed_total",
        _C,
        ("logger",),
        "Log records not written because they repeat one written less than 30 s before "
        "(Kafka clients retrying an unreachable broker); the next one says how many.",
    )
    # -- search API --------------------------------------------------------------------------
    API_SEARCHES = (
        "streams_api_searches_total",
        _C,
        ("kind", "outcome"),
        "Searches through the API, by kind and outcome (answered, refused, failed).",
    )
    API_SEARCH_SECONDS = (
        "streams_api_search_seconds",
        _H,
        ("kind",),
        "Time to answer a search (answered searches), by kind.",
        SEARCH_BUCKETS,
    )


Key = tuple[Metric, tuple[str, ...]]


def _labels(metric: Metric, label: Labels) -> tuple[str, ...]:
    if isinstance(label, str):
        if metric.labels:
            return (label,)
        if label:
            raise ValueError(f"{metric.value} has no labels, got {label!r}")
        return ()
    return label


def _check(metric: Metric, labels: tuple[str, ...], kind: Kind) -> None:
    """Checked once per new series, not on every update."""
    if metric.kind is not kind:
        raise TypeError(f"{metric.value} is a {metric.kind}, not a {kind}")
    if len(labels) != len(metric.labels):
        raise ValueError(f"{metric.value} takes labels {metric.labels}, got {labels!r}")


class Counters:
    """Monotonic counters keyed by metric and label values (one string for one label)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[Key, int] = {}

    def add(self, metric: Metric, label: Labels = "", amount: int = 1) -> None:
        key = (metric, _labels(metric, label))
        with self._lock:
            value = self._values.get(key)
            if value is None:
                _check(metric, key[1], Kind.COUNTER)
                value = 0
            self._values[key] = value + amount

    def get(self, metric: Metric, label: Labels = "") -> int:
        return self._values.get((metric, _labels(metric, label)), 0)

    def snapshot(self) -> dict[str, dict[str, int]]:
        """``{name: {"a/b": value}}`` for ``/stats``: label values joined by "/"."""
        out: dict[str, dict[str, int]] = {}
        for (metric, labels), value in sorted(self.series()):
            out.setdefault(metric.value, {})["/".join(labels)] = value
        return out

    def series(self) -> list[tuple[Key, int]]:
        with self._lock:
            return list(self._values.items())


class Gauges:
    """Values that go up and down, set by whoever measures them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[Key, float] = {}

    def set(self, metric: Metric, label: Labels, value: float) -> None:
        key = (metric, _labels(metric, label))
        with self._lock:
            if key not in self._values:
                _check(metric, key[1], Kind.GAUGE)
            self._values[key] = value

    def get(self, metric: Metric, label: Labels = "") -> float | None:
        return self._values.get((metric, _labels(metric, label)))

    def series(self) -> list[tuple[Key, float]]:
        with self._lock:
            return list(self._values.items())


@dataclass(frozen=True)
class HistogramValue:
    buckets: tuple[float, ...]  # upper bounds, +Inf implied
    cumulative: tuple[int, ...]  # observations <= each bound, then the +Inf total
    sum: float

    @property
    def count(self) -> int:
        return self.cumulative[-1]


class Histograms:
    """Observations counted in the metric's fixed buckets (``le``: less than or equal)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Per series: a count per bucket (the last one past every bound), and the sum.
        self._values: dict[Key, tuple[list[int], list[float]]] = {}

    def observe(self, metric: Metric, label: Labels, value: float, count: int = 1) -> None:
        """``count`` observations of ``value`` (a sample standing for several)."""
        if math.isnan(value):
            return
        key = (metric, _labels(metric, label))
        index = bisect.bisect_left(metric.buckets, value)
        with self._lock:
            series = self._values.get(key)
            if series is None:
                _check(metric, key[1], Kind.HISTOGRAM)
                series = self._values[key] = ([0] * (len(metric.buckets) + 1), [0.0])
            series[0][index] += count
            series[1][0] += value * count

    def get(self, metric: Metric, label: Labels = "") -> HistogramValue | None:
        key = (metric, _labels(metric, label))
        with self._lock:
            series = self._values.get(key)
            if series is None:
                return None
            counts, total = list(series[0]), series[1][0]
        return _cumulative(metric, counts, total)

    def series(self) -> list[tuple[Key, HistogramValue]]:
        with self._lock:
            copied = [(k, list(c), s[0]) for k, (c, s) in self._values.items()]
        return [(k, _cumulative(k[0], c, s)) for k, c, s in copied]


def _cumulative(metric: Metric, counts: list[int], total: float) -> HistogramValue:
    running, out = 0, []
    for n in counts:
        running += n
        out.append(running)
    return HistogramValue(metric.buckets, tuple(out), total)


COUNTERS = Counters()
GAUGES = Gauges()
HISTOGRAMS = Histograms()


# -- the text exposition format 0.0.4 -------------------------------------------------------


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def _label_text(names: tuple[str, ...], values: tuple[str, ...], le: str | None = None) -> str:
    pairs = [f'{n}="{_escape_label(v)}"' for n, v in zip(names, values, strict=True)]
    if le is not None:
        pairs.append(f'le="{le}"')
    return "{" + ",".join(pairs) + "}" if pairs else ""


def _samples(
    metric: Metric, labels: tuple[str, ...], value: float | HistogramValue
) -> Iterator[str]:
    name = metric.value
    if not isinstance(value, HistogramValue):
        yield f"{name}{_label_text(metric.labels, labels)} {_number(value)}"
        return
    bounds = [_number(float(b)) for b in value.buckets] + ["+Inf"]
    for bound, cumulative in zip(bounds, value.cumulative, strict=True):
        yield f"{name}_bucket{_label_text(metric.labels, labels, bound)} {cumulative}"
    yield f"{name}_sum{_label_text(metric.labels, labels)} {_number(value.sum)}"
    yield f"{name}_count{_label_text(metric.labels, labels)} {value.count}"


def render(
    counters: Counters = COUNTERS, gauges: Gauges = GAUGES, histograms: Histograms = HISTOGRAMS
) -> str:
    """Every series recorded in this process, in declaration order; a metric nothing recorded
    yet is left out (a gateway does not list the worker's metrics)."""
    by_metric: dict[Metric, list[tuple[tuple[str, ...], float | HistogramValue]]] = {}
    for store in (counters.series(), gauges.series(), histograms.series()):
        for (metric, labels), value in store:
            by_metric.setdefault(metric, []).append((labels, value))
    lines: list[str] = []
    for metric in Metric:
        series = by_metric.get(metric)
        if not series:
            continue
        lines.append(f"# HELP {metric.value} {_escape_help(metric.help)}")
        lines.append(f"# TYPE {metric.value} {metric.kind.value}")
        for labels, value in sorted(series, key=lambda s: s[0]):
            lines.extend(_samples(metric, labels, value))
    return "\n".join(lines) + "\n" if lines else ""
