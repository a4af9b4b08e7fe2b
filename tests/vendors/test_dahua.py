"""Dahua CGI adapter on realistic attach-stream parts: every event kind and the known pitfalls."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.canonical import (
    Alarm,
    AlarmState,
    AlarmType,
    FaceCapture,
    Gender,
    ImageKind,
    PlateCapture,
    PlateColor,
    Presence,
)
from streams.domain.devices import Device, DeviceRegistry, derived_device_id
from streams.vendors.base import AdapterError, Context, Normalized, RawPayload
from streams.vendors.dahua import normalize_dahua
from tests.vendors.checks import assert_valid

FIXTURES = Path(__file__).parent / "fixtures" / "dahua-cgi"
RECEIVED = datetime(2024, 1, 30, 7, 35, 1, 987654, tzinfo=UTC)
KEY = "gate-7.example"  # the gateway's device hint: a name, not a GB/T 28181 code
GB_CODE = "34020000001320000001"
CTX = Context()


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _result(
    body: bytes,
    *,
    key: str | None = KEY,
    ctx: Context = CTX,
    content_type: str | None = None,
    received: datetime = RECEIVED,
) -> Normalized:
    raw = RawPayload("dahua-cgi", body, received, key=key, content_type=content_type)
    result = normalize_dahua(raw, ctx)
    assert_valid(result.events)
    return result


def _events(body: bytes, **kwargs: Any) -> list[Any]:
    result = _result(body, **kwargs)
    assert result.rejected == []
    return result.events


def _part(text: str | bytes, content_type: str = "text/plain") -> bytes:
    payload = text.encode() if isinstance(text, str) else text
    return (
        b"--myboundary\r\nContent-Type: "
        + content_type.encode()
        + b"\r\nContent-Length: "
        + str(len(payload)).encode()
        + b"\r\n\r\n"
        + payload
        + b"\r\n"
    )


def _registry(device_id: str, timezone: str) -> Context:
    device = Device(device_id, "gate", "dahua", 30.27, 120.15, timezone=timezone)
    return Context(devices=DeviceRegistry([device]))


# --- plates ---------------------------------------------------------------------------------


def test_traffic_junction_plate() -> None:
    (plate,) = _events(_fixture("traffic_junction.txt"))
    assert isinstance(plate, PlateCapture)
    assert plate.source == "dahua-cgi"
    assert plate.plate_raw == "浙A12345"
    assert plate.plate_number == "浙A12345"
    assert plate.plate_color is PlateColor.BLUE
    assert plate.plate_class == "Normal"
    assert plate.vehicle_color == "white"
    assert plate.vehicle_type == "SaloonCar"
    assert plate.vehicle_brand == "Volkswagen"
    assert plate.lane == 2
    assert plate.speed_kmh == 52.0
    assert plate.direction == "Leave"
    assert plate.pass_group == "175706653"
    assert plate.source_event_id == "516"
    assert plate.channel == 0
    assert plate.device_id == derived_device_id("dahua-cgi", KEY, "0")
    assert plate.confidence == pytest.approx(204 / 255)
    # 0..8191 grid: the plate box is the Object box, bbox the vehicle box
    assert plate.plate_bbox is not None
    assert (plate.plate_bbox.x, plate.plate_bbox.y) == (0.5, 0.75)
    assert (plate.plate_bbox.w, plate.plate_bbox.h) == (512 / 8192, 256 / 8192)
    assert plate.bbox is not None
    assert plate.bbox.x == pytest.approx(2352 / 8192)
    assert plate.bbox.h == pytest.approx((2120 - 72) / 8192)
    assert plate.attributes["Code"] == "TrafficJunction"
    assert plate.attributes["TrafficCar.ViolationDesc"] == "ANPR"
    assert plate.attributes["TrafficCar.MachineName"] == "8M049B2PAJF3085"
    assert plate.attributes["JunctionDirection"] == "Obverse"
    assert "TrafficCar.PlateNumber" not in plate.attributes
    assert "UTC" not in plate.attributes


def test_real_utc_is_preferred_over_utc() -> None:
    # The reference's sample: UTC=1706625295 is the local wall clock 14:34:55 encoded as epoch,
    # RealUTC=1706600095 is the true instant 07:34:55Z.
    (plate,) = _events(_fixture("traffic_junction.txt"))
    assert plate.captured_at == datetime(2024, 1, 30, 7, 34, 55, 305000, tzinfo=UTC)
    assert plate.time_source == "real_utc"


@pytest.mark.parametrize(
    ("timezone", "expected"),
    [
        # A UTC+7 device: the wall clock 14:34:55 is 07:34:55Z, the RealUTC instant.
        ("Asia/Bangkok", datetime(2024, 1, 30, 7, 34, 55, 305000, tzinfo=UTC)),
        ("Asia/Shanghai", datetime(2024, 1, 30, 6, 34, 55, 305000, tzinfo=UTC)),
    ],
)
def test_utc_without_real_utc_is_local_wall_clock(timezone: str, expected: datetime) -> None:
    body = _fixture("traffic_junction.txt").replace(b'"RealUTC" : 1706600095,', b"")
    assert b"RealUTC" not in body
    (plate,) = _events(body, key=GB_CODE, ctx=_registry(GB_CODE, timezone))
    assert plate.captured_at == expected
    assert plate.time_source == "device_zone"
    assert plate.position is not None  # the registry knows the device


def test_real_utc_zero_counts_as_absent() -> None:
    body = _fixture("traffic_junction.txt").replace(b"1706600095", b"0")
    (plate,) = _events(body)
    assert plate.time_source == "device_zone"
    assert plate.captured_at == datetime(2024, 1, 30, 6, 34, 55, 305000, tzinfo=UTC)


def test_locale_time_only() -> None:
    text = 'Code=VideoBlind;action=Start;index=2;data={"LocaleTime":"2024-01-30 14:34:55"}'
    (alarm,) = _events(text.encode())
    assert alarm.captured_at == datetime(2024, 1, 30, 6, 34, 55, tzinfo=UTC)
    assert alarm.time_source == "device_zone"


def test_no_time_at_all_falls_back_to_receive_time() -> None:
    (alarm,) = _events(b"Code=VideoMotion;action=Start;index=0")
    assert alarm.time_source == "received"
    assert alarm.captured_at == datetime(2024, 1, 30, 7, 35, 1, 987000, tzinfo=UTC)
    assert alarm.received_at == alarm.captured_at


def test_malformed_time_rejects_the_part() -> None:
    body = b'Code=VideoMotion;action=Start;index=0;data={"UTC": "yesterday"}'
    result = _result(body)
    assert result.events == []
    (rejected,) = result.rejected
    assert "UTC" in rejected.reason
    assert rejected.record == body


def test_absurd_time_rejects_the_part() -> None:
    # A camera clock never set: epoch 0 is before 2000.
    result = _result(b'Code=VideoLoss;action=Start;index=0;data={"UTC": 0}')
    assert result.events == []
    assert "before 2000" in result.rejected[0].reason


def test_flattened_snapmanager_chunk_with_jpeg_parts() -> None:
    body = _fixture("snap_traffic_parking.bin")
    result = _result(body, key=GB_CODE)
    (plate,) = result.events
    assert isinstance(plate, PlateCapture)
    assert plate.plate_raw == "鄂A06654"  # multi-byte UTF-8 survives
    assert plate.plate_number == "鄂A06654"
    assert plate.device_id == GB_CODE  # a GB/T 28181 key is the device itself
    assert plate.channel == 0
    assert plate.pass_group == "1647090670"
    assert plate.lane == 1
    assert plate.speed_kmh == 0.0
    assert plate.direction == "Approach"
    assert plate.vehicle_color == "black"
    assert plate.vehicle_type is None  # "Unknown"
    assert plate.vehicle_brand is None  # "Unknown"
    assert plate.confidence is None  # Confidence=0 means none
    assert plate.captured_at == datetime(2021, 3, 12, 5, 11, 10, 619000, tzinfo=UTC)
    assert plate.plate_bbox is not None
    assert plate.plate_bbox.x == pytest.approx(5954 / 8192)
    assert plate.bbox is not None
    assert plate.bbox.y == pytest.approx(1872 / 8192)
    assert plate.attributes["TrafficCar.ViolationDesc"] == "A类违法停车"
    assert plate.attributes["TrafficCar.ViolationCode"] == "1044"
    assert plate.attributes["SnapFlag"] == "ABC123"
    assert plate.attributes["Code"] == "TrafficParking"
    # Both JPEG parts belong to the event: hashed, never kept. The second one holds the
    # boundary text in its bytes; Content-Length framing keeps it whole.
    scene = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4 + b"\xff\xd9"
    crop = b"\xff\xd8\xff\xdb\x00\x43\r\n--myboundary\r\n" + bytes(range(255, -1, -1)) + b"\xff\xd9"
    assert [(i.kind, i.sha256, i.url) for i in plate.images] == [
        (ImageKind.SCENE, hashlib.sha256(scene).hexdigest(), None),
        (ImageKind.PLATE, hashlib.sha256(crop).hexdigest(), None),
    ]


def test_flattened_form_without_multipart_and_with_crlf() -> None:
    body = _fixture("retrograde_flat.txt").replace(b"\n", b"\r\n")
    (plate,) = _events(body)
    assert plate.plate_number == "粤MTU952"
    assert plate.attributes["Name"] == "逆行"
    assert plate.attributes["EventValid"] == "true"
    assert plate.attributes["Code"] == "TrafficRetrograde"
    assert plate.source_event_id == "10045"
    assert plate.vehicle_type == "LargeTruck"
    assert plate.vehicle_color == "gray"


def test_flattened_and_json_forms_agree() -> None:
    flat = _fixture("retrograde_flat.txt")
    (from_flat,) = _events(flat)
    data = (
        '{"EventID":10045,"GroupID":1228253,"IndexInGroup":1,"UTC":1623416558,"UTCMS":233,'
        '"TrafficCar":{"PlateNumber":"粤MTU952","PlateColor":"Blue","Lane":1,"Speed":21},'
        '"Object":{"ObjectType":"Plate","BoundingBox":[2242,1989,2474,2092]}}'
    )
    (from_json,) = _events(f"Code=TrafficRetrograde;action=Pulse;index=0;data={data}".encode())
    assert from_json.event_id == from_flat.event_id  # the same event, however it came
    assert from_json.captured_at == from_flat.captured_at
    assert from_json.plate_bbox == from_flat.plate_bbox


def test_group_id_shared_by_snapshots_of_one_pass() -> None:
    template = (
        "Code=TrafficJunction;action=Pulse;index=0;data="
        '{{"GroupID":175706653,"IndexInGroup":{n},"CountInGroup":3,"UTC":1706625295,"UTCMS":305,'
        '"TrafficCar":{{"PlateNumber":"浙A12345","GroupID":175706653,"IndexInGroup":{n}}}}}'
    )
    body = b"".join(_part(template.format(n=n)) for n in (1, 2, 3)) + b"--myboundary--\r\n"
    plates = _events(body)
    assert len(plates) == 3
    assert {p.pass_group for p in plates} == {"175706653"}
    assert len({p.event_id for p in plates}) == 3  # three snapshots, three events
    assert {p.plate_number for p in plates} == {"浙A12345"}


def test_event_ids_survive_repush() -> None:
    first = _events(_fixture("traffic_junction.txt"))
    later = datetime(2024, 1, 30, 9, 0, tzinfo=UTC)  # buffered and re-sent hours later
    again = _events(_fixture("traffic_junction.txt"), received=later)
    assert [e.event_id for e in first] == [e.event_id for e in again]
    assert first[0].received_at != again[0].received_at
    other_channel = _fixture("traffic_junction.txt").replace(b"index=0", b"index=3")
    (moved,) = _events(other_channel)
    assert moved.event_id != first[0].event_id
    assert moved.device_id != first[0].device_id  # each channel its own derived device


def test_plate_unreadable_or_missing() -> None:
    data = '{"UTC":1706625295,"TrafficCar":{"PlateNumber":"","PlateColor":"Unknown"}}'
    (plate,) = _events(f"Code=TrafficParking;action=Pulse;index=0;data={data}".encode())
    assert isinstance(plate, PlateCapture)
    assert plate.plate_raw is None
    assert plate.plate_number is None
    assert plate.plate_color is PlateColor.UNKNOWN
    data = '{"UTC":1706625295,"TrafficCar":{"PlateNumber":"无车牌","PlateColor":"Yellow"}}'
    (plate,) = _events(f"Code=TrafficJunction;action=Pulse;index=0;data={data}".encode())
    assert plate.plate_raw == "无车牌"
    assert plate.plate_number is None
    assert plate.plate_color is PlateColor.YELLOW


def test_plate_text_from_object_and_numeric_colour() -> None:
    data = (
        '{"UTC":1706625295,"TrafficCar":{"PlateColor":8},'
        '"Object":{"ObjectType":"Plate","Text":"粤B D12345","Confidence":"255"}}'
    )
    (plate,) = _events(f"Code=TrafficJunction;action=Pulse;index=0;data={data}".encode())
    assert plate.plate_raw == "粤B D12345"
    assert plate.plate_number == "粤BD12345"
    assert plate.plate_color is PlateColor.GREEN  # NetSDK 8 ShadowGreen
    assert plate.confidence == 1.0


def test_traffic_code_without_traffic_car_is_an_alarm() -> None:
    (alarm,) = _events(b'Code=TrafficJam;action=Start;index=0;data={"UTC":1706625295}')
    assert isinstance(alarm, Alarm)
    assert alarm.alarm_type is AlarmType.OTHER
    assert alarm.vendor_event_type == "TrafficJam"


# --- faces ----------------------------------------------------------------------------------


def test_face_detection_one_capture_per_face() -> None:
    first, second = _events(_fixture("face_detection.txt"))
    assert isinstance(first, FaceCapture)
    assert isinstance(second, FaceCapture)
    assert (first.track_id, second.track_id) == ("312", "313")
    assert first.channel == second.channel == 1
    assert first.bbox is not None
    assert first.bbox.x == pytest.approx(5656 / 8192)
    assert first.bbox.h == pytest.approx((1608 - 112) / 8192)
    assert first.confidence == pytest.approx(19 / 255)  # the Object is this face
    assert second.confidence is None
    assert first.gender is Gender.MALE
    assert (first.age_min, first.age_max) == (34, 34)
    assert first.glasses is Presence.NO
    assert first.mask is Presence.YES
    assert second.gender is Gender.UNKNOWN
    assert second.glasses is Presence.UNKNOWN
    assert first.attributes["Face.ObjectType"] == "HumanFace"
    assert first.attributes["Code"] == "FaceDetection"
    assert first.source_event_id == "10233"
    assert first.captured_at == datetime(2024, 1, 30, 6, 34, 55, 120000, tzinfo=UTC)
    assert first.event_id != second.event_id


def test_face_from_object_only() -> None:
    data = (
        '{"UTC":1706625295,"EventID":9,"Object":{"ObjectID":77,"BoundingBox":[0,0,4096,4096],'
        '"Sex":"Woman","Age":0,"Confidence":128}}'
    )
    (face,) = _events(f"Code=FaceRecognition;action=Pulse;index=0;data={data}".encode())
    assert isinstance(face, FaceCapture)
    assert face.track_id == "77"
    assert face.gender is Gender.FEMALE
    assert face.age_min is None  # 0 = not estimated
    assert face.bbox is not None
    assert (face.bbox.w, face.bbox.h) == (0.5, 0.5)


def test_capture_stop_is_skipped() -> None:
    body = _fixture("face_detection.txt").replace(b"action=Start", b"action=Stop")
    result = _result(body)
    assert result.events == []
    assert result.rejected == []
    assert result.skipped is not None
    assert "Stop" in result.skipped


# --- alarms ---------------------------------------------------------------------------------


def test_cross_line_alarm() -> None:
    received = datetime(2021, 5, 8, 12, 0, tzinfo=UTC)
    (alarm,) = _events(_fixture("cross_line.txt"), received=received)
    assert isinstance(alarm, Alarm)
    assert alarm.alarm_type is AlarmType.LINE_CROSSING
    assert alarm.state is AlarmState.START
    assert alarm.vendor_event_type == "CrossLineDetection"
    assert alarm.rule_name == "Rule1"
    assert alarm.target_type == "human"
    assert alarm.bbox is not None
    assert alarm.bbox.x == pytest.approx(4816 / 8192)
    assert alarm.bbox.y == pytest.approx(4552 / 8192)
    assert alarm.bbox.w == pytest.approx(432 / 8192)
    assert alarm.bbox.h == pytest.approx(720 / 8192)
    assert alarm.confidence is None
    assert alarm.attributes["Direction"] == "RightToLeft"
    assert alarm.attributes["Object.ObjectID"] == "542"
    assert "DetectLine" not in alarm.attributes
    # UTC 1620477656 is the wall clock 2021-05-08 12:40:56 in Shanghai
    assert alarm.captured_at == datetime(2021, 5, 8, 4, 40, 56, 180000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("VideoMotion", AlarmType.MOTION),
        ("SmartMotionHuman", AlarmType.MOTION),
        ("SmartMotionVehicle", AlarmType.MOTION),
        ("CrossLineDetection", AlarmType.LINE_CROSSING),
        ("CrossRegionDetection", AlarmType.INTRUSION),
        ("VideoBlind", AlarmType.TAMPER),
        ("VideoLoss", AlarmType.VIDEO_LOSS),
        ("VideoAbnormalDetection", AlarmType.SCENE_CHANGE),
        ("AlarmLocal", AlarmType.IO_INPUT),
        ("StorageLowSpace", AlarmType.OTHER),
        ("LeftDetection", AlarmType.OTHER),
    ],
)
def test_alarm_type_mapping(code: str, expected: AlarmType) -> None:
    (alarm,) = _events(f"Code={code};action=Pulse;index=0".encode())
    assert alarm.alarm_type is expected
    assert alarm.state is AlarmState.PULSE
    assert alarm.vendor_event_type == code


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ('{"Action":"Appear"}', AlarmType.INTRUSION),
        ('{"Action":"Inside"}', AlarmType.INTRUSION),
        ('{"Action":"Cross","Direction":"Enter"}', AlarmType.REGION_ENTRANCE),
        ('{"Action":"Cross","Direction":"Leave"}', AlarmType.REGION_EXIT),
        ('{"Action":"Cross","Direction":"Both"}', AlarmType.INTRUSION),
        ('{"Action":"Enter"}', AlarmType.REGION_ENTRANCE),
        ('{"Action":"Leave"}', AlarmType.REGION_EXIT),
    ],
)
def test_cross_region_action_decides(data: str, expected: AlarmType) -> None:
    (alarm,) = _events(f"Code=CrossRegionDetection;action=Start;index=0;data={data}".encode())
    assert alarm.alarm_type is expected


def test_states_and_smart_motion_target() -> None:
    body = b"".join(
        _part(f"Code=SmartMotionVehicle;action={action};index=0")
        for action in ("Start", "Stop", "Pulse", "Bogus")
    )
    states = [a.state for a in _events(body)]
    assert states == [AlarmState.START, AlarmState.STOP, AlarmState.PULSE, AlarmState.PULSE]
    (alarm,) = _events(b"Code=SmartMotionVehicle;action=Start;index=0")
    assert alarm.target_type == "vehicle"


def test_start_and_stop_of_one_alarm_have_distinct_ids() -> None:
    start = _events(b'Code=VideoMotion;action=Start;index=0;data={"EventID":5,"UTC":1706625295}')
    stop = _events(b'Code=VideoMotion;action=Stop;index=0;data={"EventID":5,"UTC":1706625295}')
    assert start[0].event_id != stop[0].event_id


def test_video_motion_region_name_is_the_rule() -> None:
    body = b'Code=VideoMotion;action=Start;index=0;data={\n "Id" : [ 0 ],\n "RegionName" : [ "Region1" ],\n "SmartMotionEnable" : true\n}\n'  # noqa: E501
    (alarm,) = _events(body)
    assert alarm.rule_name == "Region1"
    assert alarm.attributes == {"SmartMotionEnable": "true"}


def test_alarm_local_belongs_to_the_device_not_a_channel() -> None:
    (alarm,) = _events(b"Code=AlarmLocal;action=Start;index=3")
    assert alarm.alarm_type is AlarmType.IO_INPUT
    assert alarm.channel is None
    assert alarm.attributes["AlarmInput"] == "3"
    assert alarm.device_id == derived_device_id("dahua-cgi", KEY)


# --- transport and device identity ----------------------------------------------------------


def test_heartbeat_is_skipped() -> None:
    result = _result(b"Heartbeat")
    assert result.events == []
    assert result.rejected == []
    assert result.skipped == "heartbeat"
    chunk = _part("Heartbeat") + _part("Heartbeat")
    assert _result(chunk).skipped == "heartbeat"


def test_multipart_chunk_with_several_parts() -> None:
    chunk = (
        _part("Code=VideoMotion;action=Start;index=0")
        + _part("Heartbeat")
        + _fixture("cross_line.txt").replace(b"Code", b"--myboundary\r\n\r\nCode", 1)
        + b"\r\n"
        + _part(_fixture("traffic_junction.txt"))
        + _part("Code=VideoMotion;action=Stop;index=0")
        + b"--myboundary--\r\n"
    )
    result = _result(chunk, content_type="multipart/x-mixed-replace; boundary=myboundary")
    assert result.rejected == []
    kinds = [type(e).__name__ for e in result.events]
    assert kinds == ["Alarm", "Alarm", "PlateCapture", "Alarm"]
    motion_start, cross, plate, motion_stop = result.events
    assert isinstance(motion_start, Alarm)
    assert isinstance(motion_stop, Alarm)
    assert isinstance(cross, Alarm)
    assert isinstance(plate, PlateCapture)
    assert motion_start.state is AlarmState.START
    assert motion_stop.state is AlarmState.STOP
    assert cross.alarm_type is AlarmType.LINE_CROSSING
    assert plate.plate_number == "浙A12345"


def test_chunk_starting_mid_stream_and_other_boundary() -> None:
    # A chunk may begin with the tail of a part whose delimiter came earlier; a device may use
    # another boundary (taken from the Content-Type, else from the first delimiter line).
    chunk = (
        b"Code=VideoLoss;action=Start;index=1\r\n\r\n"
        b"--frontier\r\nContent-Type: text/plain\r\n\r\nCode=VideoLoss;action=Stop;index=1\r\n"
        b"--frontier--\r\n"
    )
    events = _events(chunk)
    assert [e.state for e in events] == [AlarmState.START, AlarmState.STOP]
    assert {e.alarm_type for e in events} == {AlarmType.VIDEO_LOSS}


def test_part_without_blank_line_after_headers() -> None:
    chunk = b"--myboundary\r\nContent-Type: text/plain\r\nCode=VideoBlind;action=Start;index=0\r\n"
    (alarm,) = _events(chunk)
    assert alarm.alarm_type is AlarmType.TAMPER


def test_bad_part_is_rejected_and_the_others_still_count() -> None:
    bad = 'Code=CrossLineDetection;action=Start;index=0;data={\n"Name": "Rule1",\n'
    chunk = _part("Code=VideoMotion;action=Start;index=0") + _part(bad) + _part("Hello there")
    result = _result(chunk)
    assert len(result.events) == 1
    assert len(result.rejected) == 2
    assert "not JSON" in result.rejected[0].reason
    assert result.rejected[0].record == bad.strip().encode()
    assert "not a Dahua event part" in result.rejected[1].reason


def test_data_must_be_an_object() -> None:
    result = _result(b"Code=VideoMotion;action=Start;index=0;data=[1, 2]")
    assert result.events == []
    assert "not a JSON object" in result.rejected[0].reason


def test_semicolon_inside_json_data() -> None:
    body = 'Code=CrossRegionDetection;action=Start;index=0;data={"Name":"Drive; Gate"}'
    (alarm,) = _events(body.encode())
    assert alarm.rule_name == "Drive; Gate"


def test_truncated_multibyte_plate_is_rejected_not_mangled() -> None:
    text = _fixture("traffic_junction.txt")
    cut = text.index("浙".encode()) + 1  # the chunk ends inside the 3-byte character
    result = _result(text[:cut])
    assert result.events == []
    assert "not UTF-8" in result.rejected[0].reason


def test_device_identity() -> None:
    (gb,) = _events(b"Code=VideoLoss;action=Start;index=5", key=GB_CODE)
    assert (gb.device_id, gb.channel) == (GB_CODE, 5)
    zero, one = _events(
        _part("Code=VideoLoss;action=Start;index=0") + _part("Code=VideoLoss;action=Start;index=1")
    )
    assert zero.device_id != one.device_id
    # No gateway key: the traffic MachineName stands in; nothing at all rejects the part.
    (plate,) = _events(_fixture("traffic_junction.txt"), key=None)
    assert plate.device_id == derived_device_id("dahua-cgi", "machine=8M049B2PAJF3085", "0")
    result = _result(b"Code=VideoLoss;action=Start;index=0", key="  ")
    assert result.events == []
    assert "no device identity" in result.rejected[0].reason


@pytest.mark.parametrize("index", ["-1", "1.5", "x", "99999999999"])
def test_bad_index_rejects_the_part(index: str) -> None:
    result = _result(f"Code=VideoLoss;action=Start;index={index}".encode())
    assert result.events == []
    assert "channel number" in result.rejected[0].reason


def test_big_integer_ids_stay_exact() -> None:
    body = b'Code=VideoMotion;action=Start;index=0;data={"EventID":123456789012345678901234}'
    (alarm,) = _events(body)
    assert alarm.source_event_id == "123456789012345678901234"


@pytest.mark.parametrize(
    "body",
    [b"", b"   \r\n", b"<xml/>", b"\xff\xfe\x00garbage", b'{"method":"client.notifyEventStream"}'],
)
def test_unusable_payloads_raise(body: bytes) -> None:
    with pytest.raises(AdapterError):
        normalize_dahua(RawPayload("dahua-cgi", body, RECEIVED, key=KEY), CTX)


# --- properties -----------------------------------------------------------------------------

_FIXTURE_BODIES = [
    _fixture(name)
    for name in (
        "traffic_junction.txt",
        "face_detection.txt",
        "cross_line.txt",
        "retrograde_flat.txt",
        "snap_traffic_parking.bin",
    )
]


def _run_any(body: bytes, key: str | None = KEY, content_type: str | None = None) -> None:
    raw = RawPayload("dahua-cgi", body, RECEIVED, key=key, content_type=content_type)
    try:
        result = normalize_dahua(raw, CTX)
    except AdapterError:
        return
    assert_valid(result.events)
    for event in result.events:
        assert event.source == "dahua-cgi"
        assert all(len(v) <= 256 for v in event.attributes.values())


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.one_of(st.none(), st.text(max_size=30)))
def test_arbitrary_bytes_only_raise_adapter_error(body: bytes, key: str | None) -> None:
    _run_any(body, key)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "Code=",
                "Heartbeat",
                ";action=",
                ";index=",
                ";data=",
                "Start",
                "Stop",
                "TrafficJunction",
                "FaceDetection",
                "CrossRegionDetection",
                "0",
                "{",
                "}",
                '"UTC":',
                '"RealUTC":',
                "1706625295",
                '"TrafficCar":{"PlateNumber":"浙A1234"}',
                '"Faces":[{"BoundingBox":[1,2,3]}]',
                "[",
                "]",
                ",",
                "\r\n",
                "--myboundary\r\n",
                "Content-Length: 3\r\n",
                "Events[0].",
                "EventBaseInfo.Code=",
                "BoundingBox[0]=",
                "=",
                ".",
            ]
        ),
        max_size=40,
    ).map("".join)
)
def test_structured_noise_only_raises_adapter_error(text: str) -> None:
    _run_any(text.encode())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(_FIXTURE_BODIES),
    st.lists(st.tuples(st.integers(0, 10**6), st.binary(max_size=4)), max_size=6),
    st.integers(0, 10**6),
)
def test_mutated_fixtures_only_raise_adapter_error(
    body: bytes, edits: list[tuple[int, bytes]], cut: int
) -> None:
    data = bytearray(body)
    for at, replacement in edits:
        at %= len(data) + 1
        data[at : at + len(replacement)] = replacement
    _run_any(bytes(data[: cut % (len(data) + 1)] if cut % 3 == 0 else data))


@settings(max_examples=200, deadline=None)
@given(
    code=st.text(min_size=1, max_size=20).filter(lambda s: ";" not in s and "\n" not in s),
    action=st.text(max_size=8),
    index=st.integers(0, 64),
    values=st.dictionaries(
        st.sampled_from(
            ["UTC", "RealUTC", "UTCMS", "LocaleTime", "EventID", "GroupID", "Name", "Lane"]
        ),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(-(2**70), 2**70),
            st.floats(allow_nan=False),
            st.text(max_size=12),
            st.lists(st.integers(-10, 10000), max_size=5),
        ),
    ),
)
def test_generated_parts_validate(
    code: str, action: str, index: int, values: dict[str, Any]
) -> None:
    data = json.dumps({**values, "Object": {"BoundingBox": values.get("Lane") or [1, 2, 3, 4]}})
    _run_any(f"Code={code};action={action};index={index};data={data}".encode())
