"""GA/T 1400 (视图库) JSON: motor vehicles and faces, pushed directly or by subscription notify.

Direct push wraps records as ``MotorVehicleListObject.MotorVehicleObject[]`` and
``FaceListObject.FaceObject[]``; a platform cascade notifies with
``SubscribeNotificationListObject.SubscribeNotificationObject[]`` whose lists are named
differently (``MotorVehicleObjectList``, ``FaceObjectList``). Times are local (Beijing by
convention, else the device's zone) without an offset. Records are checked one by one: a bad
record is rejected on its own and the others still become events.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from streams.canonical import (
    FaceCapture,
    Gender,
    ImageKind,
    ImageRef,
    PlateCapture,
    Presence,
    TimeProvenance,
)
from streams.canonical.models import construct
from streams.domain.plates import canonical_plate, canonical_plate_color
from streams.domain.vendor_time import VendorTimeError, parse_compact
from streams.vendors.base import AdapterError, Context, Normalized, RawPayload, Rejected
from streams.vendors.common import (
    as_float,
    as_int,
    as_str,
    box_from_corners,
    device_id_from,
    event_id,
    inline_image,
    leftover_attributes,
    position_of,
    received_fallback,
    unit,
    url_image,
)
from streams.vendors.json_body import dump_record, load_json, rounded_id

SOURCE = "gat1400"

# SubImageInfoObject.Type -> what the image shows (GA/T 1400.3 image type codes).
_IMAGE_KIND = {
    "01": ImageKind.VEHICLE,
    "02": ImageKind.PLATE,
    "03": ImageKind.PLATE,
    "04": ImageKind.FACE,
    "05": ImageKind.FACE,
    "06": ImageKind.VEHICLE,
    "07": ImageKind.COMPOSITE,
    "08": ImageKind.COMPOSITE,
    "09": ImageKind.VEHICLE,
    "10": ImageKind.BODY,
    "11": ImageKind.FACE,
    "12": ImageKind.VEHICLE,
    "13": ImageKind.OTHER,
    "14": ImageKind.SCENE,
}
# Images whose pixel space the record's LeftTopX/RightBtmX boxes refer to.
_SCENE_TYPES = ("14", "01", "09", "10")
_STORAGE_URLS = (
    ("StorageUrl1", ImageKind.VEHICLE),
    ("StorageUrl2", ImageKind.PLATE),
    ("StorageUrl3", ImageKind.SCENE),
    ("StorageUrl4", ImageKind.COMPOSITE),
    ("StorageUrl5", ImageKind.OTHER),
)
# ColorType codes (GA/T 1400.3) for vehicle colours.
_COLOR = {
    "1": "black",
    "2": "white",
    "3": "grey",
    "4": "red",
    "5": "blue",
    "6": "yellow",
    "7": "orange",
    "8": "brown",
    "9": "green",
    "10": "purple",
    "11": "cyan",
    "12": "pink",
    "13": "transparent",
    "99": "other",
}
_GENDER = {"1": Gender.MALE, "2": Gender.FEMALE}
_NO_PLATE = ("0", "false", "no")

_VEHICLE_FIELDS = frozenset(
    {
        "MotorVehicleID",
        "DeviceID",
        "PlateNo",
        "PlateColor",
        "PlateClass",
        "HasPlate",
        "VehicleColor",
        "VehicleClass",
        "VehicleBrand",
        "LaneNo",
        "Direction",
        "Speed",
        "PassTime",
        "MarkTime",
        "AppearTime",
        "DisappearTime",
        "PlateReliability",
        "LeftTopX",
        "LeftTopY",
        "RightBtmX",
        "RightBtmY",
        "SubImageList",
        "FeatureList",
        *(name for name, _kind in _STORAGE_URLS),
    }
)
_FACE_FIELDS = frozenset(
    {
        "FaceID",
        "DeviceID",
        "ShotTime",
        "FaceAppearTime",
        "FaceDisAppearTime",
        "LocationMarkTime",
        "GenderCode",
        "AgeLowerLimit",
        "AgeUpLimit",
        "GlassStyle",
        "GlassColor",
        "RespiratorColor",
        "LeftTopX",
        "LeftTopY",
        "RightBtmX",
        "RightBtmY",
        "SubImageList",
        "FeatureList",
        "Similaritydegree",
    }
)


# Ids sent as bare numbers of 20+ digits exceed 64 bits, and orjson reads them as lossy floats;
# such (rare) bodies are read again with the exact standard parser.
_ID_FIELDS = ("MotorVehicleID", "FaceID", "DeviceID", "SourceID", "TollgateID")


def normalize_gat1400(raw: RawPayload, ctx: Context) -> Normalized:
    document = load_json(raw.body)
    if not isinstance(document, dict):
        raise AdapterError("body is not a JSON object")
    if any(rounded_id(record, _ID_FIELDS) for _kind, record in _records(document)):
        # Not exact_json: a body the standard parser cannot read fails here, as it always has.
        document = json.loads(raw.body)
    result = Normalized()
    found = False
    for kind, record in _records(document):
        found = True
        try:
            if kind == "vehicle":
                result.events.append(_plate(record, raw, ctx))
            else:
                result.events.append(_face(record, raw, ctx))
        except AdapterError as exc:
            result.rejected.append(Rejected(f"{kind} record: {exc}", dump_record(record)))
    if not found:
        if _is_control(document):
            result.skipped = f"control message {next(iter(document))}"
        else:
            names = ", ".join(sorted(str(k) for k in document)[:5]) or "nothing"
            raise AdapterError(f"no MotorVehicle or Face records (top-level keys: {names})")
    return result


def _is_control(document: Mapping[str, Any]) -> bool:
    control = (
        "RegisterObject",
        "UnRegisterObject",
        "KeepaliveObject",
        "SystemTimeObject",
        "ResponseStatusObject",
        "ResponseStatusListObject",
        "SubscribeListObject",
        "NonMotorVehicleListObject",
        "PersonListObject",
        "ImageListObject",
        "APEListObject",
    )
    return any(key in document for key in control)


def _items(container: Any, name: str) -> list[Any]:
    if not isinstance(container, dict):
        return []
    items = container.get(name)
    if isinstance(items, dict):  # a single object where a list was due
        return [items]
    return items if isinstance(items, list) else []


def _records(document: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for item in _items(document.get("MotorVehicleListObject"), "MotorVehicleObject"):
        yield "vehicle", item
    for item in _items(document.get("FaceListObject"), "FaceObject"):
        yield "face", item
    notifications = _items(
        document.get("SubscribeNotificationListObject"), "SubscribeNotificationObject"
    )
    for note in notifications:
        if not isinstance(note, dict):
            continue
        for name in ("MotorVehicleObjectList", "MotorVehicleListObject"):
            for item in _items(note.get(name), "MotorVehicleObject"):
                yield "vehicle", item
        for name in ("FaceObjectList", "FaceListObject"):
            for item in _items(note.get(name), "FaceObject"):
                yield "face", item


def _images(record: Mapping[str, Any]) -> tuple[list[ImageRef], float | None, float | None]:
    """Image references, and the pixel size of the scene image that boxes refer to."""
    images: list[ImageRef] = []
    width = height = None
    subs = _items(record.get("SubImageList"), "SubImageInfoObject")
    for sub in subs:
        if not isinstance(sub, dict):
            continue
        code = (as_str(sub.get("Type")) or "").zfill(2)
        kind = _IMAGE_KIND.get(code, ImageKind.OTHER)
        ref = url_image(sub.get("StoragePath"), kind, sub.get("Width"), sub.get("Height"))
        if ref is None and sub.get("Data"):
            ref = inline_image(sub["Data"], kind, sub.get("Width"), sub.get("Height"))
        if ref is not None:
            images.append(ref)
        if width is None and code in _SCENE_TYPES:
            width, height = as_float(sub.get("Width")), as_float(sub.get("Height"))
    for name, kind in _STORAGE_URLS:
        url = record.get(name)
        if url:
            ref = url_image(url, kind)
            if ref is not None and all(ref.url != i.url for i in images):
                images.append(ref)
    return images, width, height


def _time(text: Any, zone: Any, raw: RawPayload) -> tuple[Any, TimeProvenance] | None:
    value = as_str(text)
    if value is None:
        return None
    try:
        return parse_compact(value, zone, now=raw.received_at)
    except VendorTimeError as exc:
        raise AdapterError(str(exc)) from None


def _captured(
    record: Mapping[str, Any], names: tuple[str, ...], zone: Any, raw: RawPayload
) -> tuple[Any, TimeProvenance]:
    for name in names:
        found = _time(record.get(name), zone, raw)
        if found is not None:
            return found
    return received_fallback(raw.received_at), TimeProvenance.RECEIVED


def _header(
    kind: str,
    record: Any,
    id_field: str,
    time_fields: tuple[str, ...],
    raw: RawPayload,
    ctx: Context,
    fields: frozenset[str],
    *identity_extra: Any,
) -> tuple[dict[str, Any], Any]:
    """Fields every canonical event has, and the record's zone."""
    if not isinstance(record, dict):
        raise AdapterError("record is not an object")
    device_id = device_id_from(SOURCE, record.get("DeviceID"), raw.key)
    zone = ctx.zone_for(device_id)
    captured_at, provenance = _captured(record, time_fields, zone, raw)
    source_id = as_str(record.get(id_field))
    identity = (source_id,) if source_id else (device_id, captured_at.isoformat(), *identity_extra)
    images, width, height = _images(record)
    header = {
        "event_id": event_id(kind, SOURCE, *identity),
        "source": SOURCE,
        "source_event_id": source_id,
        "device_id": device_id,
        "captured_at": captured_at,
        "received_at": received_fallback(raw.received_at),
        "time_source": provenance,
        "position": position_of(device_id, ctx),
        "images": images,
        "bbox": box_from_corners(
            record.get("LeftTopX"),
            record.get("LeftTopY"),
            record.get("RightBtmX"),
            record.get("RightBtmY"),
            width,
            height,
        ),
        "attributes": leftover_attributes(record, fields),
    }
    return header, zone


def _plate(record: Any, raw: RawPayload, ctx: Context) -> PlateCapture:
    plate_raw = as_str(record.get("PlateNo")) if isinstance(record, dict) else None
    header, _zone = _header(
        "plate",
        record,
        "MotorVehicleID",
        ("PassTime", "MarkTime", "AppearTime"),
        raw,
        ctx,
        _VEHICLE_FIELDS,
        plate_raw,
    )
    has_plate = (as_str(record.get("HasPlate")) or "1").lower() not in _NO_PLATE
    color_code = record.get("PlateColor")
    vehicle_color = as_str(record.get("VehicleColor"))
    header.update(
        confidence=unit(record.get("PlateReliability"), 100.0),
        plate_number=canonical_plate(plate_raw) if has_plate else None,
        plate_raw=plate_raw,
        plate_color=canonical_plate_color(
            color_code if isinstance(color_code, int) else as_str(color_code), SOURCE
        ),
        plate_class=as_str(record.get("PlateClass")),
        vehicle_color=_COLOR.get(vehicle_color or "", vehicle_color),
        vehicle_type=as_str(record.get("VehicleClass")),
        vehicle_brand=as_str(record.get("VehicleBrand")),
        lane=as_int(record.get("LaneNo")),
        direction=as_str(record.get("Direction")),
        speed_kmh=as_float(record.get("Speed")),
    )
    return construct(PlateCapture, header)


def _presence(*values: Any) -> Presence:
    """GA/T style fields: a style/colour code means present, 99/empty means unknown."""
    texts = [as_str(v) for v in values]
    known = [t for t in texts if t is not None and t not in ("99", "-1")]
    if not known:
        return Presence.UNKNOWN
    return Presence.NO if all(t == "0" for t in known) else Presence.YES


def _age(value: Any) -> int | None:
    age = as_int(value)
    return age if age is not None and 0 <= age <= 150 else None


def _face(record: Any, raw: RawPayload, ctx: Context) -> FaceCapture:
    header, zone = _header(
        "face",
        record,
        "FaceID",
        ("ShotTime", "FaceAppearTime", "LocationMarkTime"),
        raw,
        ctx,
        _FACE_FIELDS,
    )
    appeared = _time(record.get("FaceAppearTime"), zone, raw)
    disappeared = _time(record.get("FaceDisAppearTime"), zone, raw)
    header.update(
        confidence=unit(record.get("Similaritydegree"), 100.0),
        gender=_GENDER.get(as_str(record.get("GenderCode")) or "", Gender.UNKNOWN),
        age_min=_age(record.get("AgeLowerLimit")),
        age_max=_age(record.get("AgeUpLimit")),
        glasses=_presence(record.get("GlassStyle"), record.get("GlassColor")),
        mask=_presence(record.get("RespiratorColor")),
        appeared_at=appeared[0] if appeared else None,
        disappeared_at=disappeared[0] if disappeared else None,
    )
    return construct(FaceCapture, header)
