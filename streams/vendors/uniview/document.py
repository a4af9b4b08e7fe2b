"""The notification body as exact JSON, and a record as JSON again for a rejection.

Bare numbers of 20+ digits (GB/T 28181 codes) exceed 64 bits and orjson reads them as lossy
floats; identity fields are never fractional, so a float among them means the (rare) body is
read again with the exact standard parser.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import orjson

from streams.vendors.base import AdapterError
from streams.vendors.uniview.values import as_dict, items

_ID_FIELDS = ("DeviceID", "DevID", "Seq", "SrcID")


def read_document(body: bytes) -> dict[str, Any]:
    try:
        loaded = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise AdapterError(f"body is not JSON ({exc})") from None
    if not isinstance(loaded, dict):
        raise AdapterError("body is not a JSON object")
    document: dict[str, Any] = loaded
    if _lost_precision(document):
        document = _exact(body, document)
    return document


def dump(item: Any) -> bytes:
    """The record as JSON again (exact for any integer size): rejections are rare."""
    return json.dumps(item, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass")


def _lost_precision(document: Mapping[str, Any]) -> bool:
    for name in _ID_FIELDS:
        if isinstance(document.get(name), float):
            return True
    info = document.get("AlarmInfo")
    if isinstance(info, dict) and (
        isinstance(info.get("DeviceID"), float) or isinstance(info.get("AlarmSeq"), float)
    ):
        return True
    objects = as_dict(as_dict(document.get("StructureInfo")).get("ObjInfo"))
    for name, id_name in (("VehicleInfoList", "ID"), ("FaceInfoList", "FaceID")):
        for item in items(objects.get(name)):
            if isinstance(item, dict) and isinstance(item.get(id_name), float):
                return True
    return False


def _exact(body: bytes, document: dict[str, Any]) -> dict[str, Any]:
    try:
        again = json.loads(body)
    except (ValueError, RecursionError):
        return document
    return again if isinstance(again, dict) else document
