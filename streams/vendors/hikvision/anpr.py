"""Plate reads: any alert carrying an ``<ANPR>`` block, whatever its eventType.

Event id: with ``UUID``, (UUID, dateTime). ISAPI documents the UUID as shared by every snapshot
of the same vehicle, so it is ``pass_group`` too and each snapshot keeps its own id; a re-push
(``isDataRetransmission``) keeps it. Without UUID: (device, channel, absTime or dateTime,
plate as read).

Plate colour: ``plateColor`` by name or HCNetSDK code, else ``plateColorByGAT`` (a GA/T 1400
code), else the colour prefix of a Chinese read (``蓝浙AX2P12``).
"""

from __future__ import annotations

from typing import Any

from streams.canonical import ImageKind, PlateCapture, PlateColor
from streams.canonical.models import construct
from streams.domain.plates import canonical_plate, canonical_plate_color
from streams.vendors.common import as_float, as_str
from streams.vendors.hikvision.attributes import ENVELOPE, NEVER, flatten, names
from streams.vendors.hikvision.boxes import fraction_box, mille_box
from streams.vendors.hikvision.envelope import SOURCE, Envelope, common_fields
from streams.vendors.hikvision.images import PictureRef, kind_of, url_ref
from streams.vendors.hikvision.times import captured_at
from streams.vendors.hikvision.values import (
    Record,
    as_record,
    bounded,
    confidence,
    known,
    listed,
    lower,
    short,
)

_MAX_PLATE = 64

# HCNetSDK-style colour prefixes on Chinese reads ("蓝浙AX2P12"), longest first.
_PLATE_PREFIX_COLORS = (
    ("渐变绿", PlateColor.GREEN),
    ("黄绿", PlateColor.YELLOW_GREEN),
    ("蓝", PlateColor.BLUE),
    ("黄", PlateColor.YELLOW),
    ("白", PlateColor.WHITE),
    ("黑", PlateColor.BLACK),
    ("绿", PlateColor.GREEN),
)

_ANPR_BLOCK = NEVER | names(
    "licensePlate confidenceLevel plateColor line lane laneNo direction vehicleType"
    " pictureInfoList Rect absTime vehicleInfo VehicleGATInfo"
)
_VEHICLE_INFO = NEVER | names("color speed vehicleLogoRecog")


def picture_hints(anpr: Record) -> dict[str, ImageKind]:
    """What each picture in the ANPR picture list shows, by fileName and pId."""
    hints: dict[str, ImageKind] = {}
    for picture in listed(anpr.get("pictureInfoList"), "pictureInfo"):
        kind = kind_of(as_str(picture.get("type")), as_str(picture.get("fileName")))
        if kind is None:
            continue
        for key in ("fileName", "pId"):
            name = as_str(picture.get(key))
            if name:
                hints[name] = kind
    return hints


def plate_capture(doc: Record, anpr: Record, env: Envelope, refs: list[PictureRef]) -> PlateCapture:
    """The plate read of an alert with its ``<ANPR>`` block and pictures."""
    gat = as_record(doc.get("VehicleGATInfo")) or as_record(anpr.get("VehicleGATInfo"))
    vehicle = as_record(anpr.get("vehicleInfo"))
    pictures = listed(anpr.get("pictureInfoList"), "pictureInfo")
    plate_raw = as_str(anpr.get("licensePlate")) or as_str(anpr.get("originalLicensePlate"))
    if plate_raw is not None and len(plate_raw) > _MAX_PLATE:
        plate_raw = plate_raw[:_MAX_PLATE]  # ISAPI allows 32; longer is garbage, kept in part
    date_time = as_str(doc.get("dateTime"))
    abs_time = as_str(anpr.get("absTime"))
    if abs_time is None:
        abs_time = next((t for p in pictures if (t := as_str(p.get("absTime")))), None)
    captured = captured_at(env, (date_time,), abs_time)
    uuid = short(doc.get("UUID")) or short(doc.get("uuid"))
    if uuid is not None:
        identity: tuple[object, ...] = (uuid, date_time or abs_time or "")
    else:
        moment = abs_time or date_time or captured[0].isoformat()
        identity = (env.device_id, env.channel, moment, plate_raw)

    sizes = {key: ref.size for ref in refs for key in ref.keys}
    plate_box = vehicle_box = None
    ordered = sorted(pictures, key=lambda p: lower(p.get("type")) != "detectionpicture")
    for picture in ordered:
        size = sizes.get(as_str(picture.get("fileName")) or "", (None, None))
        if plate_box is None:
            plate_box = mille_box(as_record(picture.get("plateRect")), size)
        if vehicle_box is None:
            vehicle_box = mille_box(as_record(picture.get("vehicelRect")), size)
    if plate_box is None:
        plate_box = fraction_box(as_record(anpr.get("Rect")))

    images = [r.ref for r in refs]
    for picture in pictures:
        if picture.get("pictureURL"):
            kind = kind_of(as_str(picture.get("type"))) or ImageKind.OTHER
            url = url_ref(picture.get("pictureURL"), kind)
            if url is not None:
                images.append(url)

    attributes = flatten(doc, ENVELOPE, "", dict(env.attributes))
    flatten(anpr, _ANPR_BLOCK, "", attributes)
    flatten(vehicle, _VEHICLE_INFO, "vehicleInfo.", attributes)
    flatten(gat, NEVER, "VehicleGATInfo.", attributes)

    speed = as_float(vehicle.get("speed"))
    if speed is None:
        speed = as_float(anpr.get("speed"))
    lane = bounded(anpr.get("line"))
    if lane is None:
        lane = bounded(anpr.get("lane"))
    if lane is None:
        lane = bounded(anpr.get("laneNo"))
    event = common_fields(env, "plate", identity, uuid, captured, images, attributes)
    event.update(
        confidence=confidence(anpr.get("confidenceLevel")),
        bbox=vehicle_box,
        plate_number=canonical_plate(plate_raw),
        plate_raw=plate_raw,
        plate_color=_plate_color(anpr, gat, plate_raw),
        plate_class=known(gat.get("palteTypeByGAT"))
        or known(gat.get("plateTypeByGAT"))
        or known(anpr.get("plateType")),
        plate_bbox=plate_box,
        vehicle_color=(known(vehicle.get("color")) or "").lower() or None,
        vehicle_type=known(gat.get("vehicleTypeByGAT")) or known(anpr.get("vehicleType")),
        vehicle_brand=_brand(vehicle.get("vehicleLogoRecog")),
        lane=lane,
        direction=known(anpr.get("direction")),
        speed_kmh=speed if speed is not None and speed >= 0 else None,
        pass_group=uuid,
    )
    return construct(PlateCapture, event)


def _plate_color(anpr: Record, gat: Record, plate_raw: str | None) -> PlateColor:
    text = as_str(anpr.get("plateColor"))
    color = PlateColor.UNKNOWN
    if text:
        color = canonical_plate_color(text, SOURCE)
    if color is PlateColor.UNKNOWN:
        code = as_str(gat.get("plateColorByGAT"))
        if code:
            color = canonical_plate_color(code, "gat1400")
    if color is PlateColor.UNKNOWN and plate_raw:
        for prefix, prefixed in _PLATE_PREFIX_COLORS:
            if plate_raw.startswith(prefix):
                return prefixed
    return color


def _brand(value: Any) -> str | None:
    text = known(value)
    return None if text is None or text == "0" else text
