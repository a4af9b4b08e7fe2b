"""GA/T 1400 adapter on realistic payloads: push, cascade notification, pitfalls."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.canonical import FaceCapture, Gender, ImageKind, PlateCapture, PlateColor, Presence
from streams.domain.devices import DeviceRegistry
from streams.vendors.base import AdapterError, Context, RawPayload
from streams.vendors.gat1400 import normalize_gat1400
from tests.vendors.checks import assert_valid

FIXTURES = Path(__file__).parent / "fixtures" / "gat1400"
RECEIVED = datetime(2026, 3, 1, 0, 30, 30, 123456, tzinfo=UTC)
CTX = Context()


def _run(body: bytes, ctx: Context = CTX, key: str | None = None) -> list:
    result = normalize_gat1400(RawPayload("gat1400", body, RECEIVED, key=key), ctx)
    assert_valid(result.events)
    return result.events


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_motor_vehicle_push() -> None:
    first, unplated = _run(_fixture("motor_vehicles.json"))
    assert isinstance(first, PlateCapture)
    assert first.plate_number == "浙A12345"  # full-width digit and separator cleaned
    assert first.plate_raw == "浙A·1234５"
    assert first.plate_color is PlateColor.BLUE
    assert first.device_id == "33010200001310000001"
    # Beijing wall clock 08:30:15 without offset -> 00:30:15 UTC
    assert first.captured_at == datetime(2026, 3, 1, 0, 30, 15, tzinfo=UTC)
    assert first.time_source == "device_zone"
    assert first.received_at == datetime(2026, 3, 1, 0, 30, 30, 123000, tzinfo=UTC)
    assert first.confidence == pytest.approx(0.93)
    assert first.lane == 2
    assert first.speed_kmh == 47.5
    assert first.vehicle_color == "white"
    assert first.vehicle_type == "K33"
    assert first.bbox is not None
    assert first.bbox.x == pytest.approx(612 / 1920)
    assert first.bbox.w == pytest.approx(480 / 1920)
    assert first.attributes["NameOfPassedRoad"] == "文三路"
    assert "SubImageList" not in first.attributes
    kinds = [(i.kind, i.url is not None, i.sha256 is not None) for i in first.images]
    assert (ImageKind.SCENE, True, False) in kinds
    assert (ImageKind.PLATE, False, True) in kinds  # inline base64 stripped to a hash
    assert (ImageKind.VEHICLE, True, False) in kinds
    assert unplated.plate_number is None
    assert unplated.plate_raw == "无车牌"
    assert unplated.plate_color is PlateColor.OTHER


def test_event_ids_are_deterministic_and_distinct() -> None:
    first = _run(_fixture("motor_vehicles.json"))
    again = _run(_fixture("motor_vehicles.json"))
    assert [e.event_id for e in first] == [e.event_id for e in again]
    assert len({e.event_id for e in first}) == 2


def test_face_push_with_attributes() -> None:
    (face,) = _run(_fixture("faces.json"))
    assert isinstance(face, FaceCapture)
    assert face.gender is Gender.FEMALE
    assert (face.age_min, face.age_max) == (25, 34)
    assert face.glasses is Presence.UNKNOWN  # 99 = unknown
    assert face.mask is Presence.YES  # a respirator colour means a mask
    assert face.appeared_at == datetime(2026, 3, 1, 0, 30, 16, tzinfo=UTC)
    assert face.disappeared_at == datetime(2026, 3, 1, 0, 30, 18, tzinfo=UTC)
    assert any(i.kind is ImageKind.FACE and i.sha256 for i in face.images)
    assert face.attributes["IsDriver"] == "0"


def test_cascade_notification_yields_same_ids_as_direct_push() -> None:
    cascaded = _run(_fixture("subscribe_notification.json"))
    assert [type(e).__name__ for e in cascaded] == ["PlateCapture", "FaceCapture"]
    (direct, _unplated) = _run(_fixture("motor_vehicles.json"))
    # The same MotorVehicleID arriving by cascade is recognisable as the same record.
    assert cascaded[0].event_id == direct.event_id


def test_device_zone_from_registry(tmp_path: Path) -> None:
    registry = tmp_path / "devices.csv"
    registry.write_text(
        "device_id,name,vendor,lat,lon,coord_system,timezone\n"
        "33010200001310000001,Wensan Rd,hikvision,30.2741,120.1551,wgs84,Asia/Urumqi\n"
    )
    ctx = Context(devices=DeviceRegistry.from_csv(registry))
    first, _ = _run(_fixture("motor_vehicles.json"), ctx)
    assert first.captured_at == datetime(2026, 3, 1, 2, 30, 15, tzinfo=UTC)  # UTC+6
    assert first.position is not None
    assert (first.position.lat, first.position.lon) == (30.2741, 120.1551)


def test_keepalive_is_skipped_not_dead_lettered() -> None:
    result = normalize_gat1400(RawPayload("gat1400", _fixture("keepalive.json"), RECEIVED), CTX)
    assert result.events == []
    assert result.rejected == []
    assert result.skipped == "control message KeepaliveObject"


def test_bad_record_is_rejected_alone() -> None:
    body = json.dumps(
        {
            "MotorVehicleListObject": {
                "MotorVehicleObject": [
                    {
                        "MotorVehicleID": "ok",
                        "DeviceID": "33010200001310000001",
                        "PassTime": "20260301083015",
                        "PlateNo": "浙A12345",
                    },
                    {
                        "MotorVehicleID": "bad-time",
                        "DeviceID": "33010200001310000001",
                        "PassTime": "20261399999999",
                        "PlateNo": "浙A12345",
                    },
                    "not an object",
                ]
            }
        }
    ).encode()
    result = normalize_gat1400(RawPayload("gat1400", body, RECEIVED), CTX)
    assert [e.source_event_id for e in result.events] == ["ok"]
    assert len(result.rejected) == 2
    assert "20261399999999" in result.rejected[0].reason
    assert result.rejected[0].record is not None
    assert b"bad-time" in result.rejected[0].record


def test_lenient_types_and_short_ids() -> None:
    body = json.dumps(
        {
            "MotorVehicleListObject": {
                "MotorVehicleObject": {
                    "MotorVehicleID": 33029902001210000118,
                    "DeviceID": "3302990200121",  # not 20 digits
                    "PlateNo": "浙b12345",
                    "PlateColor": 5,
                    "LaneNo": "3",
                    "Speed": "60.5",
                    "PassTime": 20260301083015,
                    "HasPlate": True,
                }
            }
        }
    ).encode()
    (event,) = _run(body, key="gateway-hint")
    assert event.plate_number == "浙B12345"
    assert event.lane == 3
    assert event.speed_kmh == 60.5
    assert event.source_event_id == "33029902001210000118"
    assert event.device_id.startswith("gat1400:")  # derived: not a GB/T 28181 code


def test_missing_time_falls_back_to_receive_time() -> None:
    body = b'{"FaceListObject":{"FaceObject":[{"FaceID":"f1","DeviceID":"33010200001320000001"}]}}'
    (face,) = _run(body)
    assert face.time_source == "received"
    assert face.captured_at == datetime(2026, 3, 1, 0, 30, 30, 123000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<xml/>", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"Something": {}}', "no MotorVehicle or Face records"),
    ],
)
def test_unusable_payloads(body: bytes, reason: str) -> None:
    with pytest.raises(AdapterError, match=reason):
        normalize_gat1400(RawPayload("gat1400", body, RECEIVED), CTX)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_adapter_errors(body: bytes) -> None:
    try:
        result = normalize_gat1400(RawPayload("gat1400", body, RECEIVED), CTX)
    except AdapterError:
        return
    assert_valid(result.events)


_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20)
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "MotorVehicleID",
                "DeviceID",
                "PlateNo",
                "PlateColor",
                "PassTime",
                "LaneNo",
                "Speed",
                "HasPlate",
                "LeftTopX",
                "RightBtmX",
                "PlateReliability",
                "VehicleColor",
                "SubImageList",
            ]
        ),
        _SCALARS,
    )
)
def test_mutated_records_never_escape(record: dict) -> None:
    body = json.dumps(
        {"MotorVehicleListObject": {"MotorVehicleObject": [record]}}, default=str
    ).encode()
    try:
        result = normalize_gat1400(RawPayload("gat1400", body, RECEIVED, key="k"), CTX)
    except AdapterError:
        return
    assert_valid(result.events)
    assert len(result.events) + len(result.rejected) == 1


def test_box_with_non_finite_corners_is_dropped() -> None:
    from streams.vendors.common import box_from_corners

    assert box_from_corners(float("nan"), 1, 2, 3, 100, 100) is None
    assert box_from_corners(0, 1, float("inf"), 3, 100, 100) is None
    box = box_from_corners(10, 20, 30, 60, 100, 100)
    assert box is not None
    assert (box.x, box.y, box.w, box.h) == (0.1, 0.2, 0.2, 0.4)


def test_shared_helpers_edge_cases() -> None:
    from datetime import timedelta, timezone

    from streams.vendors.common import box_from_corners, inline_image, received_fallback

    assert box_from_corners(0, 0, 0, 0, 1920, 1080) is None  # "no box"
    assert inline_image("\ud800 not base64 \x00", ImageKind.FACE).sha256 is not None
    local = datetime(2026, 3, 1, 8, 30, 30, 123456, tzinfo=timezone(timedelta(hours=8)))
    assert received_fallback(local) == datetime(2026, 3, 1, 0, 30, 30, 123000, tzinfo=UTC)
    assert received_fallback(local).tzinfo is UTC


def test_numbers_beyond_the_avro_int_range_are_absent() -> None:
    from streams.vendors.common import as_int

    assert as_int(2**31 - 1) == 2**31 - 1
    assert as_int(2**31) is None
    assert as_int("-2147483649") is None
    assert as_int(" 42 ") == 42
