"""Uniview LAPI adapter on realistic Structure and Alarm notifications, and their pitfalls."""

from __future__ import annotations

import base64
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
)
from streams.domain.devices import Device, DeviceRegistry, derived_device_id
from streams.vendors.base import AdapterError, Context, Normalized, RawPayload
from streams.vendors.uniview import normalize_uniview
from tests.vendors.checks import assert_valid

FIXTURES = Path(__file__).parent / "fixtures" / "uniview-lapi"
RECEIVED = datetime(2024, 1, 30, 6, 35, 0, 456789, tzinfo=UTC)
PEER = "192.168.1.64"  # the gateway's key when the device sent no id header
CTX = Context()


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _document(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(_fixture(name))
    return document


def _result(
    body: bytes | dict[str, Any], *, key: str | None = PEER, ctx: Context = CTX
) -> Normalized:
    data = json.dumps(body, ensure_ascii=False).encode() if isinstance(body, dict) else body
    result = normalize_uniview(RawPayload("uniview-lapi", data, RECEIVED, key=key), ctx)
    assert_valid(result.events)
    return result


def _events(body: bytes | dict[str, Any], **kwargs: Any) -> list[Any]:
    result = _result(body, **kwargs)
    assert result.rejected == []
    return result.events


def _sha(text: str) -> str:
    return hashlib.sha256(base64.b64decode(text)).hexdigest()


# --- vehicles -------------------------------------------------------------------------------


def test_vehicle_structure_notification() -> None:
    document = _document("structure_vehicle.json")
    first, unread = _events(document)
    assert isinstance(first, PlateCapture)
    assert first.source == "uniview-lapi"
    assert first.plate_raw == "浙A·12345"
    assert first.plate_number == "浙A12345"
    assert first.plate_color is PlateColor.BLUE  # LAPI colour 4
    assert first.plate_class == "1"
    assert first.vehicle_color == "white"
    assert first.vehicle_type == "sedan"
    assert first.vehicle_brand == "12"
    assert first.lane == 2
    assert first.speed_kmh == 48.0
    assert first.confidence == pytest.approx(0.87)
    assert first.source_event_id == "17"
    assert first.channel == 1
    # a serial, not a GB/T 28181 code: hashed with the channel
    assert first.device_id == derived_device_id("uniview-lapi", "210235C3EQ3203000123", "1")
    # PassTime 14:34:55.123 local (Shanghai) wins over the notification TimeStamp
    assert first.captured_at == datetime(2024, 1, 30, 6, 34, 55, 123000, tzinfo=UTC)
    assert first.time_source == "device_zone"
    # 0..10000 grid
    assert first.bbox is not None
    assert first.bbox.x == pytest.approx(0.3109)
    assert first.bbox.y == pytest.approx(0.6136)
    assert first.bbox.w == pytest.approx(0.2281)
    assert first.bbox.h == pytest.approx(0.2130)
    assert first.plate_bbox is not None
    assert first.plate_bbox.x == pytest.approx(0.4102)
    # base64 images become hashes, kinds by Type (2 = the object's own crop)
    images = document["StructureInfo"]["ImageInfoList"]
    assert [(i.kind, i.sha256, i.url, i.width) for i in first.images] == [
        (ImageKind.SCENE, _sha(images[0]["Data"]), None, 2688),
        (ImageKind.VEHICLE, _sha(images[1]["Data"]), None, 480),
        (ImageKind.PLATE, _sha(images[2]["Data"]), None, None),  # Width 0 = unknown
    ]
    assert first.attributes["TriggerType"] == "1"
    assert first.attributes["VehicleAttributeInfo.SpeedType"] == "0"
    assert "Feature" not in first.attributes
    assert not any(len(v) > 100 for v in first.attributes.values())
    # attribute objects sent as arrays; "Unknown" plate; confidence "0" means none
    assert isinstance(unread, PlateCapture)
    assert unread.plate_raw == "Unknown"
    assert unread.plate_number is None
    assert unread.plate_color is PlateColor.UNKNOWN  # 100
    assert unread.vehicle_color is None
    assert unread.vehicle_type is None
    assert unread.confidence is None
    assert unread.bbox is not None
    assert unread.bbox.x == pytest.approx(0.012)  # odd spacing tolerated
    assert [i.kind for i in unread.images] == [ImageKind.SCENE]
    assert unread.images[0] == first.images[0]  # one decode, shared


def test_event_ids_deterministic_distinct_and_repush_stable() -> None:
    first = _events(_document("structure_vehicle.json"))
    again = _events(_fixture("structure_vehicle.json"))
    assert [e.event_id for e in first] == [e.event_id for e in again]
    assert len({e.event_id for e in first}) == 2
    document = _document("structure_vehicle.json")
    document["Seq"] = 4822
    assert _events(document)[0].event_id != first[0].event_id


def test_pass_time_missing_uses_epoch_timestamp() -> None:
    document = _document("structure_vehicle.json")
    for item in document["StructureInfo"]["ObjInfo"]["VehicleInfoList"]:
        del item["PassTime"]
    plate = _events(document)[0]
    assert plate.captured_at == datetime(2024, 1, 30, 6, 34, 55, tzinfo=UTC)
    assert plate.time_source == "epoch"
    del document["TimeStamp"]
    plate = _events(document)[0]
    assert plate.time_source == "received"
    assert plate.captured_at == datetime(2024, 1, 30, 6, 35, 0, 456000, tzinfo=UTC)


def test_pass_time_is_read_in_the_device_zone() -> None:
    document = _document("structure_vehicle.json")
    device_id = derived_device_id("uniview-lapi", "210235C3EQ3203000123", "1")
    device = Device(device_id, "gate", "uniview", 31.2, 121.4, timezone="Asia/Bangkok")
    plate = _events(document, ctx=Context(devices=DeviceRegistry([device])))[0]
    assert plate.captured_at == datetime(2024, 1, 30, 7, 34, 55, 123000, tzinfo=UTC)
    assert plate.position is not None
    assert plate.position.lat == pytest.approx(31.2)


def test_malformed_pass_time_rejects_only_that_record() -> None:
    document = _document("structure_vehicle.json")
    document["StructureInfo"]["ObjInfo"]["VehicleInfoList"][1]["PassTime"] = "20241399999999999"
    result = _result(document)
    assert len(result.events) == 1
    (rejected,) = result.rejected
    assert rejected.reason.startswith("vehicle record:")
    assert rejected.record is not None
    assert b'"ID": 18' in rejected.record


def test_url_images_and_whole_frame_default_box() -> None:
    document = _document("structure_vehicle.json")
    document["StructureInfo"]["ImageInfoList"] = [
        {"Index": 1, "Type": 1, "DataType": 1, "URL": "http://10.0.0.9/a.jpg", "Data": ""}
    ]
    vehicles = document["StructureInfo"]["ObjInfo"]["VehicleInfoList"]
    vehicles[0]["Position"] = "0,0;10000,10000"
    first = _events(document)[0]
    assert [(i.url, i.sha256) for i in first.images] == [("http://10.0.0.9/a.jpg", None)]
    assert first.bbox is None  # the device default means no position


# --- faces ----------------------------------------------------------------------------------


def test_face_structure_notification() -> None:
    first, second = _events(_document("structure_face.json"))
    assert isinstance(first, FaceCapture)
    assert isinstance(second, FaceCapture)
    assert first.device_id == "34020000001320000007"  # a GB/T 28181 code is the device
    assert first.channel == 1
    assert (first.track_id, second.track_id) == ("90211", "90212")
    assert first.source_event_id == "90211"
    assert first.confidence == pytest.approx(0.93)
    assert first.captured_at == datetime(2024, 1, 30, 6, 34, 55, tzinfo=UTC)  # TimeStamp text
    assert first.time_source == "epoch"
    assert first.appeared_at == datetime(2024, 1, 30, 6, 34, 53, tzinfo=UTC)
    assert first.disappeared_at == datetime(2024, 1, 30, 6, 34, 55, tzinfo=UTC)
    assert second.appeared_at is None
    assert first.bbox is not None
    assert (first.bbox.x, first.bbox.y) == (0.48, 0.12)
    assert first.bbox.h == pytest.approx(0.11)
    assert [(i.kind, i.url) for i in first.images] == [
        (ImageKind.SCENE, "http://192.168.1.65/img/fq2D9xk3LmPa01c_1.jpg"),
        (ImageKind.FACE, "http://192.168.1.65/img/fq2D9xk3LmPa01c_2.jpg"),
    ]
    assert [i.kind for i in second.images] == [ImageKind.SCENE, ImageKind.FACE]  # Type 2 crop
    # attribute codes are not confirmed: kept as sent, never guessed
    assert first.gender is Gender.UNKNOWN
    assert first.attributes["AttributeInfo.Gender"] == "1"
    assert first.attributes["AttributeInfo.MaskFlag"] == "1"
    assert first.attributes["FeatureVersion"] == "V1.2"
    assert "Feature" not in first.attributes
    assert first.embedding is None
    assert first.event_id != second.event_id


def test_person_only_notification_is_skipped() -> None:
    result = _result(_fixture("structure_person.json"))
    assert result.events == []
    assert result.rejected == []
    assert result.skipped is not None
    assert "PersonInfoList" in result.skipped


def test_big_integer_device_id_stays_exact() -> None:
    text = _fixture("structure_face.json").decode()
    body = text.replace('"34020000001320000007"', "34020000001320000007").encode()
    assert b'"DeviceID": 34020000001320000007' in body
    first, _second = _events(body)
    assert first.device_id == "34020000001320000007"


def test_device_identity_fallbacks() -> None:
    document = _document("structure_vehicle.json")
    del document["DeviceID"]
    document["DevID"] = "UNV-SERIAL-9"
    assert _events(document)[0].device_id == derived_device_id("uniview-lapi", "UNV-SERIAL-9", "1")
    del document["DevID"]
    assert _events(document)[0].device_id == derived_device_id("uniview-lapi", PEER, "1")
    result = _result(document, key=None)
    assert result.events == []
    assert len(result.rejected) == 2
    assert all("no device identity" in r.reason for r in result.rejected)


def test_bad_channel_rejects_the_records() -> None:
    document = _document("structure_vehicle.json")
    document["SrcID"] = "front"
    result = _result(document)
    assert result.events == []
    assert all("SrcID" in r.reason for r in result.rejected)


def test_bad_record_and_good_record() -> None:
    document = _document("structure_face.json")
    document["StructureInfo"]["ObjInfo"]["FaceInfoList"].insert(0, "not an object")
    result = _result(document)
    assert len(result.events) == 2
    (rejected,) = result.rejected
    assert "FaceInfo is not an object" in rejected.reason


def test_malformed_notification_timestamp() -> None:
    document = _document("structure_face.json")
    document["TimeStamp"] = "soon"
    result = _result(document)
    assert result.events == []
    assert len(result.rejected) == 2
    # a vehicle with its own PassTime does not need the notification time
    vehicles = _document("structure_vehicle.json")
    vehicles["TimeStamp"] = "soon"
    assert len(_events(vehicles)) == 2


# --- alarms ---------------------------------------------------------------------------------


def test_intrusion_alarm() -> None:
    (alarm,) = _events(_fixture("alarm_intrusion.json"))
    assert isinstance(alarm, Alarm)
    assert alarm.alarm_type is AlarmType.INTRUSION
    assert alarm.state is AlarmState.PULSE
    assert alarm.vendor_event_type == "FieldDetectorObjectsInside"
    assert alarm.target_type == "person"
    assert alarm.channel == 1
    assert alarm.device_id == derived_device_id("uniview-lapi", "210235C3EQ3203000123", "1")
    assert alarm.captured_at == datetime(2024, 1, 30, 6, 34, 55, tzinfo=UTC)
    assert alarm.time_source == "epoch"
    assert alarm.source_event_id == "327"
    assert alarm.attributes["AlarmLevel"] == "2"
    assert alarm.attributes["AlarmSrcName"] == "Gate-East"


def test_smart_motion_on_with_picture() -> None:
    (alarm,) = _events(_fixture("alarm_smart_motion_on.json"))
    assert alarm.alarm_type is AlarmType.MOTION
    assert alarm.state is AlarmState.START
    assert alarm.channel == 3
    assert alarm.device_id == derived_device_id("uniview-lapi", PEER, "3")  # no DeviceID
    data = _document("alarm_smart_motion_on.json")["AlarmPicture"]["ImageList"][0]["Data"]
    assert [(i.kind, i.sha256) for i in alarm.images] == [(ImageKind.SCENE, _sha(data))]


@pytest.mark.parametrize(
    ("alarm_type", "expected", "state"),
    [
        ("FieldDetectorObjectsInside", AlarmType.INTRUSION, AlarmState.PULSE),
        ("LineDetectorCrossed", AlarmType.LINE_CROSSING, AlarmState.PULSE),
        ("EnterArea", AlarmType.REGION_ENTRANCE, AlarmState.PULSE),
        ("LeaveArea", AlarmType.REGION_EXIT, AlarmState.PULSE),
        ("ObjectIsRecognized", AlarmType.FACE_MATCH, AlarmState.PULSE),
        ("SmartMotionDetectOn", AlarmType.MOTION, AlarmState.START),
        ("SmartMotionDetectOff", AlarmType.MOTION, AlarmState.STOP),
        ("MotionAlarmOn", AlarmType.MOTION, AlarmState.START),
        ("MotionAlarmOff", AlarmType.MOTION, AlarmState.STOP),
        ("HumanShapeDetect", AlarmType.MOTION, AlarmState.PULSE),
        ("VehicleDetect", AlarmType.MOTION, AlarmState.PULSE),
        ("TamperAlarmOn", AlarmType.TAMPER, AlarmState.START),
        ("VideoLossAlarmOff", AlarmType.VIDEO_LOSS, AlarmState.STOP),
        ("CrossLineAlarmOn", AlarmType.LINE_CROSSING, AlarmState.START),
        ("IntrusionAlarmOff", AlarmType.INTRUSION, AlarmState.STOP),
        ("AccessZoneAlarmOn", AlarmType.REGION_ENTRANCE, AlarmState.START),
        ("LeaveZoneAlarmOn", AlarmType.REGION_EXIT, AlarmState.START),
        ("InputAlarmOn", AlarmType.IO_INPUT, AlarmState.START),
        ("CarCleared", AlarmType.OTHER, AlarmState.STOP),
        ("SomethingNew", AlarmType.OTHER, AlarmState.PULSE),
        (1, AlarmType.MOTION, AlarmState.START),
        ("1001", AlarmType.MOTION, AlarmState.STOP),
        (3, AlarmType.TAMPER, AlarmState.START),
        (504, AlarmType.INTRUSION, AlarmState.PULSE),
        (9, AlarmType.OTHER, AlarmState.PULSE),
    ],
)
def test_alarm_type_mapping(alarm_type: Any, expected: AlarmType, state: AlarmState) -> None:
    document = _document("alarm_intrusion.json")
    document["AlarmInfo"]["AlarmType"] = alarm_type
    del document["RelatedObjects"]
    (alarm,) = _events(document)
    assert (alarm.alarm_type, alarm.state) == (expected, state)
    assert alarm.vendor_event_type == str(alarm_type)


def test_human_shape_target() -> None:
    document = _document("alarm_intrusion.json")
    document["AlarmInfo"]["AlarmType"] = "HumanShapeDetect"
    del document["RelatedObjects"]
    (alarm,) = _events(document)
    assert alarm.target_type == "human"


def test_on_and_off_have_distinct_ids_and_repush_the_same() -> None:
    on = _document("alarm_smart_motion_on.json")
    off = _document("alarm_smart_motion_on.json")
    off["AlarmInfo"]["AlarmType"] = "SmartMotionDetectOff"
    off["AlarmInfo"]["AlarmSeq"] = 329
    first, again, stop = (_events(d)[0] for d in (on, on, off))
    assert first.event_id == again.event_id
    assert first.event_id != stop.event_id


def test_input_alarm_source_is_not_a_video_channel() -> None:
    document = _document("alarm_intrusion.json")
    document["AlarmInfo"].update(AlarmType="InputAlarmOn", AlarmSrcType=9, AlarmSrcID=2)
    (alarm,) = _events(document)
    assert alarm.channel is None
    assert alarm.attributes["AlarmSrcID"] == "2"
    assert alarm.device_id == derived_device_id("uniview-lapi", "210235C3EQ3203000123")


def test_alarm_without_type_is_rejected() -> None:
    document = _document("alarm_intrusion.json")
    del document["AlarmInfo"]["AlarmType"]
    result = _result(document)
    assert result.events == []
    assert "AlarmType" in result.rejected[0].reason


def test_alarm_without_time_uses_receive_time() -> None:
    document = _document("alarm_intrusion.json")
    del document["AlarmInfo"]["TimeStamp"]
    (alarm,) = _events(document)
    assert alarm.time_source == "received"


def test_control_messages_are_skipped() -> None:
    result = _result({"RequestURL": "/LAPI/V1.0/System/UpServer/Keepalive", "Cseq": 3})
    assert result.skipped is not None
    assert result.events == []


@pytest.mark.parametrize(
    "body", [b"", b"not json", b"[1, 2]", b'"text"', b'{"Something": 1}', b"\xff\xfe"]
)
def test_unusable_payloads_raise(body: bytes) -> None:
    with pytest.raises(AdapterError):
        normalize_uniview(RawPayload("uniview-lapi", body, RECEIVED, key=PEER), CTX)


# --- properties -----------------------------------------------------------------------------

_FIXTURES = [
    _fixture(name)
    for name in (
        "structure_vehicle.json",
        "structure_face.json",
        "structure_person.json",
        "alarm_intrusion.json",
        "alarm_smart_motion_on.json",
    )
]


def _run_any(body: bytes, key: str | None = PEER) -> None:
    try:
        result = normalize_uniview(RawPayload("uniview-lapi", body, RECEIVED, key=key), CTX)
    except AdapterError:
        return
    assert_valid(result.events)
    for event in result.events:
        assert event.source == "uniview-lapi"
        assert all(len(v) <= 256 for v in event.attributes.values())


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.one_of(st.none(), st.text(max_size=30)))
def test_arbitrary_bytes_only_raise_adapter_error(body: bytes, key: str | None) -> None:
    _run_any(body, key)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(_FIXTURES),
    st.lists(st.tuples(st.integers(0, 10**6), st.binary(max_size=3)), max_size=5),
)
def test_mutated_fixtures_only_raise_adapter_error(
    body: bytes, edits: list[tuple[int, bytes]]
) -> None:
    data = bytearray(body)
    for at, replacement in edits:
        at %= len(data) + 1
        data[at : at + len(replacement)] = replacement
    _run_any(bytes(data))


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.text(max_size=20),
)
_JSON = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _replace_leaves(document: Any, values: list[Any]) -> Any:
    """The fixture's shape with generated values in its leaves: realistic keys, wild values."""
    if isinstance(document, dict):
        return {k: _replace_leaves(v, values) for k, v in document.items()}
    if isinstance(document, list):
        return [_replace_leaves(v, values) for v in document]
    return values.pop() if values else document


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_FIXTURES), st.lists(_JSON, max_size=60))
def test_fixture_shapes_with_generated_values(body: bytes, values: list[Any]) -> None:
    document = _replace_leaves(json.loads(body), values)
    _run_any(json.dumps(document).encode())
