"""Convoys: co-passes at one device (device side), then distinct devices per pair (pair side)."""

from __future__ import annotations

from datetime import timedelta
from random import Random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.canonical.models import GeoPoint, ImageKind, PlateCapture
from streams.correlate.config import RuleConfig
from streams.correlate.convoy import CO_PASS, ConvoyRule, CoPassFinder
from streams.correlate.records import Alert, Correlation, digest_id
from streams.correlate.state import Stateful, StateTable
from tests.unit.correlate_builders import (
    CONFIG,
    NOW,
    SLACK,
    T0,
    plate_capture,
    resume_from_change_log,
    same_in_any_order,
)


def pass_(event_id: str, device: str, seconds: float, plate: str | None) -> PlateCapture:
    position = GeoPoint(lat=30.0 + len(device) / 1000, lon=120.0)
    return plate_capture(
        event_id, seconds, plate, device=device, position=position, image=ImageKind.PLATE
    )


def co_passes(finder: CoPassFinder, events: list[PlateCapture]) -> list[Correlation]:
    return [c for event in events for c in finder.observe(event)]


def convoy_at(
    devices: list[str], start: float = 0.0, step: float = 300.0, gap: float = 5.0
) -> list[PlateCapture]:
    """A (京A11111) then B (京B22222) ``gap`` seconds later, at each device ``step`` apart."""
    events = []
    for i, device in enumerate(devices):
        t = start + i * step
        events.append(pass_(f"a{i}@{start:g}", device, t, "京B22222"))
        events.append(pass_(f"b{i}@{start:g}", device, t + gap, "京A11111"))
    return events


def alerts_of(rule: ConvoyRule, records: list[Correlation]) -> list[Alert]:
    return [alert for record in records for alert in rule.observe(record, NOW)]


# ------------------------------------------------------------------------------------------
# device side


def test_co_pass_record() -> None:
    finder = CoPassFinder(CONFIG)
    first = pass_("e1", "cam", 0.0, "京B22222")
    second = pass_("e2", "cam", 12.5, "京A11111")
    assert finder.observe(first) == []
    [record] = finder.observe(second)
    assert record.relation == CO_PASS
    assert record.correlation_id == digest_id("co_pass", "cam", "e1", "e2")
    assert record.subject == "京A11111"  # the smaller plate: the partition of the pair
    assert record.plate_numbers == ["京A11111", "京B22222"]
    assert record.device_ids == ["cam"]
    assert record.event_ids == ["e1", "e2"]
    assert [s.event_id for s in record.evidence] == ["e1", "e2"]
    assert record.evidence[0].plate_number == "京B22222"
    assert record.evidence[0].position == first.position
    assert record.evidence[1].images == second.images
    assert record.occurred_at == second.captured_at
    assert record.details == {"gap_ms": "12500"}
    # built without validation on the hot path: it must be exactly what validation gives
    assert Correlation.model_validate(record.model_dump()) == record
    assert Correlation.model_validate_json(record.model_dump_json()) == record


def test_no_co_pass_beyond_the_gap_same_plate_other_device_or_unreadable() -> None:
    finder = CoPassFinder(CONFIG)
    events = [
        pass_("e1", "cam", 0.0, "京A11111"),
        pass_("e2", "cam", 30.001, "京B22222"),  # just over the gap
        pass_("e3", "cam", 31.0, "京A11111"),  # same plate as e1 (and e2 is within the gap)
        pass_("e4", "other", 31.0, "京C33333"),
        pass_("e5", "cam", 32.0, None),
    ]
    records = co_passes(finder, events)
    assert [r.event_ids for r in records] == [["e2", "e3"]]


def test_the_gap_is_inclusive_and_a_re_offered_pass_yields_nothing() -> None:
    finder = CoPassFinder(CONFIG)
    first = pass_("e1", "cam", 0.0, "京A11111")
    second = pass_("e2", "cam", 30.0, "京B22222")
    assert len(co_passes(finder, [first, second])) == 1
    assert co_passes(finder, [second, first]) == []


def test_watchlisted_only_mode() -> None:
    asked: list[str] = []

    def wanted(plate: str) -> bool:
        asked.append(plate)
        return plate == "京W00000"

    finder = CoPassFinder(CONFIG, wanted)
    records = co_passes(
        finder,
        [
            pass_("e1", "cam", 0.0, "京A11111"),
            pass_("e2", "cam", 1.0, "京B22222"),  # neither wanted
            pass_("e3", "cam", 2.0, "京W00000"),  # wanted: pairs with both
        ],
    )
    assert [r.plate_numbers for r in records] == [
        ["京A11111", "京W00000"],
        ["京B22222", "京W00000"],
    ]
    assert asked.count("京B22222") == 1  # each plate asked once per new pass at most
    assert co_passes(CoPassFinder(CONFIG, wanted), [pass_("x", "cam", 0.0, "京A11111")]) == []


@st.composite
def busy_device(draw: st.DrawFn) -> list[PlateCapture]:
    """Passes at two devices within a span shorter than the slack, so any order is on time."""
    count = draw(st.integers(min_value=2, max_value=12))
    span_ms = int(SLACK.total_seconds() * 1000)
    return [
        pass_(
            f"e{i}",
            draw(st.sampled_from(["cam1", "cam2"])),
            draw(st.integers(min_value=0, max_value=span_ms)) / 1000,
            draw(st.sampled_from(["京A11111", "京B22222", "京C33333"])),
        )
        for i in range(count)
    ]


@settings(max_examples=200)
@given(busy_device(), st.randoms(use_true_random=False))
def test_co_passes_do_not_depend_on_arrival_order(
    events: list[PlateCapture], random: Random
) -> None:
    config = RuleConfig(convoy_gap=timedelta(seconds=8))
    forward = same_in_any_order(
        lambda events: co_passes(CoPassFinder(config), events), events, random
    )
    expected = {
        digest_id("co_pass", a.device_id, *sorted((a.event_id, b.event_id)))
        for i, a in enumerate(events)
        for b in events[i + 1 :]
        if a.device_id == b.device_id
        and a.plate_number != b.plate_number
        and abs(a.captured_at - b.captured_at) <= config.convoy_gap
    }
    assert set(forward) == expected


def test_finder_expire_drops_idle_devices() -> None:
    finder = CoPassFinder(CONFIG)
    co_passes(finder, [pass_("e1", "cam", 0.0, "京A11111"), pass_("e2", "cam2", 50.0, "京A11111")])
    keep = CONFIG.convoy_gap + SLACK
    finder.expire(T0 + keep)
    assert set(finder.passes) == {"cam", "cam2"}
    finder.expire(T0 + keep + timedelta(milliseconds=1))
    assert set(finder.passes) == {"cam2"}
    finder.expire(T0 + keep + timedelta(seconds=51))
    assert dict(finder.passes) == {}


# ------------------------------------------------------------------------------------------
# pair side


def test_convoy_fires_once_at_the_third_device() -> None:
    records = co_passes(CoPassFinder(CONFIG), convoy_at(["d1", "d2", "d3", "d4"]))
    assert [r.device_ids for r in records] == [["d1"], ["d2"], ["d3"], ["d4"]]
    rule = ConvoyRule(CONFIG)
    fired = [rule.observe(record, NOW) for record in records]
    assert [len(alerts) for alerts in fired] == [0, 0, 1, 0]
    [alert] = fired[2]
    ids = ["a0@0", "b0@0", "a1@0", "b1@0", "a2@0", "b2@0"]
    assert alert.alert_id == digest_id("convoy", "京A11111", "京B22222", *sorted(ids))
    assert alert.rule == "convoy"
    assert alert.priority == CONFIG.convoy_priority
    assert alert.subject == "京A11111|京B22222"
    assert alert.plate_numbers == ["京A11111", "京B22222"]
    assert alert.device_ids == ["d1", "d2", "d3"]
    assert alert.event_ids == ids
    assert [s.event_id for s in alert.evidence] == ids
    assert alert.occurred_at == T0 + timedelta(seconds=605)
    assert alert.raised_at == NOW
    assert alert.details == {"devices": "3", "co_passes": "3", "window_s": "1800"}
    assert Alert.model_validate_json(alert.model_dump_json()) == alert


def test_no_convoy_at_fewer_devices_or_beyond_the_window() -> None:
    rule = ConvoyRule(CONFIG)
    # three co-passes at two devices
    twice = convoy_at(["d1", "d2", "d1"])
    assert alerts_of(rule, co_passes(CoPassFinder(CONFIG), twice)) == []
    # three devices, but spread over more than the window
    spread = convoy_at(["d1", "d2", "d3"], start=10_000, step=901)
    assert alerts_of(ConvoyRule(CONFIG), co_passes(CoPassFinder(CONFIG), spread)) == []


def test_a_re_offered_co_pass_counts_once() -> None:
    records = co_passes(CoPassFinder(CONFIG), convoy_at(["d1", "d2", "d3"]))
    rule = ConvoyRule(CONFIG)
    assert alerts_of(rule, [records[0], records[1], records[1], records[0]]) == []
    assert len(alerts_of(rule, [records[2], records[2]])) == 1


def test_one_alert_per_episode_then_again_after_a_quiet_window() -> None:
    finder = CoPassFinder(CONFIG)
    rule = ConvoyRule(CONFIG)
    # six devices, 5 minutes apart: one episode
    first = alerts_of(rule, co_passes(finder, convoy_at([f"d{i}" for i in range(6)])))
    assert len(first) == 1
    # the last co-pass was at 1505 s; one at 1505 + 1800 still belongs to the episode
    still = co_passes(finder, convoy_at(["x1"], start=3300))
    assert alerts_of(rule, still) == []
    # quiet until 3305 + 1800 now: a new episode must start after it
    later = co_passes(finder, convoy_at(["y1", "y2", "y3"], start=5200))
    [second] = alerts_of(rule, later)
    assert second.alert_id != first[0].alert_id
    assert second.device_ids == ["y1", "y2", "y3"]


def test_out_of_order_co_passes_fire_the_earliest_window() -> None:
    records = co_passes(CoPassFinder(CONFIG), convoy_at(["d1", "d2", "d3", "d4"]))
    rule = ConvoyRule(CONFIG)
    alerts = alerts_of(rule, [records[3], records[1], records[0], records[2]])
    # When d1 arrives (third), the earliest window holding three devices ends at d4's co-pass;
    # d3's co-pass arrives later and belongs to the episode.
    [alert] = alerts
    assert alert.device_ids == ["d1", "d2", "d4"]
    assert alert.details["co_passes"] == "3"


def test_pairs_are_counted_separately() -> None:
    finder = CoPassFinder(CONFIG)
    events = []
    for i, device in enumerate(["d1", "d2", "d3"]):
        t = i * 300.0
        events += [
            pass_(f"a{i}", device, t, "京A11111"),
            pass_(f"b{i}", device, t + 1, "京B22222" if i < 2 else "京C33333"),
        ]
    assert alerts_of(ConvoyRule(CONFIG), co_passes(finder, events)) == []


@settings(max_examples=100)
@given(
    st.lists(
        st.tuples(st.sampled_from(["d1", "d2", "d3", "d4"]), st.integers(0, 4000)),
        min_size=1,
        max_size=10,
    ),
    st.integers(min_value=2, max_value=3),
)
def test_alerts_need_the_devices_and_repeats_change_nothing(
    visits: list[tuple[str, int]], min_devices: int
) -> None:
    config = RuleConfig(convoy_min_devices=min_devices)
    finder = CoPassFinder(config)
    events = []
    for i, (device, seconds) in enumerate(sorted(visits, key=lambda v: v[1])):
        events += [
            pass_(f"a{i}", device, seconds, "京A11111"),
            pass_(f"b{i}", device, seconds + 2, "京B22222"),
        ]
    records = co_passes(finder, events)
    once = alerts_of(ConvoyRule(config), records)
    twice = alerts_of(ConvoyRule(config), [r for record in records for r in (record, record)])
    assert once == twice
    for alert in once:
        assert len(set(alert.device_ids)) >= min_devices
        span = alert.evidence[-1].captured_at - alert.evidence[0].captured_at
        # a window of co-pass times; each co-pass may start up to the gap earlier
        assert span <= config.convoy_window + config.convoy_gap


def test_rule_rejects_other_records() -> None:
    record = Correlation(
        correlation_id="x",
        relation="person_vehicle",
        subject="京A11111",
        occurred_at=T0,
        plate_numbers=["京A11111"],
    )
    with pytest.raises(ValueError, match="not a co-pass"):
        ConvoyRule(CONFIG).observe(record, NOW)


def test_pair_expire_keeps_the_quiet_period() -> None:
    rule = ConvoyRule(CONFIG)
    records = co_passes(CoPassFinder(CONFIG), convoy_at(["d1", "d2", "d3"]))
    assert len(alerts_of(rule, records)) == 1
    quiet_until = T0 + timedelta(seconds=605) + CONFIG.convoy_window
    rule.expire(quiet_until)
    state = rule.pairs["京A11111|京B22222"]
    assert state[0] == quiet_until
    assert [c[2] for c in state[1]] == ["d3"]  # the others are older than window + slack
    rule.expire(quiet_until + SLACK + timedelta(milliseconds=1))
    assert dict(rule.pairs) == {}


# ------------------------------------------------------------------------------------------
# restore


class Chain(Stateful):
    """Both sides of convoy detection chained, as the stages chain them."""

    def __init__(self) -> None:
        self.finder = CoPassFinder(CONFIG)
        self.rule = ConvoyRule(CONFIG)

    def tables(self) -> dict[str, StateTable[Any]]:
        return {**self.finder.tables(), **self.rule.tables()}

    def step(self, event: PlateCapture) -> list[Correlation | Alert]:
        """The co-passes of a pass, then the alerts they raise."""
        records = self.finder.observe(event)
        alerts = [alert for record in records for alert in self.rule.observe(record, NOW)]
        self.finder.expire(event.captured_at)
        self.rule.expire(event.captured_at)
        return [*records, *alerts]


def test_rules_rebuilt_from_their_change_logs_continue_identically() -> None:
    events = sorted(
        [
            *convoy_at(["d1", "d2", "d3", "d4"], gap=4),
            *convoy_at(["d1", "d5"], start=2, step=900, gap=20),
            *convoy_at(["d6", "d7", "d8"], start=6000, step=60),
            pass_("lone", "d2", 301, "粤Z99999"),
        ],
        key=lambda e: (e.captured_at, e.event_id),
    )
    half = 6  # before the first convoy is complete
    produced = resume_from_change_log(Chain, Chain.step, events, half)
    fired = [output for output in produced if isinstance(output, Alert)]
    assert [a.device_ids for a in fired] == [["d1", "d2", "d3"], ["d6", "d7", "d8"]]
