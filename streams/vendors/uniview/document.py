"""The notification body as exact JSON (see :mod:`streams.vendors.json_body`).

Bare numbers of 20+ digits (GB/T 28181 codes) exceed 64 bits and orjson reads them as lossy
floats; identity fields are never fractional, so a float among them means the (rare) body is
read again with the exact standard parser.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.vendors.base import AdapterError
from streams.vendors.json_body import exact_json, load_json, rounded_id
from streams.vendors.uniview.values import as_dict, items

_ID_FIELDS = ("DeviceID", "DevID", "Seq", "SrcID")
_ALARM_ID_FIELDS = ("DeviceID", "AlarmSeq")
_OBJECT_ID_FIELDS = (("VehicleInfoList", ("ID",)), ("FaceInfoList", ("FaceID",)))


def read_document(body: bytes) -> dict[str, Any]:
    loaded = load_json(body)
    if not isinstance(loaded, dict):
        raise AdapterError("body is not a JSON object")
    document: dict[str, Any] = loaded
    if _lost_precision(document):
        document = exact_json(body, document)
    return document


def _lost_precision(document: Mapping[str, Any]) -> bool:
    if rounded_id(document, _ID_FIELDS) or rounded_id(document.get("AlarmInfo"), _ALARM_ID_FIELDS):
        return True
    objects = as_dict(as_dict(document.get("StructureInfo")).get("ObjInfo"))
    for name, id_fields in _OBJECT_ID_FIELDS:
        for item in items(objects.get(name)):
            if rounded_id(item, id_fields):
                return True
    return False
