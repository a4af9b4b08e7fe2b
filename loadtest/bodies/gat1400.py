"""GA/T 1400 (视图库) pushes: ``MotorVehicleListObject`` and ``FaceListObject`` from devices that
speak it directly, and the platform cascade that re-delivers a camera's pass under the camera's
own 20-digit ``DeviceID``.

Times are local (Beijing) ``yyyyMMddHHmmss``: whole seconds only. Record ids follow the usual
48-character layout: device id, ``02``, the time, a 5-digit number, the kind, a 5-digit number.
A directly connected device's record reaches the platform again through a subscription
(``SubscribeNotificationListObject``) with the same ``MotorVehicleID``; a camera of another
vendor's pass becomes a new record the platform numbers itself.
"""

from __future__ import annotations

from typing import Any

import orjson

from loadtest.bodies.shots import Body, FaceShot, PlateShot, compact, hex_token, local

CONTENT_TYPE = "application/VIID+JSON;charset=UTF-8"
_PLATE_COLOUR = {"blue": "5", "yellow": "6", "green": "9"}
_COLOUR = {"white": "2", "black": "1", "silver": "3", "grey": "3", "blue": "5", "red": "4"}
_CLASS = {"sedan": "K33", "suv": "K31", "mpv": "K31", "van": "K32", "truck": "H21"}


def record_id(device: str, time14: str, number: int, kind: str) -> str:
    return f"{device}02{time14}{number % 100000:05d}{kind}{number // 100000 % 100000:05d}"


def vehicle_record(shot: PlateShot, vehicle_id: str, reliability: int) -> dict[str, Any]:
    device = shot.camera.gb_code
    assert device is not None  # only cameras with a GB/T 28181 code reach GA/T 1400
    time14 = compact(local(shot.when))
    car = shot.vehicle
    readable = shot.plate is not None
    return {
        "MotorVehicleID": vehicle_id,
        "InfoKind": 1,
        "SourceID": vehicle_id[:41],
        "DeviceID": device,
        "StorageUrl1": f"http://viid.hz.invalid/pic/{hex_token(shot.token ^ shot.index, 16)}.jpg",
        "LeftTopX": 612,
        "LeftTopY": 430,
        "RightBtmX": 1092,
        "RightBtmY": 790,
        "LaneNo": shot.lane,
        "HasPlate": "1" if readable else "0",
        "PlateClass": "02",
        "PlateColor": _PLATE_COLOUR[car.plate_color] if readable else "99",
        "PlateNo": shot.plate if readable else "无车牌",
        "PlateReliability": str(reliability),
        "Speed": shot.speed,
        "Direction": "2",
        "VehicleClass": _CLASS[car.kind],
        "VehicleBrand": str(car.brand),
        "VehicleColor": _COLOUR[car.color],
        "PassTime": time14,
        "NameOfPassedRoad": shot.camera.name[3:9],
        "SubImageList": {
            "SubImageInfoObject": [
                {
                    "ImageID": vehicle_id[:41],
                    "EventSort": 12,
                    "DeviceID": device,
                    "StoragePath": f"http://viid.hz.invalid/pic/{vehicle_id[-12:]}-1.jpg",
                    "Type": "14",
                    "FileFormat": "Jpeg",
                    "ShotTime": time14,
                    "Width": 1920,
                    "Height": 1080,
                }
            ]
        },
    }


def _push(records: dict[str, Any]) -> Body:
    return Body(orjson.dumps(records), CONTENT_TYPE)


def motor_vehicles(shot: PlateShot, number: int) -> Body:
    """A directly connected device's pass record; ``number`` makes its id unique."""
    device = shot.camera.gb_code or ""
    vehicle_id = record_id(device, compact(local(shot.when)), number, "02")
    record = vehicle_record(shot, vehicle_id, shot.confidence)
    return _push({"MotorVehicleListObject": {"MotorVehicleObject": [record]}})


def cascade(shot: PlateShot, number: int, own: bool) -> Body:
    """The platform's re-delivery of a pass. ``own``: the camera speaks GA/T 1400 itself, so
    the platform forwards its record unchanged through a subscription; else it makes a record
    of the camera's read, with its own (lower) reliability figure."""
    device = shot.camera.gb_code or ""
    time14 = compact(local(shot.when))
    if own:
        record = vehicle_record(shot, record_id(device, time14, number, "02"), shot.confidence)
        note = {
            "NotificationID": f"33010000005030000001{time14}{number % 100000:05d}",
            "SubscribeID": "330100000050300000012026030100000000001",
            "Title": "卡口过车",
            "TriggerTime": time14,
            "InfoIDs": record["MotorVehicleID"],
            "MotorVehicleObjectList": {"MotorVehicleObject": [record]},
        }
        return _push({"SubscribeNotificationListObject": {"SubscribeNotificationObject": [note]}})
    vehicle_id = record_id(device, time14, number, "12")
    record = vehicle_record(shot, vehicle_id, max(shot.confidence - 3, 1))
    return _push({"MotorVehicleListObject": {"MotorVehicleObject": [record]}})


def faces(shot: FaceShot, number: int) -> Body:
    device = shot.camera.gb_code or ""
    time14 = compact(local(shot.when))
    face_id = record_id(device, time14, number, "06")
    record = {
        "FaceID": face_id,
        "InfoKind": 1,
        "SourceID": face_id[:41],
        "DeviceID": device,
        "LeftTopX": 512 + shot.token % 300,
        "LeftTopY": 280,
        "RightBtmX": 700 + shot.token % 300,
        "RightBtmY": 520,
        "ShotTime": time14,
        "FaceAppearTime": compact(local(shot.appeared)),
        "FaceDisAppearTime": time14,
        "GenderCode": "1" if shot.gender == "male" else "2",
        "AgeUpLimit": shot.age + 5,
        "AgeLowerLimit": max(shot.age - 5, 0),
        "GlassStyle": "1" if shot.glasses else "0",
        "RespiratorColor": "2" if shot.mask else "99",
        "SubImageList": {
            "SubImageInfoObject": [
                {
                    "ImageID": face_id[:41],
                    "EventSort": 10,
                    "DeviceID": device,
                    "StoragePath": f"http://viid.hz.invalid/face/{face_id[-16:]}.jpg",
                    "Type": "11",
                    "FileFormat": "Jpeg",
                    "ShotTime": time14,
                    "Width": 240,
                    "Height": 320,
                }
            ]
        },
    }
    return _push({"FaceListObject": {"FaceObject": [record]}})
