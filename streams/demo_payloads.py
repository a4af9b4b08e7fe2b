"""A handful of vendor payloads, shaped like what cameras push, for the local demo."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

_PLATES = ("浙A12345", "京B6D7E8", "粤C0F11G", "沪AD12345", "苏E8K9L0")
_BEIJING = timezone(timedelta(hours=8))


def _gat1400(device: str, i: int, at: datetime) -> bytes:
    local = at.astimezone(_BEIJING).strftime("%Y%m%d%H%M%S")
    record = {
        "MotorVehicleID": f"{device}02{local}{i:05d}" + "0" * 7,
        "InfoKind": 1,
        "DeviceID": device,
        "PlateNo": _PLATES[i % len(_PLATES)],
        "PlateColor": "5",
        "HasPlate": "1",
        "PassTime": local,
        "StorageUrl1": f"http://pics.example.invalid/{device}/{i}.jpg",
    }
    body = {"MotorVehicleListObject": {"MotorVehicleObject": [record]}}
    return json.dumps(body, ensure_ascii=False).encode()


def _hikvision(device: str, i: int, at: datetime) -> bytes:
    stamp = at.astimezone(_BEIJING).isoformat(timespec="milliseconds")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<EventNotificationAlert version="2.0" xmlns="http://www.isapi.org/ver20/XMLSchema">'
        f"<ipAddress>10.1.0.{i + 10}</ipAddress><channelID>1</channelID>"
        f"<dateTime>{stamp}</dateTime><activePostCount>1</activePostCount>"
        "<eventType>ANPR</eventType><eventState>active</eventState>"
        f"<ANPR><licensePlate>{_PLATES[(i + 1) % len(_PLATES)]}</licensePlate>"
        "<confidenceLevel>93</confidenceLevel><plateColor>blue</plateColor>"
        "<line>1</line><direction>forward</direction></ANPR>"
        f"<deviceID>{device}</deviceID></EventNotificationAlert>"
    ).encode()


def _dahua(device: str, i: int, at: datetime) -> bytes:
    data = {
        "Class": "Normal",
        "GroupID": 1000 + i,
        "CountInGroup": 1,
        "IndexInGroup": 1,
        "RealUTC": int(at.timestamp()),
        "UTC": int(at.timestamp()) + 8 * 3600,
        "TrafficCar": {"PlateNumber": _PLATES[(i + 2) % len(_PLATES)], "PlateColor": "Blue"},
    }
    body = json.dumps(data, ensure_ascii=False)
    return f"Code=TrafficJunction;action=Pulse;index=0;data={body}".encode()


def _frigate(device: str, i: int, at: datetime) -> bytes:
    event = {
        "type": "new",
        "after": {
            "id": f"{at.timestamp():.6f}-{device}{i}",
            "camera": device,
            "label": "car",
            "frame_time": at.timestamp(),
            "score": 0.9,
            "recognized_license_plate": _PLATES[(i + 3) % len(_PLATES)],
        },
    }
    return json.dumps(event, ensure_ascii=False).encode()


_BUILDERS = {
    "gat1400": _gat1400,
    "hikvision-isapi": _hikvision,
    "dahua-cgi": _dahua,
    "frigate": _frigate,
}


def demo_payloads(per_source: int, now: datetime | None = None) -> list[tuple[str, str, bytes]]:
    """(source, device id, body) triples: ``per_source`` payloads from each of four vendors."""
    start = now or datetime.now(UTC)
    out: list[tuple[str, str, bytes]] = []
    for n, (source, build) in enumerate(_BUILDERS.items()):
        device = f"330102000013{n + 1:02d}{0:06d}"
        for i in range(per_source):
            out.append((source, device, build(device, i, start + timedelta(seconds=i))))
    return out
