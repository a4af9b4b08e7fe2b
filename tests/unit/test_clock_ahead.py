"""Captures from a device clock set ahead get their receive time; the device's time is kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from streams.canonical import FaceCapture, PlateCapture
from streams.canonical.models import rfc3339_millis
from streams.correlate.config import RuleConfig
from streams.correlate.pipeline import Correlator
from streams.correlate.watchlist import watchlist_from_entries
from streams.domain.vendor_time import TimeProvenance
from streams.vendors import normalize
from streams.vendors.base import Context, RawPayload
from streams.vendors.clock_ahead import DEVICE_TIME_ATTRIBUTE, corrected_if_ahead, correction
from tests.vendors.checks import assert_valid

FIXTURES = Path(__file__).parent.parent / "vendors" / "fixtures" / "gat1400"
# The fixtures' captures are stamped 2026-03-01 08:30:15-17 in Asia/Shanghai (00:30 UTC).
ON_TIME = datetime(2026, 3, 1, 0, 30, 30, 123000, tzinfo=UTC)


def _events(name: str, received: datetime, ctx: Context | None = None) -> list:
    body = (FIXTURES / name).read_bytes()
    result = normalize(RawPayload("gat1400", body, received), ctx or Context())
    assert_valid(result.events)
    assert not result.rejected
    return [*result.events, result.clock_ahead]


def test_a_camera_eight_hours_ahead_is_taken_for_a_zone_error() -> None:
    # A local wall clock sent as UTC: the capture is stamped eight hours after its receipt.
    received = ON_TIME - timedelta(hours=8)
    *events, counted = _events("motor_vehicles.json", received)
    *on_time, _ = _events("motor_vehicles.json", ON_TIME)
    assert counted == len(events) == 2
    for event, original in zip(events, on_time, strict=True):
        assert isinstance(event, PlateCapture)
        # The device's timing is kept: the capture 15 s before its receipt, as on time.
        assert event.captured_at == original.captured_at - timedelta(hours=8)
        assert event.time_source is TimeProvenance.DEVICE_ZONE
        assert event.attributes[DEVICE_TIME_ATTRIBUTE] == rfc3339_millis(original.captured_at)
        # The same record keeps its id, whenever it arrives: re-pushes stay recognisable.
        assert event.event_id == original.event_id
        assert event.plate_number == original.plate_number


def test_a_clock_ahead_by_no_zone_gets_the_receive_time() -> None:
    received = ON_TIME - timedelta(minutes=37)  # 36 min 45 s ahead: no zone is that
    *events, counted = _events("motor_vehicles.json", received)
    assert counted == 2
    for event in events:
        assert event.captured_at == event.received_at
        assert event.time_source is TimeProvenance.RECEIVED
        assert DEVICE_TIME_ATTRIBUTE in event.attributes


def test_a_copy_that_came_a_minute_later_keeps_its_capture_time() -> None:
    # A platform cascade's copy of the same captures, 90 s after the camera's own: corrected by
    # the same zone, it meets the camera's read (and is late by its receipt, as it is).
    camera = _events("motor_vehicles.json", ON_TIME - timedelta(hours=8))
    copy = _events("motor_vehicles.json", ON_TIME - timedelta(hours=8) + timedelta(seconds=90))
    assert [e.captured_at for e in camera[:-1]] == [e.captured_at for e in copy[:-1]]


def test_the_correction_is_a_whole_zone_or_the_whole_lead() -> None:
    received = datetime(2026, 3, 1, tzinfo=UTC)
    for ahead, expected in (
        (timedelta(seconds=59), (timedelta(0), False)),
        (timedelta(hours=8, seconds=-1), (timedelta(hours=8), True)),
        (timedelta(hours=8, minutes=-4), (timedelta(hours=8), True)),
        (timedelta(hours=5, minutes=30, seconds=20), (timedelta(hours=5, minutes=30), True)),
        (timedelta(hours=8, minutes=-7), (timedelta(hours=8, minutes=-7), False)),
        (timedelta(hours=8, minutes=2), (timedelta(hours=8, minutes=2), False)),  # still ahead
        (timedelta(minutes=4), (timedelta(minutes=4), False)),
    ):
        assert correction(received + ahead, received) == expected, ahead


def test_a_face_track_moves_with_its_capture_time() -> None:
    received = ON_TIME - timedelta(hours=8)
    face, counted = _events("faces.json", received)
    original, _ = _events("faces.json", ON_TIME)
    assert isinstance(face, FaceCapture)
    assert isinstance(original, FaceCapture)
    assert counted == 1
    shift = original.captured_at - face.captured_at
    assert face.appeared_at == original.appeared_at - shift  # type: ignore[operator]
    assert face.disappeared_at == original.disappeared_at - shift  # type: ignore[operator]


def test_on_time_late_and_slightly_ahead_captures_are_left_alone() -> None:
    for received in (ON_TIME, ON_TIME + timedelta(hours=3), ON_TIME - timedelta(seconds=30)):
        *events, counted = _events("motor_vehicles.json", received)
        assert counted == 0
        assert all(e.time_source is TimeProvenance.DEVICE_ZONE for e in events)
        assert all(DEVICE_TIME_ATTRIBUTE not in e.attributes for e in events)


def test_the_limit_comes_from_the_context() -> None:
    received = ON_TIME - timedelta(seconds=30)  # the captures are 14-16 s ahead of that
    *_unchanged, counted = _events("motor_vehicles.json", received, Context())
    assert counted == 0
    *events, counted = _events(
        "motor_vehicles.json", received, Context(clock_ahead_limit=timedelta(seconds=10))
    )
    assert counted == 2
    assert all(e.captured_at == e.received_at for e in events)


@given(ahead=st.integers(min_value=-86_400_000, max_value=86_400_000))
def test_no_capture_comes_out_more_than_the_limit_ahead(ahead: int) -> None:
    received = datetime(2026, 3, 1, tzinfo=UTC)
    event = PlateCapture(
        event_id="e",
        source="gat1400",
        device_id="d",
        captured_at=received + timedelta(milliseconds=ahead),
        received_at=received,
        time_source=TimeProvenance.EPOCH,
        attributes={"x": "y"},
    )
    checked = corrected_if_ahead(event, timedelta(seconds=60))
    assert checked.captured_at - checked.received_at <= timedelta(seconds=60)
    assert checked.attributes["x"] == "y"
    if checked is event:
        assert ahead <= 60_000
    else:
        assert ahead > 60_000
        assert checked.attributes[DEVICE_TIME_ATTRIBUTE].startswith("2026-03-0")


def test_a_capture_from_a_clock_ahead_is_passed_on_with_the_others() -> None:
    # Before: its window closed when the stream reached its capture time, eight hours later.
    received = ON_TIME - timedelta(hours=8)
    ahead = [e for e in _events("motor_vehicles.json", received)[:-1] if e.plate_number]
    correlator = Correlator(RuleConfig(), watchlist_from_entries([]))
    emitted: dict[str, datetime] = {}
    others = [
        PlateCapture(
            event_id=f"other-{second}",
            source="gat1400",
            device_id="33010200001310000099",
            captured_at=received + timedelta(seconds=second),
            received_at=received + timedelta(seconds=second),
            time_source=TimeProvenance.EPOCH,
            plate_number=f"沪C{10000 + second}",
        )
        for second in range(1, 120)
    ]
    for event in [*ahead, *others]:
        for out in correlator.feed(event, event.received_at):
            if isinstance(out, PlateCapture):
                emitted.setdefault(out.event_id, event.received_at)
    held = emitted[ahead[0].event_id] - received
    assert held <= RuleConfig().plate_window + RuleConfig().lateness + timedelta(seconds=1)
