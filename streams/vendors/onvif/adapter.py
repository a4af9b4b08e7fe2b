"""The adapter entry point: an ONVIF body (metadata XML, notification XML, onvif-ej JSON) to events.

XML is a ``tt:MetadataStream`` from the RTSP metadata track, holding ``VideoAnalytics/Frame``
scene descriptions and ``Event/wsnt:NotificationMessage`` events; also a WS-BaseNotification
``Notify`` or ``PullMessagesResponse`` (bare or in a SOAP envelope), a bare ``Frame`` or a bare
``NotificationMessage``. Each frame and each message is rejected alone when it is bad. JSON is
the onvif-ej form (:mod:`.onvif_ej`); a zero-byte body (a deleted retained property) is skipped.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from streams.vendors.base import AdapterError, Context, Normalized, RawPayload, Rejected
from streams.vendors.onvif.alarms import message_event
from streams.vendors.onvif.envelope import device_id_for
from streams.vendors.onvif.messages import xml_message
from streams.vendors.onvif.onvif_ej import events_from_json
from streams.vendors.onvif.scene import frame_captures
from streams.vendors.onvif.xml import parse_xml

_UTF8_BOM = b"\xef\xbb\xbf"
_CONTAINERS = frozenset(
    {"MetadataStream", "VideoAnalytics", "Event", "Envelope", "Body", "Notify"}
    | {"PullMessagesResponse"}
)


def normalize_onvif(raw: RawPayload, ctx: Context) -> Normalized:
    """Canonical events from one ONVIF payload (metadata or notification XML, onvif-ej JSON)."""
    body = raw.body
    if body.startswith(_UTF8_BOM):
        body = body[3:]
    body = body.strip()
    if not body:
        return Normalized(skipped="empty payload (an onvif-ej property deletion)")
    if body[:1] == b"<":
        return _from_xml(body, raw, ctx)
    if body[:1] in (b"{", b"["):
        return events_from_json(body, raw, ctx)
    raise AdapterError("body is neither XML (ONVIF metadata or notification) nor JSON (onvif-ej)")


def _xml_records(root: ET.Element) -> tuple[list[ET.Element], list[ET.Element]]:
    """Frames and NotificationMessages, in document order."""
    frames: list[ET.Element] = []
    messages: list[ET.Element] = []
    stack = [root]
    while stack:
        element = stack.pop()
        tag = element.tag
        if tag == "Frame":
            frames.append(element)
        elif tag == "NotificationMessage":
            messages.append(element)
        elif tag in _CONTAINERS:
            stack.extend(reversed(element))
    return frames, messages


def _from_xml(body: bytes, raw: RawPayload, ctx: Context) -> Normalized:
    root = parse_xml(body)
    frames, messages = _xml_records(root)
    if not frames and not messages:
        if root.tag in _CONTAINERS:
            return Normalized(skipped=f"{root.tag} without frames or events (PTZ, sensor data)")
        raise AdapterError(f"XML root {root.tag!r} is not ONVIF metadata or a notification")
    device_id = device_id_for(raw.key)
    result = Normalized()
    skipped: list[str] = []
    for frame in frames:
        try:
            found = frame_captures(frame, device_id, raw, ctx)
        except AdapterError as exc:
            result.rejected.append(Rejected(f"frame: {exc}", ET.tostring(frame)))
            continue
        result.events.extend(found)
        if not found:
            skipped.append("frame without plate or face objects")
    for element in messages:
        try:
            outcome = message_event(xml_message(element), device_id, raw, ctx)
        except AdapterError as exc:
            result.rejected.append(Rejected(f"event: {exc}", ET.tostring(element)))
            continue
        if isinstance(outcome, str):
            skipped.append(outcome)
        else:
            result.events.append(outcome)
    if not result.events and not result.rejected:
        result.skipped = "; ".join(dict.fromkeys(skipped))
    return result
