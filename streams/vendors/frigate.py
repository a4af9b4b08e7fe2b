"""Frigate NVR over MQTT: ``frigate/events`` and ``frigate/tracked_object_update`` JSON.

``frigate/events`` carries ``{"type": "new"|"update"|"end", "before": {...}, "after": {...}}``:
the full tracked object, republished whenever it changes; ``before`` is the object as last
published (on ``new`` it is the unpublished false-positive state, so it is ignored). A message
yields what is new in ``after`` compared with ``before``, nothing else:

- a plate read: ``recognized_license_plate`` (+ ``_score``) that differs from the one before, or
  any read on ``new`` -> plate capture (``vehicle_type`` is the label unless it is
  ``license_plate``; a ``sub_label`` on a vehicle is a known-plate name, kept as an attribute);
- a recognised face: label ``person``/``face`` with a ``sub_label`` (``[name, score]``, or a bare
  name from older versions) that differs from the one before -> face capture;
- a zone entry: every zone in ``entered_zones`` that was not there before -> a ``region_entrance``
  pulse alarm with ``rule_name`` = the zone and ``target_type`` = the label, whatever the label.
  Frigate zones are the areas a user marked as worth an alert; an object that enters none is a
  detection, not an alarm, and a tracked object's start and end are not alarms either.

A message with nothing new (most ``update`` and ``end`` messages, false positives) is skipped.

``frigate/tracked_object_update`` carries ``{"type": "lpr", "id", "camera", "plate", "name",
"score", "timestamp", "plate_box"}`` -> plate capture, and ``{"type": "face", "id", "camera",
"name", "score", "timestamp"}`` -> face capture. An ``lpr`` update without a plate (Frigate's
"camera cleared" message) and the ``description`` and ``classification`` types are skipped.

Identity: ``track_id``/``source_event_id`` is the Frigate ``id`` (stable over new/update/end). A
plate capture is one read: its ``event_id`` comes from (device, id, plate as read), so repeats of
the same read, from either topic, share an id, and a changed read is a new capture; a face capture
likewise from (device, id, name), a zone entry from (device, id, zone).

Times are epoch seconds (UTC): ``recognized_license_plate_frame_time`` for a read when present,
else the message's ``frame_time`` (events) or ``timestamp`` (updates), else ``start_time``, else
the receive time. Boxes are pixels at the camera's detect resolution, which no message states:
``bbox``/``plate_bbox`` stay None and the pixel boxes are kept as ``box``, ``plate_box`` and
``face_box`` attributes (``x1,y1,x2,y2``). Thumbnails (base64) become a hash reference.

Device: the camera name is no GB/T 28181 code, so the device is a derived id from the gateway's
key (the Frigate instance, when set and different from the camera) and the camera name; a key or a
camera name that is a GB/T 28181 code is used as it is.

Also skipped: ``frigate/reviews`` messages, JPEG snapshots, availability and ON/OFF texts, object
counts, stats. A JSON array holds several messages; a bad one is rejected on its own. Frigate
writes JSON with Python's ``json``, so ``NaN``/``Infinity`` are accepted (they read as absent).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson

from streams.canonical import (
    Alarm,
    AlarmState,
    AlarmType,
    CanonicalEvent,
    FaceCapture,
    ImageKind,
    ImageRef,
    PlateCapture,
    TimeProvenance,
)
from streams.canonical.models import construct
from streams.domain.devices import is_gb28181_code
from streams.domain.plates import canonical_plate
from streams.domain.vendor_time import VendorTimeError, parse_epoch
from streams.vendors.base import AdapterError, Context, Normalized, RawPayload, Rejected
from streams.vendors.common import (
    as_float,
    as_str,
    device_id_from,
    event_id,
    inline_image,
    position_of,
    received_fallback,
    unit,
)

SOURCE = "frigate"

_EVENT_TYPES = frozenset({"new", "update", "end"})
_FACE_LABELS = frozenset({"person", "face"})
_SKIPPED_UPDATES = frozenset({"description", "classification"})
_STATUS_TEXTS = frozenset({b"online", b"offline", b"stopped", b"ON", b"OFF"})
_JPEG = b"\xff\xd8"
_MAX_ATTRIBUTE = 256
_OBJECT_MODELLED = frozenset(
    {
        "id",
        "sub_label",
        "recognized_license_plate",
        "recognized_license_plate_score",
        "recognized_license_plate_frame_time",
        "thumbnail",
        "frame_time",
    }
)
_UPDATE_MODELLED = frozenset(
    {"type", "id", "plate", "score", "timestamp", "recognized_license_plate_frame_time"}
)


def normalize_frigate(raw: RawPayload, ctx: Context) -> Normalized:
    body = raw.body.strip()
    if not body:
        return Normalized(skipped="empty payload")
    if body.startswith(_JPEG):
        return Normalized(skipped="JPEG snapshot (frigate/<camera>/<label>/snapshot)")
    if body in _STATUS_TEXTS:
        return Normalized(skipped=f"status message {body.decode()}")
    document = _loads(body)
    if isinstance(document, int | float) and not isinstance(document, bool):
        return Normalized(skipped="object count (frigate/<camera>/<label>)")
    if isinstance(document, dict):
        events, skipped = _message(document, raw, ctx)
        return Normalized(events=events, skipped=None if events else skipped)
    if not isinstance(document, list):
        raise AdapterError("body is not a JSON object")
    result = Normalized()
    reasons: list[str] = []
    for record in document:
        try:
            if not isinstance(record, dict):
                raise AdapterError("message is not a JSON object")
            events, skipped = _message(record, raw, ctx)
        except AdapterError as exc:
            result.rejected.append(Rejected(f"message: {exc}", orjson.dumps(record)))
            continue
        result.events.extend(events)
        if skipped:
            reasons.append(skipped)
    if not result.events and not result.rejected:
        result.skipped = "; ".join(dict.fromkeys(reasons)) or "empty JSON array"
    return result


def _loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        error = exc
    if b"NaN" in body or b"Infinity" in body:
        # Frigate serialises with Python's json, which writes NaN and Infinity; orjson refuses.
        try:
            return json.loads(body)
        except (ValueError, RecursionError):
            pass
    raise AdapterError(f"body is not JSON ({error})") from None


def _message(
    document: Mapping[str, Any], raw: RawPayload, ctx: Context
) -> tuple[list[CanonicalEvent], str]:
    """Events of one MQTT message, and why there are none when there are none."""
    kind = as_str(document.get("type"))
    if "after" in document or "before" in document:
        after = document.get("after")
        if isinstance(after, dict) and "severity" in after:
            return [], "review message (frigate/reviews)"
        return _tracked_object(kind, document, raw, ctx)
    if kind == "lpr":
        return _lpr_update(document, raw, ctx)
    if kind == "face":
        return _face_update(document, raw, ctx)
    if kind in _SKIPPED_UPDATES:
        return [], f"tracked_object_update {kind}"
    if "service" in document and "cameras" in document:
        return [], "stats message"
    names = ", ".join(sorted(str(k) for k in document)[:6]) or "nothing"
    raise AdapterError(
        f"not a frigate/events or tracked_object_update message (type {kind!r}, keys: {names})"
    )


# --- shared ------------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _device(key: str | None, camera: str | None) -> str:
    """The device id (cached: hashing a derived id is not free)."""
    key = as_str(key)
    if key is not None and is_gb28181_code(key):
        return key
    if camera is not None and is_gb28181_code(camera):
        return camera
    if key is not None and camera is not None and key.lower() != camera.lower():
        return device_id_from(SOURCE, key, camera)
    if camera is None and key is None:
        raise AdapterError("no device identity: no camera in the message and no key")
    return device_id_from(SOURCE, camera or key)


def _time(
    record: Mapping[str, Any], names: tuple[str, ...], raw: RawPayload
) -> tuple[datetime, TimeProvenance]:
    for name in names:
        value = record.get(name)
        if value is None or value == "":
            continue
        try:
            return parse_epoch(value, now=raw.received_at)
        except VendorTimeError as exc:
            raise AdapterError(f"{name}: {exc}") from None
    return received_fallback(raw.received_at), TimeProvenance.RECEIVED


def _pixels(value: Any) -> str | None:
    """A pixel box ``[x1, y1, x2, y2]`` as ``"x1,y1,x2,y2"``; anything else is None."""
    if not isinstance(value, list | tuple) or len(value) != 4:
        return None
    numbers = [as_float(v) for v in value]
    if any(n is None for n in numbers):
        return None
    return ",".join(f"{n:g}" for n in numbers if n is not None)


def _zones(value: Any) -> list[str]:
    """Zone names: strings only (Frigate's are config keys); anything else is no zone."""
    if not isinstance(value, list):
        return []
    return [z for z in (v.strip() for v in value if isinstance(v, str)) if z]


def _sub_label(value: Any) -> tuple[str | None, float | None]:
    """``[name, score]`` (Frigate 0.14+) or a bare name (older versions)."""
    if isinstance(value, list | tuple):
        name = as_str(value[0]) if value else None
        score = unit(value[1], 1.0) if len(value) > 1 else None
        return name, score
    return as_str(value), None


def _thumbnail(value: Any, kind: ImageKind) -> list[ImageRef]:
    if isinstance(value, str) and value.strip():
        return [inline_image(value, kind)]
    return []


def _common(
    device_id: str,
    track: str,
    captured: tuple[datetime, TimeProvenance],
    raw: RawPayload,
    ctx: Context,
) -> dict[str, object]:
    return dict(
        source=SOURCE,
        source_event_id=track,
        device_id=device_id,
        channel=None,
        captured_at=captured[0],
        received_at=received_fallback(raw.received_at),
        time_source=captured[1],
        position=position_of(device_id, ctx),
    )


def _scalars(record: Mapping[str, Any], modelled: frozenset[str]) -> dict[str, str]:
    """``leftover_attributes`` with booleans as 1/0, except that numbers are kept whatever
    their length (the ``json`` fallback reads integers of any size)."""
    out: dict[str, str] = {}
    for key, value in record.items():
        if key in modelled:
            continue
        cls = value.__class__
        if cls is str:
            text = value.strip()
            if not text or len(text) > _MAX_ATTRIBUTE:
                continue
        elif cls is bool:
            text = "1" if value else "0"
        elif cls is int or cls is float:
            text = str(value)
        else:
            continue
        out[key] = text
    return out


# --- frigate/events ----------------------------------------------------------------------------


def _object_attributes(obj: Mapping[str, Any]) -> dict[str, str]:
    attributes = _scalars(obj, _OBJECT_MODELLED)
    box = _pixels(obj.get("box"))
    if box is not None:
        attributes["box"] = box
    zones = _zones(obj.get("entered_zones"))
    if zones:
        attributes["entered_zones"] = ",".join(zones)
    name, score = _sub_label(obj.get("sub_label"))
    if name is not None and len(name) <= _MAX_ATTRIBUTE:
        attributes["sub_label"] = name
        if score is not None:
            attributes["sub_label_score"] = f"{score:g}"
    return attributes


def _tracked_object(
    kind: str | None, document: Mapping[str, Any], raw: RawPayload, ctx: Context
) -> tuple[list[CanonicalEvent], str]:
    after = document.get("after")
    if not isinstance(after, dict):
        raise AdapterError("events message without an 'after' object")
    if kind is not None and kind not in _EVENT_TYPES:
        raise AdapterError(f"events message of unknown type {kind!r}")
    kind = kind or "update"
    before = document.get("before")
    previous: Mapping[str, Any] = before if isinstance(before, dict) and kind != "new" else {}
    if after.get("false_positive") is True:
        return [], "false positive"
    track = as_str(after.get("id"))
    if track is None:
        raise AdapterError("tracked object without an id")
    label = as_str(after.get("label"))

    # What is new since the last published state; most messages hold nothing new.
    read = as_str(after.get("recognized_license_plate"))
    if read is not None and read == as_str(previous.get("recognized_license_plate")):
        read = None
    name, score = _sub_label(after.get("sub_label")) if label in _FACE_LABELS else (None, None)
    if name is not None and name == _sub_label(previous.get("sub_label"))[0]:
        name = None
    known = _zones(previous.get("entered_zones"))
    entered = [z for z in dict.fromkeys(_zones(after.get("entered_zones"))) if z not in known]
    if read is None and name is None and not entered:
        return [], f"events {kind} with no new plate read, face or zone entry"

    device_id = _device(raw.key, as_str(after.get("camera")))
    attributes = _object_attributes(after)
    common = _common(device_id, track, _time(after, ("frame_time", "start_time"), raw), raw, ctx)
    events: list[CanonicalEvent] = []
    if read is not None:
        plate_common = common
        if after.get("recognized_license_plate_frame_time") is not None:
            read_at = _time(after, ("recognized_license_plate_frame_time",), raw)
            plate_common = {**common, "captured_at": read_at[0], "time_source": read_at[1]}
        events.append(
            _plate(
                device_id,
                track,
                read,
                unit(after.get("recognized_license_plate_score"), 1.0),
                None if label == "license_plate" else label,
                _thumbnail(after.get("thumbnail"), ImageKind.VEHICLE),
                dict(attributes),
                plate_common,
            )
        )
    if name is not None:
        face_attributes = dict(attributes)
        face_box = _face_box(after.get("current_attributes"))
        if face_box is not None:
            face_attributes["face_box"] = face_box
        kind_of_image = ImageKind.FACE if label == "face" else ImageKind.BODY
        events.append(
            _face(
                device_id,
                track,
                name,
                score,
                _thumbnail(after.get("thumbnail"), kind_of_image),
                face_attributes,
                common,
            )
        )
    confidence = unit(after.get("score"), 1.0)
    for zone in entered:
        events.append(
            construct(
                Alarm,
                dict(
                    event_id=event_id("alarm", SOURCE, device_id, track, "zone", zone),
                    **common,
                    confidence=confidence,
                    attributes=dict(attributes),
                    alarm_type=AlarmType.REGION_ENTRANCE,
                    state=AlarmState.PULSE,
                    vendor_event_type=f"events:{kind}",
                    rule_name=zone,
                    target_type=label,
                ),
            )
        )
    return events, ""


def _face_box(value: Any) -> str | None:
    if not isinstance(value, list):
        return None
    for item in value:
        if isinstance(item, dict) and item.get("label") == "face":
            return _pixels(item.get("box"))
    return None


def _plate(
    device_id: str,
    track: str,
    read: str,
    confidence: float | None,
    vehicle_type: str | None,
    images: list[ImageRef],
    attributes: dict[str, str],
    common: dict[str, object],
) -> PlateCapture:
    return construct(
        PlateCapture,
        dict(
            event_id=event_id("plate", SOURCE, device_id, track, read),
            **common,
            images=images,
            confidence=confidence,
            attributes=attributes,
            plate_number=canonical_plate(read),
            plate_raw=read,
            vehicle_type=vehicle_type,
        ),
    )


def _face(
    device_id: str,
    track: str,
    name: str,
    score: float | None,
    images: list[ImageRef],
    attributes: dict[str, str],
    common: dict[str, object],
) -> FaceCapture:
    return construct(
        FaceCapture,
        dict(
            event_id=event_id("face", SOURCE, device_id, track, name),
            **common,
            images=images,
            confidence=score,
            attributes=attributes,
            track_id=track,
        ),
    )


# --- frigate/tracked_object_update -------------------------------------------------------------


def _update_track(document: Mapping[str, Any], raw: RawPayload) -> tuple[str, str]:
    track = as_str(document.get("id"))
    if track is None:
        raise AdapterError(f"{document.get('type')} update without an id")
    return track, _device(raw.key, as_str(document.get("camera")))


def _lpr_update(
    document: Mapping[str, Any], raw: RawPayload, ctx: Context
) -> tuple[list[CanonicalEvent], str]:
    read = as_str(document.get("plate"))
    if read is None:
        return [], "lpr update without a plate (no vehicle left on the camera)"
    track, device_id = _update_track(document, raw)
    captured = _time(document, ("recognized_license_plate_frame_time", "timestamp"), raw)
    attributes = _scalars(document, _UPDATE_MODELLED)
    box = _pixels(document.get("plate_box"))
    if box is not None:
        attributes["plate_box"] = box
    plate = _plate(
        device_id,
        track,
        read,
        unit(document.get("score"), 1.0),
        None,
        [],
        attributes,
        _common(device_id, track, captured, raw, ctx),
    )
    return [plate], ""


def _face_update(
    document: Mapping[str, Any], raw: RawPayload, ctx: Context
) -> tuple[list[CanonicalEvent], str]:
    name = as_str(document.get("name"))
    if name is None:
        return [], "face update without a name"
    track, device_id = _update_track(document, raw)
    captured = _time(document, ("timestamp",), raw)
    attributes = _scalars(document, _UPDATE_MODELLED)
    face = _face(
        device_id,
        track,
        name,
        unit(document.get("score"), 1.0),
        [],
        attributes,
        _common(device_id, track, captured, raw, ctx),
    )
    return [face], ""
