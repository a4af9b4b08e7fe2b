"""Structure notifications: ``VehicleInfoList[]`` -> :class:`PlateCapture`, ``FaceInfoList[]`` ->
:class:`FaceCapture`; each record is checked on its own, a bad one rejected alone.

Vehicles use ``PassTime`` (local, in the device's zone), else the notification ``TimeStamp``;
faces use ``TimeStamp``, else ``AppearTime``; none -> the receive time. Person and non-motor
lists have no canonical kind and are skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.canonical import (
    FaceCapture,
    Gender,
    ImageKind,
    PlateCapture,
    Presence,
    TimeProvenance,
)
from streams.canonical.models import construct
from streams.domain.plates import canonical_plate, canonical_plate_color
from streams.vendors.base import AdapterError, Context, Normalized, RawPayload, Rejected
from streams.vendors.common import as_float, as_int, as_str, event_id, position_of
from streams.vendors.json_body import dump_record
from streams.vendors.uniview.codes import COLOR, VEHICLE_TYPE
from streams.vendors.uniview.identity import SOURCE, local_time, optional_time
from streams.vendors.uniview.notification import (
    ATTACH,
    Notification,
    read_notification,
)
from streams.vendors.uniview.values import as_dict, attributes, box, code, confidence, items

_VEHICLE_KEYS = frozenset(
    {
        "ID",
        "Position",
        "Confidence",
        *ATTACH,
        "PassTime",
        "AppearTime",
        "DisAppearTime",
        "Feature",
        "PlateAttributeInfo",
        "VehicleAttributeInfo",
        "LaneID",
        "LaneNo",
        "Lane",
        "Direction",
        "DrivingDirection",
        "Speed",
    }
)
_PLATE_ATTR_KEYS = frozenset({"PlateNo", "Color", "Type", "PlateType", "Position", "Confidence"})
_VEHICLE_ATTR_KEYS = frozenset({"Color", "Type", "VehicleBrand", "Brand", "Speed"})
_FACE_KEYS = frozenset(
    {
        "FaceID",
        "Position",
        "Confidence",
        *ATTACH,
        "AppearTime",
        "DisAppearTime",
        "Feature",
        "AttributeInfo",
    }
)


def read_structure(
    document: Mapping[str, Any],
    structure: Mapping[str, Any],
    raw: RawPayload,
    ctx: Context,
    result: Normalized,
) -> None:
    """Adds the notification's captures, rejections or skip reason to ``result``."""
    objects = as_dict(structure.get("ObjInfo"))
    vehicles = items(objects.get("VehicleInfoList"))
    faces = items(objects.get("FaceInfoList"))
    if not vehicles and not faces:
        others = [
            name
            for name in ("PersonInfoList", "NonMotorVehicleInfoList")
            if items(objects.get(name))
        ]
        if others:
            result.skipped = f"only {', '.join(others)} records, which are not modelled"
        else:
            result.skipped = "structure notification without vehicle or face records"
        return
    try:
        note = read_notification(document, structure, raw, ctx)
    except AdapterError as exc:
        for kind, entries in (("vehicle", vehicles), ("face", faces)):
            for item in entries:
                result.rejected.append(_rejected(kind, exc, item))
        return
    total = len(vehicles) + len(faces)
    for position, item in enumerate(vehicles):
        try:
            result.events.append(_plate(item, position, total, note, raw, ctx))
        except AdapterError as exc:
            result.rejected.append(_rejected("vehicle", exc, item))
    for position, item in enumerate(faces):
        try:
            result.events.append(_face(item, position, total, note, raw, ctx))
        except AdapterError as exc:
            result.rejected.append(_rejected("face", exc, item))


def _rejected(kind: str, exc: AdapterError, item: Any) -> Rejected:
    """A record that failed, as JSON again."""
    return Rejected(f"{kind} record: {exc}", dump_record(item))


def _common(
    record: dict[str, Any],
    id_field: str,
    captured: tuple[Any, TimeProvenance] | None,
    image_kind: ImageKind,
    total: int,
    note: Notification,
    ctx: Context,
) -> dict[str, Any]:
    """The fields a vehicle and a face record fill alike."""
    captured_at, provenance = (
        captured if captured is not None else (note.received_at, TimeProvenance.RECEIVED)
    )
    return {
        "source": SOURCE,
        "source_event_id": as_str(record.get(id_field)),
        "device_id": note.device_id,
        "channel": note.channel,
        "captured_at": captured_at,
        "received_at": note.received_at,
        "time_source": provenance,
        "position": position_of(note.device_id, ctx),
        "images": note.images_of(record, image_kind, total),
        "confidence": confidence(record.get("Confidence")),
        "bbox": box(record.get("Position")),
    }


def _plate(
    record: Any, position: int, total: int, note: Notification, raw: RawPayload, ctx: Context
) -> PlateCapture:
    if not isinstance(record, dict):
        raise AdapterError("VehicleInfo is not an object")
    plate = as_dict(record.get("PlateAttributeInfo"))
    vehicle = as_dict(record.get("VehicleAttributeInfo"))
    captured = local_time(record.get("PassTime"), note.zone, raw) or note.time()
    plate_raw = as_str(plate.get("PlateNo"))
    color = plate.get("Color")
    color_code = code(color)
    vehicle_color = code(vehicle.get("Color"))
    vehicle_type = code(vehicle.get("Type"))
    lane = as_int(record.get("LaneID"))
    if lane is None:
        lane = as_int(record.get("LaneNo", record.get("Lane")))
    speed = as_float(vehicle.get("Speed"))
    if speed is None:
        speed = as_float(record.get("Speed"))
    leftover = attributes({}, record, _VEHICLE_KEYS)
    attributes(leftover, plate, _PLATE_ATTR_KEYS, "PlateAttributeInfo.")
    attributes(leftover, vehicle, _VEHICLE_ATTR_KEYS, "VehicleAttributeInfo.")
    key = note.key("vehicle", record, "ID", position)
    return construct(
        PlateCapture,
        dict(
            event_id=event_id("plate", SOURCE, *key, as_str(record.get("PassTime")) or ""),
            **_common(record, "ID", captured, ImageKind.VEHICLE, total, note, ctx),
            attributes=leftover,
            plate_number=canonical_plate(plate_raw),
            plate_raw=plate_raw,
            plate_color=canonical_plate_color(
                color_code if color_code is not None else as_str(color), SOURCE
            ),
            plate_class=as_str(plate.get("Type")) or as_str(plate.get("PlateType")),
            plate_bbox=box(plate.get("Position")),
            vehicle_color=COLOR.get(vehicle_color) if vehicle_color is not None else None,
            vehicle_type=VEHICLE_TYPE.get(vehicle_type) if vehicle_type is not None else None,
            vehicle_brand=as_str(vehicle.get("VehicleBrand")) or as_str(vehicle.get("Brand")),
            lane=lane,
            direction=as_str(record.get("Direction")) or as_str(record.get("DrivingDirection")),
            speed_kmh=speed,
            pass_group=None,
        ),
    )


def _face(
    record: Any, position: int, total: int, note: Notification, raw: RawPayload, ctx: Context
) -> FaceCapture:
    if not isinstance(record, dict):
        raise AdapterError("FaceInfo is not an object")
    captured = note.time() or local_time(record.get("AppearTime"), note.zone, raw)
    leftover = attributes({}, record, _FACE_KEYS)
    attributes(leftover, as_dict(record.get("AttributeInfo")), frozenset(), "AttributeInfo.")
    key = note.key("face", record, "FaceID", position)
    return construct(
        FaceCapture,
        dict(
            event_id=event_id("face", SOURCE, *key),
            **_common(record, "FaceID", captured, ImageKind.FACE, total, note, ctx),
            attributes=leftover,
            track_id=as_str(record.get("FaceID")),
            quality=None,
            gender=Gender.UNKNOWN,
            age_min=None,
            age_max=None,
            glasses=Presence.UNKNOWN,
            mask=Presence.UNKNOWN,
            embedding=None,
            appeared_at=optional_time(record.get("AppearTime"), note.zone, raw),
            disappeared_at=optional_time(record.get("DisAppearTime"), note.zone, raw),
        ),
    )
