"""ONVIF adapter on realistic payloads: scene description, rule events, onvif-ej, pitfalls."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.canonical import (
    Alarm,
    AlarmState,
    AlarmType,
    CanonicalEvent,
    FaceCapture,
    Gender,
    ImageKind,
    PlateCapture,
    PlateColor,
    Presence,
)
from streams.domain.devices import DeviceRegistry, derived_device_id
from streams.vendors.base import AdapterError, Context, Normalized, RawPayload
from streams.vendors.onvif import normalize_onvif
from tests.vendors.checks import assert_valid

FIXTURES = Path(__file__).parent / "fixtures" / "onvif"
RECEIVED = datetime(2026, 3, 1, 0, 30, 30, 123456, tzinfo=UTC)
CTX = Context()
GB_CAMERA = "33010200001320000021"


def _normalize(body: bytes, key: str | None = GB_CAMERA, ctx: Context = CTX) -> Normalized:
    result = normalize_onvif(RawPayload("onvif", body, RECEIVED, key=key), ctx)
    assert_valid(result.events)
    return result


def _run(body: bytes, key: str | None = GB_CAMERA, ctx: Context = CTX) -> list[CanonicalEvent]:
    result = _normalize(body, key, ctx)
    assert result.rejected == []
    return result.events


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _alarms(events: list[CanonicalEvent]) -> list[Alarm]:
    assert all(isinstance(e, Alarm) for e in events)
    return [e for e in events if isinstance(e, Alarm)]


def _plates(events: list[CanonicalEvent]) -> list[PlateCapture]:
    assert all(isinstance(e, PlateCapture) for e in events)
    return [e for e in events if isinstance(e, PlateCapture)]


def _frame(objects: str, transformation: str = "", utc: str = "2026-03-01T00:30:15Z") -> bytes:
    return (
        '<tt:MetadataStream xmlns:tt="http://www.onvif.org/ver10/schema"><tt:VideoAnalytics>'
        f'<tt:Frame UtcTime="{utc}">{transformation}{objects}</tt:Frame>'
        "</tt:VideoAnalytics></tt:MetadataStream>"
    ).encode()


def _plate_object(box: str, object_id: str = "1", plate: str = "浙A12345") -> str:
    return (
        f'<tt:Object ObjectId="{object_id}"><tt:Appearance>'
        f"<tt:Shape>{box}<tt:CenterOfGravity x='0' y='0'/></tt:Shape>"
        "<tt:Class><tt:Type Likelihood='0.9'>LicensePlate</tt:Type></tt:Class>"
        f"<tt:LicensePlateInfo><tt:PlateNumber>{plate}</tt:PlateNumber></tt:LicensePlateInfo>"
        "</tt:Appearance></tt:Object>"
    )


def _message(
    topic: str, operation: str | None, data: str, utc: str = "2026-03-01T00:30:18Z"
) -> bytes:
    op = f' PropertyOperation="{operation}"' if operation else ""
    return (
        '<tt:MetadataStream xmlns:tt="http://www.onvif.org/ver10/schema" '
        'xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2"><tt:Event><wsnt:NotificationMessage>'
        f"<wsnt:Topic>{topic}</wsnt:Topic><wsnt:Message>"
        f'<tt:Message UtcTime="{utc}"{op}><tt:Source>'
        '<tt:SimpleItem Name="VideoSourceConfigurationToken" Value="VideoSource_1"/>'
        '<tt:SimpleItem Name="Rule" Value="R1"/></tt:Source>'
        f"<tt:Data>{data}</tt:Data></tt:Message></wsnt:Message>"
        "</wsnt:NotificationMessage></tt:Event></tt:MetadataStream>"
    ).encode()


# --- scene description --------------------------------------------------------------------------


def test_plate_object_with_parent_vehicle() -> None:
    (plate,) = _plates(_run(_fixture("plate_frame.xml")))  # the Human object is no capture
    assert isinstance(plate, PlateCapture)
    assert plate.plate_raw == "浙A·12345"
    assert plate.plate_number == "浙A12345"
    assert plate.confidence == pytest.approx(0.93)
    assert plate.plate_class == "Normal"
    assert plate.device_id == GB_CAMERA
    assert plate.captured_at == datetime(2026, 3, 1, 0, 30, 15, 321000, tzinfo=UTC)
    assert plate.time_source == "source_offset"
    # Frame system 320x240... here 640x480 with y up from the bottom: Translate(-1,-1),
    # Scale(2/640, 2/480). The plate box (40..70, 100..150) is the plate; its parent is the car.
    assert plate.plate_bbox is not None
    assert plate.plate_bbox.x == pytest.approx(40 / 640)
    assert plate.plate_bbox.w == pytest.approx(30 / 640)
    assert plate.plate_bbox.y == pytest.approx((480 - 150) / 480, abs=1e-5)
    assert plate.plate_bbox.h == pytest.approx(50 / 480, abs=1e-5)
    assert plate.bbox is not None
    assert plate.bbox.x == pytest.approx(20 / 640)
    assert plate.bbox.y == pytest.approx((480 - 180) / 480, abs=1e-5)
    assert plate.bbox.h == pytest.approx(150 / 480, abs=1e-5)
    assert (plate.vehicle_type, plate.vehicle_brand) == ("Car", "Volvo")
    assert plate.speed_kmh == pytest.approx(45.0)  # 12.5 m/s
    assert plate.attributes["vehicle_model"] == "XC60"
    assert plate.attributes["plate_country"] == "CN"
    assert plate.attributes["plate_issuing_entity"] == "Zhejiang"
    assert plate.attributes["analytics_module"] == "AnalyticsModule_ANPR"
    assert plate.attributes["parent_object_id"] == "12"
    kinds = {(i.kind, i.url) for i in plate.images}
    assert (ImageKind.PLATE, "http://10.0.0.21/onvif/snapshot/plate/14.jpg") in kinds
    assert any(kind is ImageKind.SCENE for kind, _url in kinds)


def test_face_with_pixel_transformation_and_attributes() -> None:
    (face,) = _run(_fixture("face_frame_hanwha.xml"))
    assert isinstance(face, FaceCapture)
    # Hanwha: pixels of a 1920x1080 frame, Translate(-1, 1) Scale(2/1920, -2/1080).
    assert face.bbox is not None
    box = (face.bbox.x, face.bbox.y, face.bbox.w, face.bbox.h)
    assert box == pytest.approx((0.25, 0.25, 0.25, 0.25), abs=1e-4)
    assert face.gender is Gender.FEMALE
    assert (face.age_min, face.age_max) == (25, 34)
    assert face.glasses is Presence.YES
    assert face.mask is Presence.NO
    assert face.confidence == pytest.approx(0.57)
    assert face.track_id == "2083"
    assert face.channel == 2  # VideoSourceToken-2
    assert face.attributes["Hair.Length"] == "Long"
    assert face.attributes["Accessory.Hat.Wear"] == "false"
    assert face.attributes["video_source"] == "VideoSourceToken-2"
    (image,) = face.images
    assert image.kind is ImageKind.FACE
    assert image.sha256 is not None
    assert image.url is None
    assert all(len(v) <= 256 for v in face.attributes.values())


def test_plate_object_carrying_vehicle_info_default_namespace() -> None:
    (plate,) = _plates(_run(_fixture("anpr_frame_default_ns.xml")))
    assert plate.plate_number == "DKL70"  # a foreign plate is kept
    assert plate.plate_color is PlateColor.WHITE
    assert plate.vehicle_color == "gray"
    assert plate.vehicle_type == "Sedan"
    assert plate.bbox is None  # the object is the plate; no parent vehicle
    assert plate.plate_bbox is not None
    assert (plate.plate_bbox.x, plate.plate_bbox.y, plate.plate_bbox.w) == (0.25, 0.25, 0.5)
    assert plate.confidence is None
    assert sorted(i.kind for i in plate.images) == [ImageKind.PLATE, ImageKind.VEHICLE]
    assert all(i.url is None and i.sha256 for i in plate.images)


@pytest.mark.parametrize(
    ("box", "expected"),
    [
        # normalised [-1, 1], y up: the top-left quarter of the frame
        ('<tt:BoundingBox left="-1" top="1" right="0" bottom="0"/>', (0.0, 0.0, 0.5, 0.5)),
        # bottom-right quarter; top/bottom given the other way round
        ('<tt:BoundingBox left="0" top="-1" right="1" bottom="0"/>', (0.5, 0.5, 0.5, 0.5)),
        (
            '<tt:BoundingBox left="-0.5" top="0.5" right="0.5" bottom="-0.5"/>',
            (0.25, 0.25, 0.5, 0.5),
        ),
    ],
)
def test_normalised_y_up_box_conversion(box: str, expected: tuple[float, ...]) -> None:
    (plate,) = _plates(_run(_frame(_plate_object(box))))
    got = plate.plate_bbox
    assert got is not None
    assert (got.x, got.y, got.w, got.h) == pytest.approx(expected)


def test_appearance_transformation_composes_with_the_frame() -> None:
    frame_t = (
        '<tt:Transformation><tt:Translate x="-1" y="-1"/>'
        '<tt:Scale x="0.003125" y="0.004166667"/></tt:Transformation>'
    )
    obj = _plate_object('<tt:BoundingBox left="0" top="50" right="40" bottom="0"/>').replace(
        "<tt:Appearance>",
        '<tt:Appearance><tt:Transformation><tt:Translate x="100" y="100"/></tt:Transformation>',
    )
    (plate,) = _plates(_run(_frame(obj, frame_t)))
    got = plate.plate_bbox
    assert got is not None
    assert got.x == pytest.approx(100 / 640)
    assert got.w == pytest.approx(40 / 640)
    assert got.y == pytest.approx((480 - 150) / 480, abs=1e-6)
    assert got.h == pytest.approx(50 / 480, abs=1e-6)


def test_pixels_without_transformation_are_no_box() -> None:
    box = '<tt:BoundingBox left="480" top="270" right="960" bottom="540"/>'
    (plate,) = _plates(_run(_frame(_plate_object(box))))
    assert plate.plate_bbox is None
    assert plate.attributes["bbox_raw"] == "480,270,960,540"


_ANPR_BODY = (
    "<{p}Frame UtcTime='2026-03-01T00:30:17Z'><{p}Object ObjectId='7'><{p}Appearance>"
    "<{p}Class><{p}Type Likelihood='0.88'>LicensePlate</{p}Type></{p}Class>"
    "<{p}LicensePlateInfo><{p}PlateNumber Likelihood='0.8'>京N8P8F8</{p}PlateNumber>"
    "</{p}LicensePlateInfo></{p}Appearance></{p}Object></{p}Frame>"
)


@pytest.mark.parametrize(
    ("root", "prefix"),
    [
        (
            '<tt:MetadataStream xmlns:tt="http://www.onvif.org/ver10/schema"><tt:VideoAnalytics>',
            "tt:",
        ),
        (
            '<ns0:MetadataStream xmlns:ns0="http://www.onvif.org/ver10/schema"><ns0:VideoAnalytics>',
            "ns0:",
        ),
        ('<MetadataStream xmlns="http://www.onvif.org/ver10/schema"><VideoAnalytics>', ""),
        ("<MetadataStream><VideoAnalytics>", ""),  # no namespace at all
        ('<x:MetadataStream xmlns:x="urn:vendor:schema"><x:VideoAnalytics>', "x:"),
    ],
)
def test_namespace_variants_give_the_same_event(root: str, prefix: str) -> None:
    closing = f"</{prefix}VideoAnalytics></{prefix}MetadataStream>"
    body = (root + _ANPR_BODY.format(p=prefix) + closing).encode()
    (plate,) = _plates(_run(body))
    reference = _run(_frame(_plate_object("", "7", "京N8P8F8"), utc="2026-03-01T00:30:17Z"))[0]
    assert plate.plate_number == "京N8P8F8"
    assert plate.confidence == pytest.approx(0.8)
    assert plate.event_id == reference.event_id


def test_bare_frame_and_gb2312_document() -> None:
    body = (
        '<?xml version="1.0" encoding="GB2312"?>'
        '<Frame UtcTime="2026-03-01T00:30:17Z"><Object ObjectId="3"><Appearance>'
        "<LicensePlateInfo><PlateNumber>苏E8K9L0</PlateNumber></LicensePlateInfo>"
        "</Appearance></Object></Frame>"
    ).encode("gb2312")
    (plate,) = _plates(_run(body))
    assert plate.plate_number == "苏E8K9L0"


def test_empty_frames_and_tracking_only_frames_are_skipped() -> None:
    empty = _normalize(_frame(""))
    assert empty.events == []
    assert empty.rejected == []
    assert empty.skipped is not None
    human = (
        '<tt:Object ObjectId="4"><tt:Appearance><tt:Class><tt:Type>Human</tt:Type></tt:Class>'
        "</tt:Appearance></tt:Object>"
    )
    tracking = _normalize(_frame(human, utc="not a time"))  # time unread: nothing to capture
    assert tracking.events == []
    assert tracking.skipped == "frame without plate or face objects"


def test_capture_ids_are_deterministic_and_per_frame() -> None:
    first = _run(_fixture("plate_frame.xml"))[0]
    again = _run(_fixture("plate_frame.xml"))[0]
    assert first.event_id == again.event_id
    later = _fixture("plate_frame.xml").replace(b"00:30:15.321Z", b"00:30:15.421Z")
    assert _run(later)[0].event_id != first.event_id
    other_camera = _run(_fixture("plate_frame.xml"), key="cam-gate-2")[0]
    assert other_camera.event_id != first.event_id
    assert other_camera.device_id == derived_device_id("onvif", "cam-gate-2")


def test_bad_frame_is_rejected_alone() -> None:
    body = (
        '<tt:MetadataStream xmlns:tt="http://www.onvif.org/ver10/schema" '
        'xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2"><tt:VideoAnalytics>'
        f'<tt:Frame UtcTime="2026-13-01T00:00:00Z">{_plate_object("", "1")}</tt:Frame>'
        f'<tt:Frame UtcTime="2026-03-01T00:30:16Z">{_plate_object("", "2")}</tt:Frame>'
        "</tt:VideoAnalytics><tt:Event><wsnt:NotificationMessage><wsnt:Message>"
        '<tt:Message UtcTime="2026-03-01T00:30:16Z"/></wsnt:Message></wsnt:NotificationMessage>'
        "</tt:Event></tt:MetadataStream>"
    ).encode()
    result = _normalize(body)
    assert [e.attributes["object_id"] for e in result.events] == ["2"]
    assert len(result.rejected) == 2
    assert "UtcTime" in result.rejected[0].reason
    assert result.rejected[0].record is not None
    assert b'ObjectId="1"' in result.rejected[0].record
    assert "without a topic" in result.rejected[1].reason


def test_device_position_from_registry(tmp_path: Path) -> None:
    registry = tmp_path / "devices.csv"
    registry.write_text(
        "device_id,name,vendor,lat,lon,coord_system,timezone\n"
        f"{GB_CAMERA},Gate,onvif,30.2741,120.1551,wgs84,Asia/Shanghai\n"
    )
    ctx = Context(devices=DeviceRegistry.from_csv(registry))
    (plate,) = _plates(_run(_fixture("plate_frame.xml"), ctx=ctx))
    assert plate.position is not None
    assert (plate.position.lat, plate.position.lon) == (30.2741, 120.1551)
    # UtcTime is UTC whatever zone the device is in
    assert plate.captured_at == datetime(2026, 3, 1, 0, 30, 15, 321000, tzinfo=UTC)


# --- rule events ----------------------------------------------------------------------------------


def test_metadata_stream_events() -> None:
    result = _normalize(_fixture("events_metadata.xml"))
    assert result.rejected == []
    inside, crossed, blurry, axis = _alarms(result.events)
    assert (inside.alarm_type, inside.state) == (AlarmType.INTRUSION, AlarmState.START)
    assert inside.rule_name == "Perimeter-North"
    assert inside.channel == 1
    assert inside.vendor_event_type == "tns1:RuleEngine/FieldDetector/ObjectsInside"
    assert inside.captured_at == datetime(2026, 3, 1, 0, 30, 18, 500000, tzinfo=UTC)
    assert inside.attributes["VideoAnalyticsConfigurationToken"] == "VideoAnalytics_1"
    assert inside.attributes["property_operation"] == "Changed"
    assert "IsInside" not in inside.attributes
    assert (crossed.alarm_type, crossed.state) == (AlarmType.LINE_CROSSING, AlarmState.PULSE)
    assert crossed.target_type == "human"
    assert crossed.attributes["ObjectId"] == "15"
    assert (blurry.alarm_type, blurry.state) == (AlarmType.TAMPER, AlarmState.START)
    assert blurry.channel is None  # "VideoSourceToken" names no channel number
    assert (axis.alarm_type, axis.state) == (AlarmType.OTHER, AlarmState.START)
    assert axis.vendor_event_type == "tns1:RuleEngine/tnsaxis:VMD3/vmd3_video_1"
    assert len({e.event_id for e in result.events}) == 4


@pytest.mark.parametrize(
    ("operation", "data", "expected"),
    [
        ("Changed", '<tt:SimpleItem Name="IsMotion" Value="true"/>', AlarmState.START),
        ("Changed", '<tt:SimpleItem Name="IsMotion" Value="false"/>', AlarmState.STOP),
        ("Initialized", '<tt:SimpleItem Name="IsMotion" Value="true"/>', AlarmState.START),
        ("Initialized", '<tt:SimpleItem Name="IsMotion" Value="false"/>', None),
        ("Deleted", '<tt:SimpleItem Name="IsMotion" Value="true"/>', AlarmState.STOP),
        ("Deleted", '<tt:SimpleItem Name="ObjectId" Value="3"/>', None),
        (None, '<tt:SimpleItem Name="ObjectId" Value="3"/>', AlarmState.PULSE),
        ("Initialized", '<tt:SimpleItem Name="ObjectId" Value="3"/>', AlarmState.PULSE),
        (None, '<tt:SimpleItem Name="LogicalState" Value="active"/>', AlarmState.START),
        ("Changed", '<tt:SimpleItem Name="State" Value="0"/>', AlarmState.STOP),
    ],
)
def test_property_operation_and_state(
    operation: str | None, data: str, expected: AlarmState | None
) -> None:
    result = _normalize(_message("tns1:RuleEngine/CellMotionDetector/Motion", operation, data))
    assert result.rejected == []
    if expected is None:
        assert result.events == []
        assert result.skipped is not None
    else:
        (alarm,) = _alarms(result.events)
        assert alarm.state is expected
        assert alarm.alarm_type is AlarmType.MOTION


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("tns1:VideoSource/MotionAlarm", AlarmType.MOTION),
        ("tns1:VideoSource/SignalLoss", AlarmType.VIDEO_LOSS),
        ("tns1:VideoSource/GlobalSceneChange/ImagingService", AlarmType.SCENE_CHANGE),
        ("tns1:VideoSource/ImageTooDark/AnalyticsService", AlarmType.TAMPER),
        ("tns1:Device/Trigger/DigitalInput", AlarmType.IO_INPUT),
        ("ns2:RuleEngine/MotionRegionDetector/Motion", AlarmType.MOTION),  # other prefix
        (" tns1:RuleEngine/TamperDetector/Tamper\n", AlarmType.TAMPER),
        ("tnsvendor:Something/Proprietary", AlarmType.OTHER),
    ],
)
def test_topic_to_alarm_type(topic: str, expected: AlarmType) -> None:
    state = '<tt:SimpleItem Name="State" Value="true"/>'
    (alarm,) = _alarms(_run(_message(topic, "Changed", state)))
    assert alarm.alarm_type is expected
    assert alarm.vendor_event_type == topic.strip()


def test_bare_source_item_is_a_channel_only_under_video_source_topics() -> None:
    def alarm(topic: str) -> Alarm:
        body = _message(topic, "Changed", '<tt:SimpleItem Name="State" Value="true"/>')
        body = body.replace(
            b'Name="VideoSourceConfigurationToken" Value="VideoSource_1"',
            b'Name="Source" Value="Storage_2"',
        )
        (event,) = _alarms(_run(body))
        return event

    assert alarm("tns1:Device/HardwareFailure/StorageFailure").channel is None
    assert alarm("tns1:VideoSource/SignalLoss").channel == 2
    assert alarm("tns1:Device/HardwareFailure/StorageFailure").attributes["Source"] == "Storage_2"


def test_telemetry_topics_are_skipped() -> None:
    for topic in (
        "tns1:Monitoring/OperatingTime/LastReboot",
        "tns1:RuleEngine/CountAggregation/Counter",
    ):
        result = _normalize(_message(topic, "Changed", '<tt:SimpleItem Name="Count" Value="3"/>'))
        assert result.events == []
        assert result.skipped == f"telemetry topic {topic}"


def test_pull_messages_plate_and_face_recognition() -> None:
    plate, face = _run(_fixture("pull_messages_recognition.xml"))
    assert isinstance(plate, PlateCapture)
    assert plate.plate_raw == "粤B D12345"
    assert plate.plate_number == "粤BD12345"  # new-energy plate
    assert plate.confidence == pytest.approx(0.91)  # the plate's likelihood, not the event's
    assert plate.channel == 3
    assert (plate.vehicle_type, plate.vehicle_brand) == ("Car", "BYD")
    assert plate.plate_bbox is not None
    assert (plate.plate_bbox.x, plate.plate_bbox.y) == pytest.approx((0.55, 0.6))
    assert {(i.kind, i.url) for i in plate.images} == {
        (ImageKind.PLATE, "http://10.0.0.23/lpr/301_plate.jpg"),
        (ImageKind.VEHICLE, "http://10.0.0.23/lpr/301_vehicle.jpg"),
    }
    assert plate.attributes["ObjectId"] == "301"
    assert isinstance(face, Alarm)
    assert (face.alarm_type, face.state) == (AlarmType.FACE_MATCH, AlarmState.PULSE)
    assert face.confidence == pytest.approx(0.82)
    assert face.rule_name == "Watchlist-A"
    assert face.target_type == "face"
    assert face.attributes["EnrollmentID"] == "enr-0017"
    assert [i.kind for i in face.images] == [ImageKind.FACE, ImageKind.FACE]


def test_plate_recognition_without_plate_is_rejected() -> None:
    body = _message(
        "tns1:RuleEngine/Recognition/LicensePlate",
        None,
        '<tt:SimpleItem Name="Likelihood" Value="0.9"/>',
    )
    result = _normalize(body)
    assert result.events == []
    (rejected,) = result.rejected
    assert "without LicensePlateInfo" in rejected.reason
    assert rejected.record is not None
    assert b"Recognition/LicensePlate" in rejected.record


def test_event_ids_follow_the_message() -> None:
    data = '<tt:SimpleItem Name="IsMotion" Value="true"/>'
    topic = "tns1:RuleEngine/CellMotionDetector/Motion"
    first = _run(_message(topic, "Changed", data))[0]
    assert _run(_message(topic, "Changed", data))[0].event_id == first.event_id
    stop = _run(_message(topic, "Changed", data.replace("true", "false")))[0]
    later = _run(_message(topic, "Changed", data, utc="2026-03-01T00:30:19Z"))[0]
    assert len({first.event_id, stop.event_id, later.event_id}) == 3


# --- onvif-ej (JSON over MQTT) --------------------------------------------------------------------


def test_onvif_ej_wrapped_with_mqtt_topic() -> None:
    (alarm,) = _alarms(_run(_fixture("onvif_ej_wrapped.json"), key=None))
    assert (alarm.alarm_type, alarm.state) == (AlarmType.LINE_CROSSING, AlarmState.PULSE)
    assert alarm.vendor_event_type == "tns1:RuleEngine/LineDetector/Crossed"
    assert alarm.device_id == derived_device_id("onvif", "Gate-Cam-07")  # the topic prefix
    assert alarm.channel == 1
    assert alarm.rule_name == "MyImportantFence1"
    assert alarm.captured_at == datetime(2026, 3, 1, 0, 30, 24, 321000, tzinfo=UTC)
    keyed = _run(_fixture("onvif_ej_wrapped.json"))[0]
    assert keyed.device_id == GB_CAMERA  # the gateway's key wins over the topic prefix


def test_onvif_ej_simple_item_lists() -> None:
    (alarm,) = _alarms(_run(_fixture("onvif_ej_simpleitems.json")))
    assert (alarm.alarm_type, alarm.state) == (AlarmType.MOTION, AlarmState.STOP)
    assert alarm.channel == 1


def test_onvif_ej_element_items_and_arrays() -> None:
    good = {
        "Topic": "tns1:RuleEngine/Recognition/LicensePlate",
        "UtcTime": "2026-03-01T00:30:26Z",
        "Source": {"VideoSource": "2"},
        "Data": {
            "Likelihood": "0.7",
            "LicensePlateInfo": {"PlateNumber": {"@Likelihood": "0.95", "#text": "ABC1234"}},
        },
    }
    bad = {"UtcTime": "2026-03-01T00:30:26Z", "Data": {"State": "true"}}  # no topic
    result = _normalize(json.dumps([good, bad, "text"]).encode())
    (plate,) = _plates(result.events)
    assert plate.plate_number == "ABC1234"
    assert plate.confidence == pytest.approx(0.95)
    assert len(result.rejected) == 2
    assert "without a topic" in result.rejected[0].reason
    assert result.rejected[0].record == json.dumps(bad, separators=(",", ":")).encode()


def test_onvif_ej_without_topic_or_key() -> None:
    with pytest.raises(AdapterError, match="without a topic"):
        _normalize(b'{"UtcTime":"2026-03-01T00:30:24Z","Data":{"State":"true"}}')
    body = b'{"Topic":"tns1:VideoSource/MotionAlarm","Data":{"State":"true"}}'
    with pytest.raises(AdapterError, match="no device identity"):
        _normalize(body, key=None)
    assert _normalize(b"").skipped is not None  # a deleted retained property


# --- safety and unusable payloads -----------------------------------------------------------------

_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    b"<MetadataStream>&lol2;</MetadataStream>"
)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (_LAUGHS, "DOCTYPE or ENTITY"),
        (b'<!doctype x SYSTEM "file:///etc/passwd"><Frame/>', "DOCTYPE or ENTITY"),
        (b"<Frame UtcTime='x'><!ENTITY e 'x'></Frame>", "DOCTYPE or ENTITY"),
        ("<?xml version='1.0' encoding='UTF-16'?><Frame/>".encode("utf-16"), "neither XML|NUL"),
        (
            '<?xml version="1.0" encoding="GBK"?><!DOCTYPE a><a/>'.encode("gbk"),
            "DOCTYPE or ENTITY",
        ),
        (b"<MetadataStream><VideoAnalytics>", "not well-formed"),
        (b"<html><body>502 Bad Gateway</body></html>", "not ONVIF metadata"),
        (b'<?xml version="1.0" encoding="x-unknown"?><a/>', "encoding|well-formed"),
        (b"garbage", "neither XML"),
        (b'{"Topic": 3, "Data": {}}', "without a topic"),
        (b'{"Topic": "tns1:X/Y", "UtcTime": "1999-01-01T00:00:00Z"}', "UtcTime"),
    ],
)
def test_unusable_payloads(body: bytes, reason: str) -> None:
    with pytest.raises(AdapterError, match=reason):
        normalize_onvif(RawPayload("onvif", body, RECEIVED, key=GB_CAMERA), CTX)


def test_missing_key_for_xml() -> None:
    with pytest.raises(AdapterError, match="no device identity"):
        _normalize(_fixture("plate_frame.xml"), key=None)


# --- properties -----------------------------------------------------------------------------------


def _check(body: bytes, key: str | None = GB_CAMERA) -> Normalized | None:
    try:
        result = normalize_onvif(RawPayload("onvif", body, RECEIVED, key=key), CTX)
    except AdapterError:
        return None
    assert_valid(result.events)
    return result


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_adapter_errors(body: bytes) -> None:
    _check(body)
    _check(b"<" + body)


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("<>/=\"' ?!:abcdefFrameObjectUtcTime{}[],01-")), max_size=200
    )
)
def test_arbitrary_markup_text_raises_only_adapter_errors(text: str) -> None:
    _check(text.encode())


_FIXTURE_NAMES = sorted(p.name for p in FIXTURES.iterdir())
# Attribute values, element text and JSON strings: replacing one keeps the document parseable.
_VALUE_SPANS = re.compile(rb'"([^"<>]*)"|>([^<>]+)<')


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(_FIXTURE_NAMES),
    st.lists(
        st.tuples(
            st.integers(0, 10**6),
            st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FFF), max_size=10),
        ),
        min_size=1,
        max_size=6,
    ),
    st.none() | st.tuples(st.integers(0, 10**6), st.integers(0, 8), st.binary(max_size=6)),
)
def test_mutated_fixtures_raise_only_adapter_errors(
    name: str, values: list[tuple[int, str]], damage: tuple[int, int, bytes] | None
) -> None:
    body = _fixture(name)
    for pick, value in values:
        spans = list(_VALUE_SPANS.finditer(body))
        match = spans[pick % len(spans)]
        group = 1 if match.group(1) is not None else 2
        text = escape(value, {'"': "&quot;"}).encode()
        if name.endswith(".json"):
            text = json.dumps(value)[1:-1].encode()
        body = body[: match.start(group)] + text + body[match.end(group) :]
    _check(body)
    if damage is not None:
        at, length, replacement = damage
        at %= len(body)
        _check(body[:at] + replacement + body[at + length :])


_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.integers(-(10**30), 10**30).map(str),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FFF), max_size=12),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_VALUES, min_size=13, max_size=13),
    st.sampled_from(["LicensePlate", "Vehicle", "Face", "HumanFace", ""]),
    st.datetimes(
        min_value=datetime(1990, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
        max_value=datetime(2030, 1, 1),  # noqa: DTZ001
    ),
)
def test_generated_frames_always_validate(values: list[str], cls: str, at: datetime) -> None:
    q = [quoteattr(v) for v in values]
    utc = at.isoformat() + "Z" if values[12][:1] != "x" else values[12]
    body = (
        f"<MetadataStream><VideoAnalytics><Frame UtcTime={quoteattr(utc)} "
        f"VideoSourceToken={q[0]}><Transformation><Translate x={q[1]} y={q[2]}/>"
        f"<Scale x={q[3]} y={q[4]}/></Transformation><Object ObjectId={q[5]} Parent={q[5]}>"
        f"<Appearance><Shape><BoundingBox left={q[6]} top={q[7]} right={q[8]} bottom={q[9]}/>"
        f"</Shape><Class><Type Likelihood={q[10]}>{cls}</Type></Class>"
        f"<LicensePlateInfo><PlateNumber Likelihood={q[10]}>{quoteattr(values[11])[1:-1]}"
        f"</PlateNumber></LicensePlateInfo><HumanFace><Age><Min>{quoteattr(values[11])[1:-1]}"
        f"</Min></Age></HumanFace><Image>{quoteattr(values[11])[1:-1]}</Image></Appearance>"
        f"<Behaviour><Speed>{quoteattr(values[10])[1:-1]}</Speed></Behaviour></Object>"
        "</Frame></VideoAnalytics></MetadataStream>"
    ).encode()
    result = _check(body)
    if result is not None:
        assert len(result.events) + len(result.rejected) == 1


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["Topic", "UtcTime", "PropertyOperation", "Source", "Data", "topic"]),
        st.one_of(
            _VALUES,
            st.dictionaries(st.text(max_size=8), st.one_of(_VALUES, st.none(), st.booleans())),
            st.none(),
        ),
    )
)
def test_generated_onvif_ej_messages_always_validate(record: dict[str, Any]) -> None:
    _check(json.dumps(record).encode())
    _check(json.dumps({"Topic": "tns1:RuleEngine/Recognition/LicensePlate", **record}).encode())
