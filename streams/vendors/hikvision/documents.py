"""One event document, XML or JSON, as a record of fields.

JSON may wrap the alert in ``{"EventNotificationAlert": {...}}`` or send it bare. A 20-digit
GB/T 28181 ``deviceID`` sent as a JSON number is read exactly, not rounded to a float.
"""

from __future__ import annotations

from typing import Any

from streams.vendors.base import AdapterError
from streams.vendors.hikvision.values import Record
from streams.vendors.hikvision.xml import alert_from_xml
from streams.vendors.json_body import exact_json, load_json, rounded_id


def alert_document(data: bytes) -> Record:
    """The alert's fields from an XML or JSON document (the kind is told by its first byte)."""
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return alert_from_xml(data)
    if head.startswith((b"{", b"[")):
        return _alert_from_json(data)
    raise AdapterError("body is neither XML, JSON nor multipart")


def _alert_from_json(data: bytes) -> Record:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    loaded = load_json(data, "JSON is not valid")
    if not isinstance(loaded, dict):
        raise AdapterError("JSON body is not an object")
    document = _alert(loaded)
    if rounded_id(document, ("deviceID",)):
        # A 20-digit GB/T 28181 code sent as a bare number: orjson rounds it, json does not.
        return _alert(exact_json(data, loaded))
    return document


def _alert(document: dict[str, Any]) -> Record:
    inner = document.get("EventNotificationAlert")
    return inner if isinstance(inner, dict) else document
