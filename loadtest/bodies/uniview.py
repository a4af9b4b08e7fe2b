"""Uniview LAPI notifications, one object each: ``StructureInfo`` vehicle or face records and
``AlarmInfo`` alarms.

``PassTime`` is local ``yyyyMMddHHmmssSSS``; ``TimeStamp`` is epoch seconds (faces and alarms
have nothing finer). ``DeviceID`` is the GB/T 28181 code, or the serial number on cameras
without one (the adapter then derives an id from it and the channel ``SrcID``). Images are
URLs on the camera (``DataType`` 1), not inline base64.
"""

from __future__ import annotations

from typing import Any

import orjson

from loadtest.bodies.shots import (
    AlarmShot,
    Body,
    FaceShot,
    PlateShot,
    compact,
    epoch_seconds,
    hex_token,
    local,
)
from loadtest.city import Camera

_JSON = "application/json"
_PLATE_COLOUR = {"blue": 4, "yellow": 5, "green": 18}
_COLOUR = {"white": 1, "black": 0, "silver": 13, "grey": 2, "blue": 4, "red": 3}
_TYPE = {"sedan": 9, "suv": 10, "mpv": 17, "van": 11, "truck": 15}
_ALARM = {
    "intrusion": "FieldDetectorObjectsInside",
    "line_crossing": "LineDetectorCrossed",
    "region_entrance": "EnterArea",
    "motion": "MotionAlarmOn",
    "tamper": "TamperDetection",
}


def _head(camera: Camera, stamp: int, sequence: int, token: int) -> dict[str, Any]:
    return {
        "Reference": f"{camera.ip}:80/LAPI/V1.0/System/Event/Subscription/Subscribers/3",
        "TimeStamp": stamp,
        "Seq": sequence,
        "SrcID": 1,
        "SrcName": camera.name,
        "NotificationType": 1,
        "DeviceID": camera.gb_code or camera.serial,
        "RelatedID": hex_token(token, 15),
    }


def _image(camera: Camera, index: int, kind: int, stamp: int, token: int) -> dict[str, Any]:
    return {
        "Index": index,
        "Type": kind,
        "Format": 0,
        "Width": 2688 if kind == 1 else 480,
        "Height": 1520 if kind == 1 else 360,
        "CaptureTime": stamp,
        "DataType": 1,
        "URL": f"http://{camera.ip}/LAPI/V1.0/Picture/{hex_token(token, 16)}_{index}.jpg",
    }


def _dump(document: dict[str, Any]) -> Body:
    return Body(orjson.dumps(document, option=orjson.OPT_INDENT_2), _JSON)


def vehicle(shot: PlateShot) -> Body:
    camera = shot.camera
    stamp = epoch_seconds(shot.when)
    car = shot.vehicle
    record = {
        "ID": shot.group,
        "Position": f"{3000 + shot.token % 900},6136;5390,8266",
        "Confidence": shot.confidence,
        "LargePicAttachIndex": 1,
        "PlatePicAttachIndex": 2,
        "PassTime": compact(local(shot.when), with_millis=True),
        "TriggerType": 1,
        "LaneID": shot.lane,
        "VehicleAttributeInfo": {
            "Color": _COLOUR[car.color],
            "Type": _TYPE[car.kind],
            "VehicleBrand": str(car.brand),
            "Speed": shot.speed,
        },
        "PlateAttributeInfo": {
            "PlateNo": shot.plate if shot.plate is not None else "Unknown",
            "Color": _PLATE_COLOUR[car.plate_color] if shot.plate is not None else 100,
            "Type": 1,
            "Position": "4102,7540;4517,7712",
        },
    }
    token = shot.token ^ shot.index  # per read: the token is the pass's
    document = _head(camera, stamp, shot.sequence, token)
    document["StructureInfo"] = {
        "ObjInfo": {"FaceNum": 0, "PersonNum": 0, "VehicleNum": 1, "VehicleInfoList": [record]},
        "ImageNum": 2,
        "ImageInfoList": [
            _image(camera, 1, 1, stamp, token),
            _image(camera, 2, 3, stamp, token),
        ],
    }
    return _dump(document)


def face(shot: FaceShot) -> Body:
    camera = shot.camera
    stamp = epoch_seconds(shot.when)
    record = {
        "FaceID": shot.track,
        "Position": f"{4000 + shot.token % 2000},1200;5400,2300",
        "Confidence": 60 + shot.token % 39,
        "AppearTime": epoch_seconds(shot.appeared),
        "DisAppearTime": stamp,
        "SmallPicAttachIndex": 2,
        "LargePicAttachIndex": 1,
        "AttributeInfo": {
            "Gender": 1 if shot.gender == "male" else 2,
            "AgeRange": min(shot.age // 15, 5),
            "GlassFlag": 1 if shot.glasses else 0,
            "MaskFlag": 1 if shot.mask else 0,
        },
    }
    document = _head(camera, stamp, shot.sequence, shot.token)
    document["StructureInfo"] = {
        "ObjInfo": {"FaceNum": 1, "FaceInfoList": [record], "PersonNum": 0, "VehicleNum": 0},
        "ImageNum": 2,
        "ImageInfoList": [
            _image(camera, 1, 1, stamp, shot.token),
            _image(camera, 2, 11, stamp, shot.token),
        ],
    }
    return _dump(document)


def alarm(shot: AlarmShot) -> Body:
    camera = shot.camera
    stamp = epoch_seconds(shot.when)
    document = {
        "Reference": f"{camera.ip}:80/LAPI/V1.0/System/Event/Subscription/Subscribers/3",
        "AlarmInfo": {
            "AlarmType": _ALARM[shot.alarm_type],
            "AlarmLevel": 2,
            "TimeStamp": stamp,
            "AlarmSeq": shot.sequence,
            "AlarmSrcType": 8,
            "AlarmSrcID": 1,
            "AlarmSrcName": camera.name,
            "DeviceID": camera.gb_code or camera.serial,
            "RelatedID": hex_token(shot.token, 15),
        },
        "RelatedObjects": {"ObjectNum": 1, "ObjectList": [{"ObjectType": 2, "ObjectID": 1047}]},
    }
    return _dump(document)
