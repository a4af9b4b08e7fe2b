"""The metrics registry and its text exposition, read back by the reference parser
(prometheus_client, a dev dependency only)."""

from __future__ import annotations

import re
import threading

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from streams.metrics import Counters, Gauges, Histograms, Kind, Metric, render

NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def _samples(text: str) -> list[Sample]:
    return [s for f in text_string_to_metric_families(text) for s in f.samples]


def test_every_declared_metric_has_a_valid_name_help_type_and_labels() -> None:
    assert len({m.value for m in Metric}) == len(Metric)
    for metric in Metric:
        assert NAME.match(metric.value), metric
        assert metric.value.startswith("streams_")
        assert metric.help.strip(), metric
        assert "\n" not in metric.help, metric
        assert isinstance(metric.kind, Kind)
        assert all(LABEL.match(n) and not n.startswith("__") for n in metric.labels), metric
        assert len(set(metric.labels)) == len(metric.labels)
        assert metric.value.endswith("_total") == (metric.kind is Kind.COUNTER), metric
        if metric.kind is Kind.HISTOGRAM:
            assert "le" not in metric.labels
            assert metric.buckets, metric
            assert list(metric.buckets) == sorted(set(metric.buckets)), metric
        else:
            assert metric.buckets == ()


def test_counters_gauges_and_histograms_come_out_with_their_types_and_values() -> None:
    counters, gauges, histograms = Counters(), Gauges(), Histograms()
    counters.add(Metric.RAW_EVENTS_IN, "gat1400", 3)
    counters.add(Metric.RAW_EVENTS_IN, "onvif")
    counters.add(Metric.CAPTURES_IN, "", 5)  # no labels
    gauges.set(Metric.CONSUMER_LAG, ("normalize", "raw.gat1400"), 42)
    gauges.set(Metric.CONSUMER_LAG, ("normalize", "raw.gat1400"), 7)  # a gauge is replaced
    for value in (0.004, 0.02, 0.02, 3.0, 10_000.0):
        histograms.observe(Metric.SINK_INSERT_SECONDS, "alarms", value)

    families = {
        f.name: f for f in text_string_to_metric_families(render(counters, gauges, histograms))
    }
    # The parser names counter families without their _total suffix.
    raw = families["streams_raw_events_in"]
    assert raw.type == "counter"
    assert raw.documentation == Metric.RAW_EVENTS_IN.help
    assert {(s.name, s.labels["source"], s.value) for s in raw.samples} == {
        ("streams_raw_events_in_total", "gat1400", 3.0),
        ("streams_raw_events_in_total", "onvif", 1.0),
    }
    (captures,) = families["streams_captures_in"].samples
    assert (captures.labels, captures.value) == ({}, 5.0)
    lag = families["streams_consumer_lag"]
    assert lag.type == "gauge"
    assert [(s.labels, s.value) for s in lag.samples] == [
        ({"stage": "normalize", "topic": "raw.gat1400"}, 7.0)
    ]

    insert = families["streams_warehouse_insert_seconds"]
    assert insert.type == "histogram"
    buckets = [s for s in insert.samples if s.name.endswith("_bucket")]
    bounds = [s.labels["le"] for s in buckets]
    assert bounds == [*(repr(b) for b in Metric.SINK_INSERT_SECONDS.buckets), "+Inf"]
    assert all(s.labels["table"] == "alarms" for s in insert.samples)
    cumulative = {s.labels["le"]: s.value for s in buckets}
    assert cumulative["0.005"] == 1  # 0.004
    assert cumulative["0.01"] == 1
    assert cumulative["0.025"] == 3  # and both 0.02
    assert cumulative["2.5"] == 3
    assert cumulative["5.0"] == 4  # 3.0
    assert cumulative["60.0"] == 4
    assert cumulative["+Inf"] == 5  # 10,000 is past every bound
    values = [s.value for s in buckets]
    assert values == sorted(values)  # cumulative, never decreasing
    by_name = {s.name: s.value for s in insert.samples if not s.name.endswith("_bucket")}
    assert by_name["streams_warehouse_insert_seconds_count"] == 5
    assert by_name["streams_warehouse_insert_seconds_sum"] == pytest.approx(10_003.044)


def test_a_value_on_a_bound_falls_in_that_bucket_and_weights_count_as_observations() -> None:
    histograms = Histograms()
    histograms.observe(Metric.SINK_BATCH_ROWS, "plate_captures", 100.0)  # le="100.0" holds it
    histograms.observe(Metric.SINK_BATCH_ROWS, "plate_captures", 2.0, count=9)
    value = histograms.get(Metric.SINK_BATCH_ROWS, "plate_captures")
    assert value is not None
    assert value.count == 10
    assert value.sum == pytest.approx(118.0)
    bounds = dict(zip(value.buckets, value.cumulative, strict=False))
    assert (bounds[1.0], bounds[10.0], bounds[50.0], bounds[100.0]) == (0, 9, 9, 10)


def test_label_values_are_escaped_and_read_back_exactly() -> None:
    counters = Counters()
    nasty = 'a "quoted" \\ back\\slash\nnew line, {braces}=1'
    counters.add(Metric.DEAD_LETTERS, nasty, 2)
    text = render(counters, Gauges(), Histograms())
    # Backslash, double quote and line feed are escaped; nothing else is.
    escaped = 'a \\"quoted\\" \\\\ back\\\\slash\\nnew line, {braces}=1'
    line = f'streams_dead_letters_total{{origin="{escaped}"}} 2'
    assert line in text.splitlines()
    (sample,) = _samples(text)
    assert sample.labels == {"origin": nasty}
    assert sample.value == 2


def test_several_labels_go_as_a_tuple_and_join_with_a_slash_in_the_snapshot() -> None:
    counters = Counters()
    counters.add(Metric.CANONICAL_EVENTS_OUT, ("gat1400", "plate"), 4)
    counters.add(Metric.CANONICAL_EVENTS_OUT, ("gat1400", "face"))
    counters.add(Metric.CANONICAL_EVENTS_OUT, ("gat1400", "plate"))
    counters.add(Metric.LATE_EVENTS, "", 2)
    assert counters.get(Metric.CANONICAL_EVENTS_OUT, ("gat1400", "plate")) == 5
    assert counters.snapshot() == {
        "streams_canonical_events_out_total": {"gat1400/face": 1, "gat1400/plate": 5},
        "streams_late_events_total": {"": 2},
    }
    samples = _samples(render(counters, Gauges(), Histograms()))
    assert {(tuple(sorted(s.labels.items())), s.value) for s in samples} == {
        ((("kind", "plate"), ("source", "gat1400")), 5.0),
        ((("kind", "face"), ("source", "gat1400")), 1.0),
        ((), 2.0),
    }


def test_wrong_label_counts_and_wrong_types_are_refused() -> None:
    counters, gauges, histograms = Counters(), Gauges(), Histograms()
    with pytest.raises(ValueError, match="takes labels"):
        counters.add(Metric.CANONICAL_EVENTS_OUT, "plate")  # needs (source, kind)
    with pytest.raises(ValueError, match="has no labels"):
        counters.add(Metric.CAPTURES_IN, "x")
    with pytest.raises(TypeError, match="is a gauge"):
        counters.add(Metric.CONSUMER_LAG, ("normalize", "t"))
    with pytest.raises(TypeError, match="is a counter"):
        gauges.set(Metric.ALERTS, "watchlist", 1)
    with pytest.raises(TypeError, match="is a counter"):
        histograms.observe(Metric.ALERTS, "watchlist", 1.0)
    assert render(counters, gauges, histograms) == ""  # nothing was recorded


def test_only_recorded_metrics_are_rendered_in_declaration_order() -> None:
    counters = Counters()
    counters.add(Metric.ALERTS, "watchlist")
    counters.add(Metric.RAW_EVENTS_IN, "onvif")
    text = render(counters, Gauges(), Histograms())
    types = re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE)
    assert types == [
        ("streams_raw_events_in_total", "counter"),
        ("streams_alerts_total", "counter"),
    ]
    assert text.endswith("\n")


def test_concurrent_updates_from_threads_are_not_lost() -> None:
    counters, histograms = Counters(), Histograms()

    def work() -> None:
        for _ in range(20_000):
            counters.add(Metric.ROWS_LANDED, "alarms")
            histograms.observe(Metric.RECEIVED_TO_LANDED, "alarms", 0.3)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counters.get(Metric.ROWS_LANDED, "alarms") == 80_000
    value = histograms.get(Metric.RECEIVED_TO_LANDED, "alarms")
    assert value is not None
    assert value.count == 80_000
    assert value.sum == pytest.approx(24_000.0)
