"""Hikvision ISAPI adapter on realistic payloads: ANPR, alarms, face capture, every pitfall."""

from __future__ import annotations

import hashlib
import json
import re
import struct
from datetime import UTC, datetime, timedelta
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
    TimeProvenance,
)
from streams.correlate.config import RuleConfig
from streams.correlate.pipeline import run_offline
from streams.correlate.watchlist import Watchlist
from streams.domain.devices import Device, DeviceRegistry, derived_device_id
from streams.vendors.base import AdapterError, Context, Normalized, RawPayload
from streams.vendors.hikvision import SOURCE, normalize_hikvision
from tests.vendors.checks import assert_valid as shared_assert_valid

FIXTURES = Path(__file__).parent / "fixtures" / "hikvision-isapi"
RECEIVED = datetime(2025, 3, 6, 2, 0, 0, 123456, tzinfo=UTC)
CTX = Context()


# --- helpers -----------------------------------------------------------------------------


def assert_valid(events: list[Any]) -> None:
    """The shared checks, plus this adapter's limits on attribute values."""
    shared_assert_valid(events)
    for event in events:
        assert event.captured_at.utcoffset().total_seconds() == 0
        for value in event.attributes.values():
            assert isinstance(value, str)
            assert len(value) <= 256


def run(
    body: bytes,
    content_type: str | None = None,
    key: str | None = "10.0.0.9",
    ctx: Context = CTX,
    received: datetime = RECEIVED,
) -> Normalized:
    raw = RawPayload(SOURCE, body, received, key=key, content_type=content_type)
    result = normalize_hikvision(raw, ctx)
    assert_valid(result.events)
    return result


def one(body: bytes, content_type: str | None = None, **kwargs: Any) -> Any:
    result = run(body, content_type, **kwargs)
    assert result.rejected == []
    (event,) = result.events
    return event


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def jpeg(width: int, height: int, seed: str = "x") -> bytes:
    """A structurally valid JPEG (SOI, JFIF, DQT, SOF0 with the size, SOS, data, EOI)."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    dqt = b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + bytes(range(1, 65))
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + bytes(9)
    sos = b"\xff\xda" + struct.pack(">H", 12) + bytes(10)
    data = hashlib.sha512(seed.encode()).digest().replace(b"\xff", b"\xfe") * 8
    return b"\xff\xd8" + app0 + dqt + sof + sos + data + b"\xff\xd9"


def multipart(parts: list[tuple[dict[str, str], bytes]], boundary: str = "MIME_b0undary") -> bytes:
    body = b""
    for headers, content in parts:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        body += f"--{boundary}\r\n{head}\r\n".encode() + content + b"\r\n"
    return body + f"--{boundary}--\r\n".encode()


def part(name: str, ctype: str, filename: str | None = None) -> dict[str, str]:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    return {"Content-Disposition": disposition, "Content-Type": ctype}


ALERT = """<?xml version="1.0" encoding="UTF-8"?>
<EventNotificationAlert version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">
<ipAddress>10.3.0.15</ipAddress>
<macAddress>a6:63:9e:f8:01:09</macAddress>
<channelID>{channel}</channelID>
<dateTime>{date_time}</dateTime>
<activePostCount>{count}</activePostCount>
<eventType>{event_type}</eventType>
<eventState>{state}</eventState>
<eventDescription>alarm</eventDescription>
</EventNotificationAlert>"""


def alert(
    event_type: str = "VMD",
    state: str = "active",
    count: int = 1,
    date_time: str = "2025-03-05T10:50:46+08:00",
    channel: int = 1,
) -> bytes:
    return ALERT.format(
        event_type=event_type, state=state, count=count, date_time=date_time, channel=channel
    ).encode()


def anpr(plate: str = "浙A12345", extra: str = "", envelope: str = "") -> bytes:
    return f"""<EventNotificationAlert xmlns="http://www.isapi.org/ver20/XMLSchema">
<macAddress>44:19:b6:3a:7c:21</macAddress><channelID>1</channelID>
<dateTime>2024-05-07T17:48:03+08:00</dateTime><eventType>ANPR</eventType>{envelope}
<ANPR><licensePlate>{plate}</licensePlate><confidenceLevel>90</confidenceLevel>{extra}</ANPR>
</EventNotificationAlert>""".encode()


# --- ANPR --------------------------------------------------------------------------------


def test_anpr_with_gat_info_and_per_mille_boxes() -> None:
    event = one(fixture("anpr_isapi_cn.xml"))
    assert isinstance(event, PlateCapture)
    assert event.plate_number == "浙A12345"
    assert event.plate_raw == "浙A12345"
    assert event.plate_color is PlateColor.BLUE
    assert event.plate_class == "02"  # GA 24.7 code preferred over the vendor term
    assert event.vehicle_type == "K33"  # GA 24.4 code preferred over "SUVMPV"
    assert event.vehicle_color == "black"
    assert event.vehicle_brand == "1036"
    assert (event.lane, event.direction, event.speed_kmh) == (2, "forward", 42.0)
    assert event.confidence == pytest.approx(0.93)
    # absTime (ms, local) agrees with dateTime (+08:00): the millisecond time wins
    assert event.captured_at == datetime(2024, 5, 7, 9, 48, 3, 847000, tzinfo=UTC)
    assert event.time_source is TimeProvenance.SOURCE_OFFSET
    assert event.received_at == datetime(2025, 3, 6, 2, 0, 0, 123000, tzinfo=UTC)
    assert event.device_id == derived_device_id(SOURCE, "44:19:b6:3a:7c:21", "1")
    assert event.channel == 1
    assert event.source_event_id == event.pass_group == "46dd0716-1dd2-11b2-821f-8ba17e6f56b7"
    # plateRect/vehicelRect are per-mille of the detection picture (ISAPI)
    assert event.plate_bbox is not None
    assert (event.plate_bbox.x, event.plate_bbox.y) == (0.43, 0.675)
    assert event.plate_bbox.w == pytest.approx(0.106)
    assert event.bbox is not None
    assert (event.bbox.x, event.bbox.y) == (0.271, 0.3)
    assert event.bbox.h == pytest.approx(0.526)
    # DeviceGPSInfo in degrees/minutes/seconds, used since the registry has no position
    assert event.position is not None
    assert event.position.lat == pytest.approx(30.28)
    assert event.position.lon == pytest.approx(120.125)
    attrs = event.attributes
    assert attrs["plateCharBelieve"] == "99,99,98,99,97,99,99"
    assert attrs["VehicleGATInfo.colorByGAT"] == "J"
    assert attrs["vehicleInfo.CarWindowFeature.tempPlate"] == "no"
    assert attrs["channelName"] == "Wenyi Rd eastbound"
    assert "vicepilotsafebelt" not in attrs  # "unknown" carries nothing
    assert "licensePlate" not in attrs
    assert "dateTime" not in attrs


def test_unknown_plate_is_none_but_raw_is_kept() -> None:
    event = one(fixture("anpr_hikvision_unknown.xml"))
    assert event.plate_raw == "unknown"
    assert event.plate_number is None
    assert event.plate_color is PlateColor.UNKNOWN
    assert event.plate_bbox is None  # a 0x0 rect is no box
    assert event.vehicle_brand is None  # logo 0 = not recognised
    assert event.source_event_id is None
    # +07:00: 14:02:35 local, absTime adds the milliseconds
    assert event.captured_at == datetime(2023, 8, 11, 7, 2, 35, 286000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("plate", "expected"),
    [("noPlate", None), ("Unknown", None), ("", None), ("蓝浙AX2P12", "浙AX2P12")],
)
def test_plate_sentinels_and_colour_prefix(plate: str, expected: str | None) -> None:
    event = one(anpr(plate))
    assert event.plate_number == expected
    assert event.plate_raw == (plate or None)
    if plate.startswith("蓝"):
        assert event.plate_color is PlateColor.BLUE  # from the HCNetSDK-style prefix


@pytest.mark.parametrize(
    ("extra", "color"),
    [
        ("<plateColor>newEnergyGreen</plateColor>", PlateColor.GREEN),
        ("<plateColor>newEnergyYellowGreen</plateColor>", PlateColor.YELLOW_GREEN),
        ("<plateColor>civilAviationBlack</plateColor>", PlateColor.BLACK),
        ("<plateColor>yellow</plateColor>", PlateColor.YELLOW),
        ("<plateColor>1</plateColor>", PlateColor.YELLOW),  # HCNetSDK code
        ("<plateColor>golden</plateColor>", PlateColor.OTHER),
        ("<plateColor>unknown</plateColor>", PlateColor.UNKNOWN),
    ],
)
def test_isapi_plate_colours(extra: str, color: PlateColor) -> None:
    assert one(anpr("京A12345", extra)).plate_color is color


def test_plate_colour_by_gat_code_when_the_string_is_unknown() -> None:
    gat = "<VehicleGATInfo><plateColorByGAT>6</plateColorByGAT></VehicleGATInfo>"
    event = one(anpr("京A12345", "<plateColor>unknown</plateColor>", gat))
    assert event.plate_color is PlateColor.YELLOW  # GA/T 1400 ColorType 6, not HCNetSDK 6
    assert event.attributes["VehicleGATInfo.plateColorByGAT"] == "6"


def test_float_confidence_and_fractional_boxes_and_utc_camera() -> None:
    event = one(fixture("anpr_stdcgi_v10.xml"))
    assert event.confidence == pytest.approx(0.875)
    assert event.plate_bbox is not None
    assert (event.plate_bbox.x, event.plate_bbox.y) == (0.412, 0.633)
    # dateTime is UTC (Z) but absTime is the local wall clock, 7 h apart: dateTime wins
    assert event.captured_at == datetime(2024, 3, 2, 1, 15, 9, tzinfo=UTC)
    assert event.time_source is TimeProvenance.SOURCE_OFFSET
    assert event.vehicle_color == "deepgray"  # vendor term lower-cased
    # dashed MAC and colon MAC are the same device
    assert event.device_id == derived_device_id(SOURCE, "c0:56:e3:11:22:33", "1")


def test_pixel_boxes_use_the_jpeg_size() -> None:
    rect = (
        "<pictureInfoList><pictureInfo><fileName>detectionPicture.jpg</fileName>"
        "<type>detectionPicture</type><plateRect><X>960</X><Y>540</Y><width>192</width>"
        "<height>54</height></plateRect></pictureInfo></pictureInfoList>"
    )
    xml = anpr("京A12345", rect)
    bare = one(xml)
    assert bare.plate_bbox is None  # beyond 1000 without a picture size: no guess
    body = multipart(
        [
            (part("anpr.xml", "application/xml"), xml),
            (part("detectionPicture.jpg", "image/jpeg", "detectionPicture.jpg"), jpeg(1920, 1080)),
        ]
    )
    event = one(body, "multipart/form-data; boundary=MIME_b0undary")
    assert event.plate_bbox is not None
    assert (event.plate_bbox.x, event.plate_bbox.y) == (0.5, 0.5)
    assert event.plate_bbox.w == pytest.approx(0.1)
    assert event.event_id == bare.event_id  # images never change identity


def test_any_alert_with_an_anpr_block_is_a_plate_capture() -> None:
    body = anpr("苏E8K9L0").replace(b"<eventType>ANPR", b"<eventType>vehicleDetection")
    event = one(body)
    assert isinstance(event, PlateCapture)
    assert event.plate_number == "苏E8K9L0"


def test_anpr_without_anpr_block_is_unusable() -> None:
    with pytest.raises(AdapterError, match="no ANPR element"):
        run(alert("ANPR"))


# --- ids ---------------------------------------------------------------------------------


def test_ids_are_deterministic_and_a_repush_keeps_them() -> None:
    first = one(fixture("anpr_isapi_cn.xml"))
    assert one(fixture("anpr_isapi_cn.xml")).event_id == first.event_id
    repush = fixture("anpr_isapi_cn.xml").replace(
        b"<isDataRetransmission>false", b"<isDataRetransmission>true"
    )
    assert one(repush).event_id == first.event_id
    later = one(repush, received=datetime(2025, 3, 7, tzinfo=UTC), key="other-gateway")
    assert later.event_id == first.event_id


def test_uuid_snapshots_share_a_pass_group_not_an_id() -> None:
    body = fixture("anpr_isapi_cn.xml")
    second = body.replace(b"17:48:03.847+08:00", b"17:48:04.310+08:00")
    a, b = one(body), one(second)
    assert a.pass_group == b.pass_group
    assert a.event_id != b.event_id


def test_anpr_without_uuid_id_from_device_time_and_plate() -> None:
    base = one(anpr("浙A12345"))
    assert one(anpr("浙A12345")).event_id == base.event_id
    assert one(anpr("浙A12346")).event_id != base.event_id
    later = anpr("浙A12345").replace(b"17:48:03", b"17:48:09")
    assert one(later).event_id != base.event_id
    other_channel = anpr("浙A12345").replace(b"<channelID>1<", b"<channelID>2<")
    assert one(other_channel).event_id != base.event_id


def test_nvr_channels_get_their_own_device() -> None:
    one_ = one(alert(channel=33))
    two = one(alert(channel=34))
    assert one_.device_id != two.device_id
    assert one_.device_id == derived_device_id(SOURCE, "a6:63:9e:f8:01:09", "33")


# --- namespaces and XML pitfalls -------------------------------------------------------------

NAMESPACES = [
    'xmlns="http://www.hikvision.com/ver20/XMLSchema"',
    'xmlns="http://www.isapi.org/ver20/XMLSchema"',
    'xmlns="http://www.std-cgi.com/ver10/XMLSchema"',
    'xmlns="urn:psialliance-org"',
    "",
]


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_every_namespace_reads_the_same(namespace: str) -> None:
    body = fixture("anpr_isapi_cn.xml").replace(
        b'xmlns="http://www.isapi.org/ver20/XMLSchema"', namespace.encode()
    )
    event = one(body)
    reference = one(fixture("anpr_isapi_cn.xml"))
    assert event == reference


def _prefixed(body: bytes, declare: bool) -> bytes:
    body = re.sub(rb"<(/?)([A-Za-z])", rb"<\1ns1:\2", body.split(b"?>", 1)[1])
    namespace = b'xmlns:ns1="http://www.hikvision.com/ver20/XMLSchema"' if declare else b""
    return body.replace(b'xmlns="http://www.isapi.org/ver20/XMLSchema"', namespace)


@pytest.mark.parametrize("declare", [True, False])
def test_ns1_prefixed_forms(declare: bool) -> None:
    body = _prefixed(fixture("anpr_isapi_cn.xml"), declare)
    assert b"<ns1:licensePlate>" in body
    assert one(body) == one(fixture("anpr_isapi_cn.xml"))


def test_prefixed_fixture_with_unescaped_ampersand() -> None:
    event = one(fixture("anpr_ns1_prefixed.xml"))
    assert event.attributes["channelName"] == "Car park A&B entry"
    assert event.plate_number == "京AD12345"
    assert event.plate_color is PlateColor.GREEN  # newEnergyGreen
    assert event.channel == 33


def test_escaped_entities_survive_the_ampersand_fix() -> None:
    event = one(fixture("alarm_nvr_psia.xml"))
    assert event.attributes["Extensions.eventPush"].startswith("linedetection&&DS-7608")
    body = alert().replace(b"<eventDescription>alarm", b"<eventDescription>a &lt;b&gt; &#38; c &")
    assert one(body).attributes["eventDescription"] == "a <b> & c &"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<EventNotificationAlert><eventType>VMD</eventType><eventDescription>&lol2;</eventDescription>
</EventNotificationAlert>"""
EXTERNAL = b"""<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<EventNotificationAlert><eventType>&x;</eventType></EventNotificationAlert>"""


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL, b"<!ENTITY x 'y'><a/>"])
def test_dtd_and_entities_are_refused_before_parsing(body: bytes) -> None:
    with pytest.raises(AdapterError, match="DOCTYPE or ENTITY"):
        run(body)
    inside = multipart([(part("x", "application/xml"), body)])
    with pytest.raises(AdapterError, match="DOCTYPE or ENTITY"):
        run(inside, "multipart/form-data; boundary=MIME_b0undary")


def test_utf16_cannot_smuggle_a_doctype() -> None:
    body = BILLION_LAUGHS.decode().replace('version="1.0"', 'version="1.0" encoding="UTF-16"')
    with pytest.raises(AdapterError, match="NUL"):
        run(body.encode("utf-16-le"))  # no BOM: starts with "<"
    with pytest.raises(AdapterError, match="neither XML"):
        run(body.encode("utf-16"))  # with a BOM


def test_declared_and_undeclared_chinese_encodings() -> None:
    declared = (
        anpr("粤B12345")
        .decode()
        .replace(
            "<EventNotificationAlert",
            '<?xml version="1.0" encoding="GB2312"?><EventNotificationAlert',
        )
    )
    assert one(declared.encode("gb2312")).plate_number == "粤B12345"
    assert one(anpr("粤B12345").decode().encode("gbk")).plate_number == "粤B12345"


@pytest.mark.parametrize("encoding", ["foo", "base64", "rot13", "idna", "undefined", "mbcs"])
def test_unusable_declared_encodings(encoding: str) -> None:
    body = alert().replace(b'encoding="UTF-8"', f'encoding="{encoding}"'.encode())
    with pytest.raises(AdapterError, match="encoding"):
        run(body)


def test_malformed_offset_hour_is_repaired() -> None:
    event = one(alert(date_time="2016-12-24T18:59:49-8:00"))
    assert event.captured_at == datetime(2016, 12, 25, 2, 59, 49, tzinfo=UTC)
    assert event.time_source is TimeProvenance.SOURCE_OFFSET


# --- time ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-07T17:48:03+07:00", datetime(2024, 5, 7, 10, 48, 3, tzinfo=UTC)),
        ("2024-05-07T17:48:03.250+08:00", datetime(2024, 5, 7, 9, 48, 3, 250000, tzinfo=UTC)),
        ("2024-05-07T17:48:03Z", datetime(2024, 5, 7, 17, 48, 3, tzinfo=UTC)),
        ("2024-05-07T17:48:03+0530", datetime(2024, 5, 7, 12, 18, 3, tzinfo=UTC)),
    ],
)
def test_offsets_are_kept(text: str, expected: datetime) -> None:
    event = one(alert(date_time=text))
    assert event.captured_at == expected
    assert event.time_source is TimeProvenance.SOURCE_OFFSET


def test_no_offset_is_local_to_the_registered_zone() -> None:
    device_id = derived_device_id(SOURCE, "a6:63:9e:f8:01:09", "1")
    registry = DeviceRegistry(
        [Device(device_id, "gate", "hikvision", 13.75, 100.5, timezone="Asia/Bangkok")]
    )
    event = one(alert(date_time="2024-05-07T17:48:03"), ctx=Context(devices=registry))
    assert event.captured_at == datetime(2024, 5, 7, 10, 48, 3, tzinfo=UTC)
    assert event.time_source is TimeProvenance.DEVICE_ZONE
    assert event.position is not None
    assert (event.position.lat, event.position.lon) == (13.75, 100.5)
    default = one(alert(date_time="2024-05-07T17:48:03"))
    assert default.captured_at == datetime(2024, 5, 7, 9, 48, 3, tzinfo=UTC)  # Asia/Shanghai


def test_abstime_alone_is_local_to_the_device_zone() -> None:
    body = anpr(
        "京A12345",
        "<pictureInfoList><pictureInfo><absTime>20240507174803120</absTime></pictureInfo>"
        "</pictureInfoList>",
    ).replace(b"<dateTime>2024-05-07T17:48:03+08:00</dateTime>", b"")
    event = one(body)
    assert event.captured_at == datetime(2024, 5, 7, 9, 48, 3, 120000, tzinfo=UTC)
    assert event.time_source is TimeProvenance.DEVICE_ZONE


def test_unsynchronised_clock_falls_back_to_receive_time() -> None:
    event = one(alert(date_time="1970-01-01T08:00:12+08:00"))
    assert event.time_source is TimeProvenance.RECEIVED
    assert event.captured_at == datetime(2025, 3, 6, 2, 0, 0, 123000, tzinfo=UTC)
    assert event.attributes["unparsed_time"] == "1970-01-01T08:00:12+08:00"
    # the id still comes from the payload, so a re-push keeps it
    assert one(alert(date_time="1970-01-01T08:00:12+08:00")).event_id == event.event_id


# --- alarms -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vendor", "expected"),
    [
        ("VMD", AlarmType.MOTION),
        ("vmd", AlarmType.MOTION),
        ("motiondetection", AlarmType.MOTION),
        ("fielddetection", AlarmType.INTRUSION),
        ("linedetection", AlarmType.LINE_CROSSING),
        ("regionEntrance", AlarmType.REGION_ENTRANCE),
        ("regionExiting", AlarmType.REGION_EXIT),
        ("tamperdetection", AlarmType.TAMPER),
        ("shelteralarm", AlarmType.TAMPER),
        ("videoloss", AlarmType.VIDEO_LOSS),
        ("scenechangedetection", AlarmType.SCENE_CHANGE),
        ("IO", AlarmType.IO_INPUT),
        ("alarmResult", AlarmType.FACE_MATCH),
        ("PIR", AlarmType.MOTION),
        ("defocus", AlarmType.OTHER),
        ("diskfull", AlarmType.OTHER),
    ],
)
def test_alarm_types(vendor: str, expected: AlarmType) -> None:
    event = one(alert(vendor))
    assert isinstance(event, Alarm)
    assert event.alarm_type is expected
    assert event.vendor_event_type == vendor


@pytest.mark.parametrize(
    ("state", "expected"),
    [("active", AlarmState.START), ("inactive", AlarmState.STOP), ("", AlarmState.PULSE)],
)
def test_alarm_states(state: str, expected: AlarmState) -> None:
    assert one(alert("linedetection", state)).state is expected


def test_intrusion_with_region_target_and_box() -> None:
    event = one(fixture("alarm_fielddetection.xml"))
    assert event.alarm_type is AlarmType.INTRUSION
    assert (event.rule_name, event.target_type) == ("2", "vehicle")
    assert event.bbox is not None
    assert (event.bbox.x, event.bbox.y) == (0.779688, 0.409722)
    assert event.captured_at == datetime(2024, 1, 19, 0, 51, 17, tzinfo=UTC)  # +07:00
    assert event.attributes["region.sensitivityLevel"] == "50"
    assert "RegionCoordinatesList" not in str(event.attributes)


def test_motion_with_background_url_and_target_type() -> None:
    event = one(fixture("alarm_vmd.xml"))
    assert event.channel == 3  # dynChannelID when channelID is absent
    assert event.target_type == "human"
    (image,) = event.images
    assert image.kind is ImageKind.SCENE
    assert image.url is not None
    assert image.url.endswith("&size=294553")


def test_repeats_of_an_ongoing_alarm_share_the_first_posts_id() -> None:
    first = one(alert(count=1))
    repeats = [one(alert(count=n)) for n in (2, 7, 174)]
    assert {e.event_id for e in repeats} == {first.event_id}
    assert repeats[-1].attributes["activePostCount"] == "174"
    assert one(alert(state="inactive", count=2)).event_id != first.event_id
    assert one(alert(date_time="2025-03-05T10:55:00+08:00")).event_id != first.event_id
    assert one(alert("linedetection")).event_id != first.event_id


def test_nvr_v1_alarm_identified_by_serial_and_channel() -> None:
    event = one(fixture("alarm_nvr_psia.xml"), key=None)
    serial = "DS-7608NXI-I2/8P/S0820230101CCRRJ12345678WCVU"
    assert event.device_id == derived_device_id(SOURCE, serial, "34")
    assert event.alarm_type is AlarmType.LINE_CROSSING
    assert event.attributes["activePostCount"] == "174"


def test_io_alarm_with_gb28181_device_id() -> None:
    event = one(fixture("alarm_io_nons.xml"))
    assert event.device_id == "34020000001320000101"
    assert event.alarm_type is AlarmType.IO_INPUT
    assert event.rule_name == "1"  # inputIOPortID


def test_duration_wrapper_takes_the_related_event() -> None:
    event = one(fixture("alarm_duration.xml"))
    assert event.alarm_type is AlarmType.LINE_CROSSING
    assert event.vendor_event_type == "linedetection"
    assert event.attributes["eventType"] == "duration"
    empty = fixture("alarm_duration.xml").replace(
        b"<relationEvent>linedetection</relationEvent>", b""
    )
    with pytest.raises(AdapterError, match="relationEvent"):
        run(empty)


def test_alertstream_keepalive_is_skipped() -> None:
    result = run(fixture("keepalive_videoloss.xml"))
    assert result.events == []
    assert result.rejected == []
    assert result.skipped is not None
    assert "keep-alive" in result.skipped
    # a counted video-loss end is a real alarm, not a keep-alive
    stop = one(alert("videoloss", "inactive", count=1))
    assert (stop.alarm_type, stop.state) == (AlarmType.VIDEO_LOSS, AlarmState.STOP)
    start = one(alert("videoloss", "active", count=0))
    assert start.state is AlarmState.START
    beat = run(alert("heartBeat"))
    assert (beat.events, beat.skipped) == ([], "heartBeat keep-alive")


def test_face_comparison_alarm() -> None:
    event = one(fixture("alarmresult.json"))
    assert isinstance(event, Alarm)
    assert (event.alarm_type, event.state) == (AlarmType.FACE_MATCH, AlarmState.PULSE)
    assert event.confidence == pytest.approx(0.91)
    assert event.rule_name == "3"
    assert event.attributes["candidate.customHumanID"] == "WL-000231"
    assert event.captured_at == datetime(2024, 10, 8, 1, 14, 2, 880000, tzinfo=UTC)
    assert [i.kind for i in event.images] == [ImageKind.FACE, ImageKind.SCENE]
    text = json.dumps(event.model_dump(mode="json"), ensure_ascii=False)
    for secret in ("330106199001011234", "Zhang San", "1990-01-01"):
        assert secret not in text


# --- faces --------------------------------------------------------------------------------


def test_json_face_capture() -> None:
    event = one(fixture("facecapture.json"))
    assert isinstance(event, FaceCapture)
    assert event.track_id == "55"
    assert event.quality == pytest.approx(0.78)
    assert (event.gender, event.age_min, event.age_max) == (Gender.MALE, 29, 39)
    assert (event.glasses, event.mask) == (Presence.NO, Presence.YES)
    assert event.bbox is not None
    assert (event.bbox.x, event.bbox.y, event.bbox.h) == (0.383, 0.4, 0.396)
    assert event.captured_at == datetime(2021, 1, 6, 7, 29, 44, 512000, tzinfo=UTC)  # faceTime
    assert event.source_event_id is not None
    assert event.source_event_id.startswith("2021010614294461800")
    assert event.device_id == derived_device_id(SOURCE, "a4:14:37:84:50:a1", "1")
    assert event.attributes["ageGroup"] == "prime"
    assert event.attributes["captureEndMark"] == "true"
    assert "race.value" not in event.attributes
    assert not any("race" in key for key in event.attributes)


def test_thermal_face_with_per_mille_box_and_traits_inside_the_rect() -> None:
    event = one(fixture("facecapture_thermal.json"))
    assert event.bbox is not None
    assert (event.bbox.x, event.bbox.y) == (0.45625, 0.381667)
    assert event.bbox.w == pytest.approx(0.055208)
    assert (event.gender, event.glasses, event.age_min) == (Gender.FEMALE, Presence.YES, 23)
    assert event.attributes["currTemperature"] == "35.9"
    assert event.attributes["captureEndMark"] == "false"
    assert event.channel == 2


def _face_json(face_id: int, face_time: str, end: bool, feature: Any = None) -> bytes:
    document = json.loads(fixture("facecapture.json"))
    capture = document["faceCapture"][0]
    capture["targetAttrs"]["faceTime"] = face_time
    capture["faces"][0].update(faceId=face_id, captureEndMark=end)
    if feature is not None:
        capture["faces"][0]["feature"] = feature
    return json.dumps(document).encode()


def test_updates_of_a_face_track_have_their_own_ids_and_a_repush_keeps_its_id() -> None:
    first = one(_face_json(55, "2021-01-06T14:29:41+07:00", False))
    best = one(_face_json(55, "2021-01-06T14:29:44+07:00", True))
    assert first.event_id != best.event_id
    assert first.track_id == best.track_id == "55"
    assert one(_face_json(55, "2021-01-06T14:29:44+07:00", True)).event_id == best.event_id
    assert one(_face_json(56, "2021-01-06T14:29:44+07:00", True)).event_id != best.event_id
    reused = one(_face_json(55, "2021-02-11T09:00:00+07:00", True))  # counter reset
    assert reused.event_id != best.event_id


def test_a_face_track_collapses_to_its_best_update() -> None:
    """The track's updates reach the deduplication as separate captures; the best (quality)
    is kept, whichever arrives first, and the others are absorbed."""
    updates = []
    for second, score, end in ((41, 40, False), (42, 91, False), (44, 60, True)):
        body = json.loads(_face_json(55, f"2021-01-06T14:29:{second}+07:00", end))
        body["faceCapture"][0]["faces"][0]["faceScore"] = score
        received = datetime(2021, 1, 6, 7, 29, second + 1, tzinfo=UTC)  # on time
        updates.append(one(json.dumps(body).encode(), received=received))
    config = RuleConfig()
    now = max(u.received_at for u in updates) + timedelta(hours=1)
    out = list(run_offline(updates, config, Watchlist(), now))
    [unique] = [e for e in out if isinstance(e, FaceCapture)]
    assert unique.quality == pytest.approx(0.91)
    assert sorted(unique.absorbed_event_ids) == sorted(
        u.event_id for u in updates if u.event_id != unique.event_id
    )
    assert unique.appeared_at == updates[0].captured_at
    assert unique.disappeared_at == updates[-1].captured_at


def test_feature_vector_becomes_a_float32_embedding() -> None:
    vector = [i / 7 for i in range(128)]
    event = one(_face_json(9, "2021-01-06T14:29:41+07:00", True, vector))
    assert event.embedding is not None
    assert len(event.embedding) == 128
    assert event.embedding[1] == pytest.approx(1 / 7, rel=1e-6)
    assert "feature" not in event.attributes
    assert one(_face_json(9, "2021-01-06T14:29:41+07:00", True, ["a"] * 8)).embedding is None


def test_several_faces_in_one_capture() -> None:
    document = json.loads(fixture("facecapture.json"))
    faces = document["faceCapture"][0]["faces"]
    faces.append({**faces[0], "faceId": 56, "pId": "other", "gender": {"value": "female"}})
    result = run(json.dumps(document).encode())
    assert [e.track_id for e in result.events] == ["55", "56"]
    assert result.events[0].event_id != result.events[1].event_id


def test_face_capture_without_faces_is_skipped() -> None:
    document = json.loads(fixture("facecapture.json"))
    document["faceCapture"][0]["faces"] = []
    result = run(json.dumps(document).encode())
    assert (result.events, result.rejected) == ([], [])
    assert result.skipped == "faceCapture without faces"


def test_face_multipart_crop_reusing_the_json_part_name() -> None:
    event = one(fixture("facecapture_multipart.bin"), "multipart/form-data; boundary=boundary")
    kinds = {i.kind: i for i in event.images}
    assert set(kinds) == {ImageKind.FACE, ImageKind.SCENE}
    assert (kinds[ImageKind.FACE].width, kinds[ImageKind.FACE].height) == (112, 140)
    assert (kinds[ImageKind.SCENE].width, kinds[ImageKind.SCENE].height) == (2688, 1520)
    assert event.event_id == one(fixture("facecapture.json")).event_id


def test_nvr_xml_face_capture_with_picture_part_without_lengths() -> None:
    body = fixture("facecapture_nvr_multipart.bin")
    event = one(body, "multipart/form-data; boundary=----------------------------7e1b2c3d4e5f")
    assert isinstance(event, FaceCapture)
    assert event.channel == 5
    (image,) = event.images
    assert (image.width, image.height) == (1280, 720)
    assert image.sha256 is not None
    assert one(fixture("facecapture_nvr.xml")).event_id == event.event_id


def test_facedetection_end_is_skipped() -> None:
    result = run(alert("facedetection", "inactive"))
    assert result.events == []
    assert result.skipped == "facedetection ended (inactive): no capture"
    assert isinstance(one(alert("facedetection")), FaceCapture)


# --- multipart ----------------------------------------------------------------------------


def test_anpr_multipart_images_are_hashes_only() -> None:
    body = fixture("anpr_multipart.bin")
    event = one(body, "multipart/form-data; boundary=MIME_boundary_8f3c7a")
    kinds = {i.kind: i for i in event.images}
    assert set(kinds) == {ImageKind.PLATE, ImageKind.SCENE}
    assert (kinds[ImageKind.PLATE].width, kinds[ImageKind.PLATE].height) == (220, 64)
    assert (kinds[ImageKind.SCENE].width, kinds[ImageKind.SCENE].height) == (1920, 1080)
    for image in event.images:
        assert image.url is None
        assert image.sha256 is not None
        assert re.fullmatch("[0-9a-f]{64}", image.sha256)
    dumped = json.dumps(event.model_dump(mode="json"), ensure_ascii=False)
    assert len(dumped) < 4000  # no picture bytes anywhere
    assert event.event_id == one(fixture("anpr_isapi_cn.xml")).event_id


def test_parts_are_classified_by_content_type_and_magic_not_by_name() -> None:
    plate, scene = jpeg(220, 64, "p"), jpeg(1920, 1080, "s")
    body = multipart(
        [
            (part("licensePlatePicture.jpg", "image/jpeg", "licensePlatePicture.jpg"), plate),
            (part("picture.jpg", "text/xml"), fixture("anpr_isapi_cn.xml")),  # the event
            (part("anpr.xml", "application/octet-stream", "detectionPicture.jpg"), scene),
            (part("notes", "text/plain"), b"Heartbeat"),
        ]
    )
    for content_type in ("multipart/form-data; boundary=MIME_b0undary", None):
        event = one(body, content_type)  # boundary from the header, else sniffed
        by_hash = {i.sha256: i.kind for i in event.images}
        assert by_hash == {
            hashlib.sha256(plate).hexdigest(): ImageKind.PLATE,
            hashlib.sha256(scene).hexdigest(): ImageKind.SCENE,
        }


def test_quoted_boundary_and_bare_newlines() -> None:
    xml = alert()
    body = b'--q"b\n' + b"Content-Type: application/xml\n\n" + xml + b'\n--q"b--\n'
    assert one(body.replace(b'q"b', b"qb"), 'multipart/mixed; boundary="qb"').alarm_type is (
        AlarmType.MOTION
    )


def test_alertstream_chunk_with_several_alerts() -> None:
    body = multipart(
        [
            (part("a", "application/xml"), alert("VMD")),
            (part("b", "application/xml"), fixture("keepalive_videoloss.xml")),
            (part("c", "application/xml"), b"<EventNotificationAlert><eventType>VMD"),
            (part("d", "application/xml"), alert("linedetection")),
            (part("p", "image/jpeg", "detectionPicture.jpg"), jpeg(640, 480)),
        ]
    )
    result = run(body, "multipart/mixed; boundary=MIME_b0undary")
    assert [e.alarm_type for e in result.events] == [AlarmType.MOTION, AlarmType.LINE_CROSSING]
    assert [len(e.images) for e in result.events] == [0, 1]  # the picture follows its alert
    (rejected,) = result.rejected
    assert "event part 3" in rejected.reason
    assert "not well-formed" in rejected.reason
    assert rejected.record is not None
    assert rejected.record.startswith(b"<EventNotificationAlert>")
    assert result.skipped is None


# --- device identity ------------------------------------------------------------------------


def test_identity_fallbacks() -> None:
    no_mac = alert().replace(b"<macAddress>a6:63:9e:f8:01:09</macAddress>", b"")
    assert one(no_mac).device_id == derived_device_id(SOURCE, "10.3.0.15", "1")
    bare = no_mac.replace(b"<ipAddress>10.3.0.15</ipAddress>", b"")
    assert one(bare, key="gw-7").device_id == derived_device_id(SOURCE, "gw-7", "1")
    with pytest.raises(AdapterError, match="no device identity"):
        run(bare, key=None)
    with pytest.raises(AdapterError, match="no device identity"):
        run(bare, key="unknown")  # the gateway's placeholder is not an identity
    not_gb = alert().replace(b"<eventType>", b"<deviceID>3402000000132000010</deviceID><eventType>")
    assert one(not_gb).device_id == one(alert()).device_id  # MAC before a non-GB deviceID


# --- unusable payloads -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"", None, "empty body"),
        (b"  \r\n", None, "empty body"),
        (b"Code=VideoMotion;action=Start", None, "neither XML, JSON nor multipart"),
        (b"<EventNotificationAlert><eventType>", None, "XML is not well-formed"),
        (b"<ResponseStatus><statusCode>1</statusCode></ResponseStatus>", None, "ResponseStatus"),
        (
            b"<EventNotificationAlert><channelID>1</channelID></EventNotificationAlert>",
            None,
            "has no eventType",
        ),
        (b'{"eventState": "active"}', "application/json", "has no eventType"),
        (b"[1, 2]", "application/json", "not an object"),
        (b"{nope", "application/json", "JSON is not valid"),
        (
            b"--b\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\xff\xd9\r\n--b--\r\n",
            "multipart/form-data; boundary=b",
            "no XML or JSON event part",
        ),
    ],
)
def test_unusable_payloads(body: bytes, content_type: str | None, reason: str) -> None:
    with pytest.raises(AdapterError, match=reason):
        run(body, content_type)


def test_oversized_values_stay_out_of_fields_and_attributes() -> None:
    huge = "x" * 5000
    body = (
        alert()
        .replace(
            b"<eventDescription>alarm", f"<picData>{huge}</picData><eventDescription>".encode()
        )
        .replace(
            b"</EventNotificationAlert>",
            f"<bkgUrl>http://a/{huge}</bkgUrl>"
            f"<targetType>{huge}</targetType><note>{huge}</note>"
            "</EventNotificationAlert>".encode(),
        )
    )
    event = one(body)
    assert event.images == []
    assert event.target_type is None
    assert "picData" not in event.attributes
    assert "note" not in event.attributes
    with pytest.raises(AdapterError, match="not an event type"):
        run(alert(huge))


def test_attributes_are_capped() -> None:
    extra = "".join(f"<field{i}>v{i}</field{i}>" for i in range(300)).encode()
    event = one(alert().replace(b"</EventNotificationAlert>", extra + b"</EventNotificationAlert>"))
    assert len(event.attributes) == 128
    assert event.attributes["macAddress"] == "a6:63:9e:f8:01:09"  # envelope fields come first


# --- properties ---------------------------------------------------------------------------

FIXTURE_BODIES = [
    (p.read_bytes(), "multipart/form-data" if p.suffix == ".bin" else None)
    for p in sorted(FIXTURES.iterdir())
]


def _survives(body: bytes, content_type: str | None = None) -> None:
    try:
        result = normalize_hikvision(
            RawPayload(SOURCE, body, RECEIVED, key="k", content_type=content_type), CTX
        )
    except AdapterError:
        return
    assert_valid(result.events)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_raise_only_adapter_errors(body: bytes) -> None:
    _survives(body)
    _survives(body, "multipart/form-data; boundary=x")


_ALPHABET = list("<>/=\"'&;:!?-{}[],. \n\rabcXMLTeventyp01浙")
_ENCODINGS = ["UTF-8", "GB2312", "GBK", "utf-7", "idna", "base64", "latin-1", "x", "UTF-16"]


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(_ALPHABET), max_size=300),
    st.sampled_from(_ENCODINGS),
    st.sampled_from(["utf-8", "gb18030", "latin-1"]),
)
def test_arbitrary_text_raises_only_adapter_errors(text: str, declared: str, codec: str) -> None:
    _survives(text.encode())
    prolog = f'<?xml version="1.0" encoding="{declared}"?><EventNotificationAlert>'
    _survives((prolog + text).encode(codec, "replace"))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(FIXTURE_BODIES), st.text(max_size=60))
def test_arbitrary_content_types_never_escape(sample: tuple[bytes, str | None], ctype: str) -> None:
    _survives(sample[0], ctype)
    _survives(sample[0], "multipart/form-data; boundary=" + ctype)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(FIXTURE_BODIES),
    st.lists(
        st.tuples(st.integers(0, 10**6), st.integers(0, 3), st.binary(min_size=0, max_size=8)),
        min_size=1,
        max_size=6,
    ),
)
def test_mutated_fixtures_never_escape(
    sample: tuple[bytes, str | None], edits: list[tuple[int, int, bytes]]
) -> None:
    body, content_type = sample
    data = bytearray(body)
    for position, removed, inserted in edits:
        at = position % (len(data) + 1)
        data[at : at + removed] = inserted
    _survives(bytes(data), content_type)


_TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "0", "-1", "1e400", "NaN", "99999999999", "unknown", "0.5", "1001"]),
)
_FIELDS = [
    "channelID",
    "dynChannelID",
    "dateTime",
    "activePostCount",
    "eventState",
    "macAddress",
    "deviceID",
    "UUID",
    "ipAddress",
    "bkgUrl",
    "targetType",
]
_ANPR_FIELDS = ["licensePlate", "confidenceLevel", "plateColor", "line", "direction", "plateType"]
_RECT = ["X", "Y", "width", "height"]


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;")


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["ANPR", "VMD", "duration", "faceCapture", "alarmResult", "videoloss"]),
    st.dictionaries(st.sampled_from(_FIELDS), _TEXT),
    st.dictionaries(st.sampled_from(_ANPR_FIELDS), _TEXT),
    st.dictionaries(st.sampled_from(_RECT), _TEXT),
)
def test_mutated_xml_fields_never_escape(
    event_type: str, fields: dict[str, str], plate: dict[str, str], rect: dict[str, str]
) -> None:
    envelope = "".join(f"<{k}>{_escape(v)}</{k}>" for k, v in fields.items())
    box = "".join(f"<{k}>{_escape(v)}</{k}>" for k, v in rect.items())
    block = "".join(f"<{k}>{_escape(v)}</{k}>" for k, v in plate.items())
    body = (
        f'<EventNotificationAlert xmlns="urn:psialliance-org"><eventType>{event_type}</eventType>'
        f"{envelope}<DurationList><Duration><relationEvent>IO</relationEvent></Duration>"
        f"</DurationList><DetectionRegionList><DetectionRegionEntry><TargetRect>{box}"
        f"</TargetRect></DetectionRegionEntry></DetectionRegionList>"
        + (
            f"<ANPR>{block}<pictureInfoList><pictureInfo><plateRect>{box}</plateRect>"
            f"</pictureInfo></pictureInfoList></ANPR>"
            if event_type == "ANPR"
            else ""
        )
        + "</EventNotificationAlert>"
    )
    _survives(body.encode(), None)


_JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**30), 10**30), st.floats(), st.text(max_size=10)
)
_JSON_VALUES = st.recursive(
    _JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["value", "x", "y"]), inner)
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "faceId",
                "faceRect",
                "age",
                "gender",
                "glass",
                "mask",
                "faceScore",
                "URL",
                "pId",
                "feature",
                "faceTime",
            ]
        ),
        _JSON_VALUES,
    ),
    st.dictionaries(st.sampled_from(["channelID", "dateTime", "macAddress", "uid"]), _JSON_VALUES),
)
def test_mutated_face_json_never_escapes(face: dict[str, Any], envelope: dict[str, Any]) -> None:
    document = json.loads(fixture("facecapture.json"))
    document.update(envelope)
    document["faceCapture"][0]["faces"][0].update(face)
    _survives(json.dumps(document, default=str).encode())
