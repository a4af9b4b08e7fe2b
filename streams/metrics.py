"""Every metric name, declared once, and the in-process counters behind them."""

from __future__ import annotations

from collections import Counter
from enum import StrEnum


class Metric(StrEnum):
    RAW_EVENTS_IN = "streams_raw_events_in_total"
    RAW_ARCHIVED = "streams_raw_archived_total"
    CANONICAL_EVENTS_OUT = "streams_canonical_events_out_total"
    DEAD_LETTERS = "streams_dead_letters_total"
    SKIPPED = "streams_payloads_skipped_total"
    GATEWAY_ACCEPTED = "streams_gateway_payloads_accepted_total"
    GATEWAY_BACKPRESSURE = "streams_gateway_payloads_refused_total"
    GATEWAY_CONTROL = "streams_gateway_control_messages_total"
    ROWS_LANDED = "streams_warehouse_rows_landed_total"
    SINK_INSERT_FAILURES = "streams_warehouse_insert_failures_total"
    SINK_BATCHES = "streams_warehouse_batches_total"
    SINK_UNREADABLE = "streams_warehouse_unreadable_records_total"
    CAPTURES_IN = "streams_captures_in_total"
    DUPLICATES_DROPPED = "streams_duplicates_dropped_total"
    LATE_EVENTS = "streams_late_events_total"
    UNIQUE_EVENTS_OUT = "streams_unique_events_out_total"
    ALERTS = "streams_alerts_total"
    CORRELATIONS = "streams_correlations_total"
    WATCHLIST_ENTRIES = "streams_watchlist_entries"
    STATE_CHANGES = "streams_state_changes_written_total"
    STATE_RESTORED = "streams_state_records_restored_total"


class Counters:
    """Monotonic counters keyed by metric and one label value (e.g. source or table)."""

    def __init__(self) -> None:
        self._values: Counter[tuple[Metric, str]] = Counter()

    def add(self, metric: Metric, label: str = "", amount: int = 1) -> None:
        self._values[(metric, label)] += amount

    def get(self, metric: Metric, label: str = "") -> int:
        return self._values[(metric, label)]

    def snapshot(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for (metric, label), value in sorted(self._values.items()):
            out.setdefault(metric.value, {})[label] = value
        return out


COUNTERS = Counters()
