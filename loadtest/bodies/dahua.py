"""Dahua CGI ``eventManager.cgi?action=attach`` text parts, as a collector forwards them:
``Code=<Code>;action=<Start|Pulse>;index=<channel>;data=<JSON>`` with pretty-printed JSON.

Times: ``UTC`` is the local wall clock encoded as epoch seconds (the Dahua habit), ``UTCMS`` its
milliseconds, ``LocaleTime`` the same wall clock as text; newer firmware adds ``RealUTC``, the
true epoch seconds. Parts carry no device id: the collector keys each by the camera's GB/T
28181 code. The reads of one pass share ``GroupID`` and count ``IndexInGroup``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson

from loadtest.bodies.shots import AlarmShot, Body, FaceShot, PlateShot, epoch_seconds, local, millis

_TEXT = "text/plain; charset=utf-8"
_COLOUR = {"blue": "Blue", "yellow": "Yellow", "green": "Green"}
_CATEGORY = {"sedan": "SaloonCar", "suv": "SUV", "mpv": "MPV", "van": "Van", "truck": "Truck"}
_BRANDS = ("Volkswagen", "Toyota", "Honda", "BYD", "Geely", "Buick", "Nissan", "Changan")
_ALARM = {
    "intrusion": ("CrossRegionDetection", "Appear"),
    "line_crossing": ("CrossLineDetection", "Appear"),
    "region_entrance": ("CrossRegionDetection", "Enter"),
    "motion": ("VideoMotion", None),
    "tamper": ("VideoBlind", None),
}


def _times(shot: PlateShot | FaceShot | AlarmShot) -> dict[str, Any]:
    wall = local(shot.when)
    out: dict[str, Any] = {
        "LocaleTime": wall.strftime("%Y-%m-%d %H:%M:%S"),
        "UTC": epoch_seconds(shot.when + timedelta(hours=8)),
        "UTCMS": millis(shot.when),
    }
    if shot.camera.real_utc:
        out["RealUTC"] = epoch_seconds(shot.when)
    return out


def _part(code: str, action: str, data: dict[str, Any]) -> Body:
    text = orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()
    return Body(f"Code={code};action={action};index=0;data={text}\n".encode(), _TEXT)


def traffic(shot: PlateShot) -> Body:
    vehicle = shot.vehicle
    plate = shot.plate if shot.plate is not None else "无车牌"
    confidence = round(shot.confidence * 2.55)
    times = _times(shot)
    box = 3900 + shot.token % 400
    data: dict[str, Any] = {
        "Action": "Pulse",
        "Class": "Traffic",
        "Code": "TrafficJunction",
        "CommInfo": {"SnapCategory": "Motor", "StandardVehicleType": "Unknown"},
        "CountInGroup": shot.count,
        "EventID": shot.sequence,
        "EventSeq": shot.sequence,
        "GroupID": shot.group,
        "IndexInGroup": shot.index,
        "JunctionDirection": "Obverse",
        "Lane": shot.lane,
        "Name": "TrafficTollGate0",
        "Object": {
            "Action": "Appear",
            "BoundingBox": [box, 6144, box + 512, 6400],
            "Confidence": confidence,
            "Country": "CHN",
            "ObjectID": shot.group % 100000,
            "ObjectType": "Plate",
            "Text": plate,
        },
        "PTS": 42994650150.0 + shot.sequence * 40.0,
        "Speed": shot.speed,
        "TimeZone": 13,
        "TrafficCar": {
            "CountInGroup": shot.count,
            "GroupID": shot.group,
            "IndexInGroup": shot.index,
            "Lane": shot.lane,
            "MachineName": shot.camera.serial[-15:],
            "PlateColor": _COLOUR[vehicle.plate_color] if shot.plate else "Unknown",
            "PlateNumber": plate,
            "PlateType": "Normal",
            "Speed": shot.speed,
            "UTC": times["UTC"],
            "VehicleColor": vehicle.color.capitalize(),
            "VehicleSign": _BRANDS[vehicle.brand % len(_BRANDS)],
            "ViolationDesc": "ANPR",
        },
        **times,
        "Vehicle": {
            "BoundingBox": [2352, 72, 3856, 2120],
            "Category": _CATEGORY[vehicle.kind],
            "Confidence": 160,
            "ObjectType": "Vehicle",
        },
    }
    return _part("TrafficJunction", "Pulse", data)


def face(shot: FaceShot) -> Body:
    left = 1024 + shot.token % 4096
    faces = [
        {
            "BoundingBox": [left, 1112, left + 840, 2608],
            "ObjectID": shot.track,
            "ObjectType": "HumanFace",
        }
    ]
    data: dict[str, Any] = {
        "Class": "FaceDetection",
        "CountInGroup": 0,
        "EventID": shot.sequence,
        "EventSeq": shot.sequence,
        "Faces": faces,
        "GroupID": 0,
        "Name": "FaceDetection",
        "Object": {
            "Action": "Appear",
            "Age": shot.age,
            "BoundingBox": faces[0]["BoundingBox"],
            "Confidence": 40 + shot.token % 200,
            "Glass": "Glasses" if shot.glasses else "NoGlasses",
            "Mask": "WearMask" if shot.mask else "NoMask",
            "ObjectID": shot.track,
            "ObjectType": "HumanFace",
            "Sex": "Man" if shot.gender == "male" else "Woman",
        },
        "RuleID": 1,
        **_times(shot),
    }
    return _part("FaceDetection", "Start", data)


def alarm(shot: AlarmShot) -> Body:
    code, action = _ALARM[shot.alarm_type]
    data: dict[str, Any] = {"Class": "Normal", "EventID": shot.sequence, "Name": shot.rule}
    if action is not None:
        data["Action"] = action
        data["Object"] = {
            "Action": "Appear",
            "BoundingBox": [4816, 4552, 5248, 5272],
            "ObjectID": shot.token % 10000,
            "ObjectType": "Human",
        }
    data.update(_times(shot))
    return _part(code, "Start", data)
