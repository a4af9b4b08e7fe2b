"""Hikvision ISAPI pushes: ANPR ``EventNotificationAlert`` XML (bare, or multipart/form-data
with the plate crop and scene JPEGs), JSON ``faceCapture``, and smart-event alarm XML.

``dateTime`` carries the device's offset (+08:00), or ``Z`` for cameras that keep UTC whatever
their zone; ``absTime`` is the same instant in the same offset. Cameras without a GB/T 28181
code configured send no ``deviceID``: the adapter then derives their id from the MAC.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import orjson

from loadtest.bodies.shots import AlarmShot, Body, FaceShot, PlateShot, compact, hex_token, local

_XML = 'application/xml; charset="UTF-8"'
_NS = "http://www.isapi.org/ver20/XMLSchema"
_COLOUR = {"blue": "blue", "yellow": "yellow", "green": "green"}
_GAT_COLOUR = {"blue": "5", "yellow": "6", "green": "9"}
_KIND = {"sedan": "vehicle", "suv": "SUVMPV", "mpv": "SUVMPV", "van": "van", "truck": "truck"}
_ALARM = {
    "intrusion": "fielddetection",
    "line_crossing": "linedetection",
    "region_entrance": "regionEntrance",
    "motion": "VMD",
    "tamper": "tamperdetection",
}


def _clock(when: datetime, utc: bool) -> tuple[str, str]:
    """(dateTime, absTime) as the camera writes them."""
    shown = when.astimezone(UTC) if utc else local(when)
    date_time = shown.isoformat(timespec="milliseconds")
    if utc:
        date_time = date_time.replace("+00:00", "Z")
    return date_time, compact(shown, with_millis=True)


def _uuid(token: int) -> str:
    text = hex_token(token, 32)
    return f"{text[:8]}-{text[8:12]}-1{text[13:16]}-{text[16:20]}-{text[20:]}"


def _envelope(shot: PlateShot | AlarmShot, event_type: str, date_time: str) -> str:
    camera = shot.camera
    device = f"<deviceID>{camera.gb_code}</deviceID>\n" if camera.gb_code else ""
    return (
        f"<ipAddress>{camera.ip}</ipAddress>\n<portNo>80</portNo>\n<protocol>HTTP</protocol>\n"
        f"<macAddress>{camera.mac}</macAddress>\n<channelID>1</channelID>\n"
        f"<dateTime>{date_time}</dateTime>\n<activePostCount>1</activePostCount>\n"
        f"<eventType>{event_type}</eventType>\n<eventState>active</eventState>\n"
        f"<eventDescription>{event_type} alarm</eventDescription>\n"
        f"<channelName>{camera.name}</channelName>\n{device}"
    )


def anpr_xml(shot: PlateShot) -> str:
    camera = shot.camera
    date_time, abs_time = _clock(shot.when, camera.utc_clock)
    vehicle = shot.vehicle
    plate = shot.plate if shot.plate is not None else "unknown"
    colour = _COLOUR[vehicle.plate_color] if shot.plate is not None else "unknown"
    pid = f"{abs_time}00{hex_token(shot.token >> 40, 12)}"
    believe = ",".join(str(min(99, shot.confidence + k % 3)) for k in range(len(plate)))
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<EventNotificationAlert version="2.0" xmlns="{_NS}">\n'
        f"{_envelope(shot, 'ANPR', date_time)}"
        f"<ANPR>\n<country>59</country>\n<licensePlate>{plate}</licensePlate>\n"
        f"<line>{shot.lane}</line>\n<direction>forward</direction>\n"
        f"<confidenceLevel>{shot.confidence}</confidenceLevel>\n"
        f"<plateType>92TypeCivil</plateType>\n<plateColor>{colour}</plateColor>\n"
        f"<licenseBright>{120 + shot.token % 60}</licenseBright>\n"
        f"<plateCharBelieve>{believe}</plateCharBelieve>\n"
        f"<vehicleType>{_KIND[vehicle.kind]}</vehicleType>\n"
        f"<detectDir>4</detectDir>\n<detectType>2</detectType>\n<alarmDataType>0</alarmDataType>\n"
        f"<vehicleInfo>\n<index>{shot.group}</index>\n<colorDepth>0</colorDepth>\n"
        f"<color>{vehicle.color}</color>\n<speed>{shot.speed}</speed>\n<length>0</length>\n"
        f"<vehicleLogoRecog>{vehicle.brand}</vehicleLogoRecog>\n</vehicleInfo>\n"
        f"<pictureInfoList>\n<pictureInfo>\n<fileName>licensePlatePicture.jpg</fileName>\n"
        f"<type>licensePlatePicture</type>\n<dataType>0</dataType>\n"
        f"<absTime>{abs_time}</absTime>\n<pId>{pid}A</pId>\n</pictureInfo>\n"
        f"<pictureInfo>\n<fileName>detectionPicture.jpg</fileName>\n"
        f"<type>detectionPicture</type>\n<dataType>0</dataType>\n"
        f"<absTime>{abs_time}</absTime>\n"
        f"<plateRect>\n<X>{400 + shot.token % 80}</X>\n<Y>675</Y>\n<width>106</width>\n"
        f"<height>65</height>\n</plateRect>\n"
        f"<vehicelRect>\n<X>271</X>\n<Y>300</Y>\n<width>425</width>\n<height>526</height>\n"
        f"</vehicelRect>\n<pId>{pid}B</pId>\n</pictureInfo>\n</pictureInfoList>\n"
        f"<originalLicensePlate>{plate}</originalLicensePlate>\n</ANPR>\n"
        f"<UUID>{_uuid(shot.token)}</UUID>\n<picNum>2</picNum>\n"
        f"<monitoringSiteID>{camera.admin_area}{camera.index:04d}</monitoringSiteID>\n"
        f"<isDataRetransmission>{str(shot.retransmission).lower()}</isDataRetransmission>\n"
        f"<VehicleGATInfo>\n<palteTypeByGAT>02</palteTypeByGAT>\n"
        f"<plateColorByGAT>{_GAT_COLOUR[vehicle.plate_color]}</plateColorByGAT>\n"
        f"<vehicleTypeByGAT>K33</vehicleTypeByGAT>\n</VehicleGATInfo>\n"
        f"</EventNotificationAlert>\n"
    )


# Picture bytes are slices of one fixed block of noise: cheap, deterministic, never the same
# picture twice in a row (a JPEG header and trailer around them is all a receiver looks at).
_NOISE = random.Random("hikvision pictures").randbytes(1 << 16)


def _jpeg(seed: int, size: int) -> bytes:
    at = seed % (len(_NOISE) - size)
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + _NOISE[at : at + size] + b"\xff\xd9"


def anpr(shot: PlateShot) -> Body:
    xml = anpr_xml(shot).encode()
    if not shot.camera.multipart:
        return Body(xml, _XML)
    seed = (shot.token >> 17) + shot.index * 7919  # the token is the pass's: one per read
    boundary = f"MIME_boundary_{hex_token(seed, 12)}"
    parts = [(b"anpr.xml", b"text/xml", xml)]
    parts.append((b"licensePlatePicture.jpg", b"image/jpeg", _jpeg(seed, 120 + seed % 120)))
    parts.append((b"detectionPicture.jpg", b"image/jpeg", _jpeg(seed >> 20, 300 + seed % 300)))
    delimiter = b"--" + boundary.encode()
    out = bytearray()
    for name, kind, content in parts:
        out += delimiter + b"\r\n"
        out += b'Content-Disposition: form-data; name="' + name + b'"; filename="' + name + b'"\r\n'
        out += b"Content-Type: " + kind + b"\r\n"
        out += b"Content-Length: " + str(len(content)).encode() + b"\r\n\r\n"
        out += content + b"\r\n"
    out += delimiter + b"--\r\n"
    return Body(bytes(out), f"multipart/form-data; boundary={boundary}", binary=True)


def face(shot: FaceShot) -> Body:
    camera = shot.camera
    date_time, _abs = _clock(shot.when, camera.utc_clock)
    document: dict[str, object] = {
        "ipAddress": camera.ip,
        "portNo": 80,
        "protocol": "HTTP",
        "macAddress": camera.mac,
        "channelID": 1,
        "dateTime": date_time,
        "activePostCount": 1,
        "eventType": "faceCapture",
        "eventState": "active",
        "eventDescription": "faceCapture",
        "channelName": camera.name,
    }
    if camera.gb_code:
        document["deviceID"] = camera.gb_code
    uid = hex_token(shot.token, 32)
    document["faceCapture"] = [
        {
            "targetAttrs": {
                "deviceName": "IP CAMERA",
                "deviceChannel": 1,
                "faceTime": date_time,
                "contentID": "backgroundImage",
                "pId": f"{uid[:16]}bg",
            },
            "faces": [
                {
                    "faceId": shot.track,
                    "faceRect": {"x": 0.383, "y": 0.4, "width": 0.17, "height": 0.396},
                    "age": {"value": shot.age, "ageGroup": "prime", "range": 5},
                    "gender": {"value": shot.gender},
                    "glass": {"value": "yes" if shot.glasses else "no"},
                    "mask": {"value": "yes" if shot.mask else "no"},
                    "contentID": "faceImage",
                    "pId": f"{uid[:16]}fc",
                    "faceScore": 60 + shot.token % 40,
                    "stayDuration": 800 + shot.token % 3000,
                    "captureEndMark": shot.last,
                }
            ],
            "uid": uid,
        }
    ]
    return Body(orjson.dumps(document, option=orjson.OPT_INDENT_2), "application/json")


def alarm(shot: AlarmShot) -> Body:
    date_time, _abs = _clock(shot.when, shot.camera.utc_clock)
    event_type = _ALARM[shot.alarm_type]
    region = ""
    if shot.alarm_type in ("intrusion", "line_crossing", "region_entrance"):
        region = (
            "<DetectionRegionList>\n<DetectionRegionEntry>\n"
            f"<regionID>{shot.rule[-1]}</regionID>\n<sensitivityLevel>50</sensitivityLevel>\n"
            "<detectionTarget>human</detectionTarget>\n"
            "<TargetRect>\n<X>0.41</X>\n<Y>0.32</Y>\n<width>0.08</width>\n<height>0.25</height>\n"
            "</TargetRect>\n</DetectionRegionEntry>\n</DetectionRegionList>\n"
        )
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<EventNotificationAlert version="2.0" xmlns="{_NS}">\n'
        f"{_envelope(shot, event_type, date_time)}{region}"
        f"<isDataRetransmission>{str(shot.retransmission).lower()}</isDataRetransmission>\n"
        f"</EventNotificationAlert>\n"
    )
    return Body(xml.encode(), _XML)
