"""GA/T 1400 (VIID) protocol pieces the gateway answers with: pure functions, no I/O."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

BEIJING = timezone(timedelta(hours=8))
# Lists a batch POST carries, by the path it arrives on, and the id field of their records.
BATCH_LISTS = {
    "/VIID/MotorVehicles": ("MotorVehicleListObject", "MotorVehicleObject", "MotorVehicleID"),
    "/VIID/Faces": ("FaceListObject", "FaceObject", "FaceID"),
    "/VIID/SubscribeNotifications": (
        "SubscribeNotificationListObject",
        "SubscribeNotificationObject",
        "NotificationID",
    ),
}


def local_time(now: datetime) -> str:
    """VIID LocalTime: Beijing wall clock, yyyyMMddHHmmss."""
    return now.astimezone(BEIJING).strftime("%Y%m%d%H%M%S")


def status_object(
    url: str, now: datetime, *, code: int = 0, text: str = "OK", object_id: str = ""
) -> dict[str, Any]:
    return {
        "RequestURL": url,
        "StatusCode": str(code),
        "StatusString": text,
        "Id": object_id,
        "LocalTime": local_time(now),
    }


def single_status(url: str, now: datetime, **kwargs: Any) -> bytes:
    """The ResponseStatusObject answer to register, unregister and keepalive."""
    return orjson.dumps({"ResponseStatusObject": status_object(url, now, **kwargs)})


def list_status(
    url: str, now: datetime, ids: list[str], *, code: int = 0, text: str = "OK"
) -> bytes:
    """The ResponseStatusListObject answer to a batch POST: one status per record."""
    objects = [status_object(url, now, code=code, text=text, object_id=i) for i in ids] or [
        status_object(url, now, code=code, text=text)
    ]
    return orjson.dumps({"ResponseStatusListObject": {"ResponseStatusObject": objects}})


def batch_ids(path: str, document: Any) -> tuple[list[str], str | None]:
    """Record ids of a batch body and its first DeviceID (the Kafka key when no header says)."""
    spec = BATCH_LISTS.get(path)
    if spec is None or not isinstance(document, dict):
        return [], None
    outer, inner, id_field = spec
    records = (
        (document.get(outer) or {}).get(inner) if isinstance(document.get(outer), dict) else None
    )
    if isinstance(records, dict):
        records = [records]
    if not isinstance(records, list):
        return [], None
    ids: list[str] = []
    device: str | None = None
    for record in records:
        if isinstance(record, dict):
            ids.append(str(record.get(id_field, "")))
            if device is None and record.get("DeviceID"):
                device = str(record["DeviceID"])
    return ids, device


def register_device(document: Any, key: str) -> str | None:
    """DeviceID of a RegisterObject / KeepaliveObject / UnRegisterObject body."""
    if isinstance(document, dict):
        inner = document.get(key)
        if isinstance(inner, dict) and inner.get("DeviceID"):
            return str(inner["DeviceID"])
    return None
