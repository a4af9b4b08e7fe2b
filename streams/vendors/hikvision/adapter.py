"""The adapter entry point: a pushed body to canonical events, one alert at a time.

A body is one XML or JSON document, or a multipart body holding one or more (an alertStream
chunk) with their pictures. With several documents a bad one is rejected alone. An alert
carrying an ``<ANPR>`` block is a plate read whatever its eventType; ``faceCapture`` and
``facedetection`` are face captures; anything else is an alarm.
"""

from __future__ import annotations

from streams.vendors.base import AdapterError, Context, Normalized, RawPayload, Rejected
from streams.vendors.common import as_str
from streams.vendors.hikvision.alarms import alarms, skip_reason
from streams.vendors.hikvision.anpr import picture_hints, plate_capture
from streams.vendors.hikvision.documents import alert_document
from streams.vendors.hikvision.envelope import envelope_of
from streams.vendors.hikvision.faces import face_captures
from streams.vendors.hikvision.images import picture_refs
from streams.vendors.hikvision.multipart import Picture, delimiter_of, split_multipart
from streams.vendors.hikvision.values import Record, as_record


def normalize_hikvision(raw: RawPayload, ctx: Context) -> Normalized:
    """Canonical events from one Hikvision ISAPI push (XML, JSON or multipart)."""
    body = raw.body
    if not body or body.isspace():
        raise AdapterError("empty body")
    result = Normalized()
    skipped: list[str] = []
    delimiter = delimiter_of(raw.content_type, body)
    if delimiter is None:
        _alert(alert_document(body), [], raw, ctx, result, skipped)
    else:
        documents, stray = split_multipart(body, delimiter)
        if not documents:
            raise AdapterError(
                f"multipart body has no XML or JSON event part ({stray} other parts)"
            )
        if len(documents) == 1:
            data, pictures = documents[0]
            _alert(alert_document(data), pictures, raw, ctx, result, skipped)
        else:
            for index, (data, pictures) in enumerate(documents):
                try:
                    _alert(alert_document(data), pictures, raw, ctx, result, skipped)
                except AdapterError as exc:
                    result.rejected.append(Rejected(f"event part {index + 1}: {exc}", data))
    if not result.events and not result.rejected and skipped:
        result.skipped = "; ".join(dict.fromkeys(skipped))
    return result


def _alert(
    doc: Record,
    pictures: list[Picture],
    raw: RawPayload,
    ctx: Context,
    result: Normalized,
    skipped: list[str],
) -> None:
    """The events of one EventNotificationAlert into ``result``, or a reason into ``skipped``."""
    vendor_type = as_str(doc.get("eventType"))
    anpr = as_record(doc.get("ANPR"))
    if vendor_type is None and not anpr:
        raise AdapterError("EventNotificationAlert has no eventType")
    if vendor_type is not None and len(vendor_type) > 64:
        raise AdapterError(f"eventType {vendor_type[:64]!r}... is not an event type")
    kind = vendor_type.lower() if vendor_type else "anpr"
    reason = skip_reason(kind, doc)
    if reason is not None:
        skipped.append(reason)
        return
    if anpr or kind == "anpr":
        if not anpr:
            raise AdapterError("ANPR alert has no ANPR element")
        env = envelope_of(doc, raw, ctx)
        refs = picture_refs(pictures, picture_hints(anpr))
        result.events.append(plate_capture(doc, anpr, env, refs))
        return
    if kind in ("facecapture", "facedetection"):
        face_captures(doc, pictures, raw, ctx, result, skipped)
        return
    alarms(doc, vendor_type or "", envelope_of(doc, raw, ctx), pictures, result)
