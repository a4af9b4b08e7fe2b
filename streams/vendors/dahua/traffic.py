"""``Traffic*`` records with a ``TrafficCar`` object -> :class:`PlateCapture`.

``plate_bbox`` is the ``Object`` box when the object is the plate; ``bbox`` is the vehicle box
(``Vehicle.BoundingBox`` or ``TrafficCar.VehicleBoundingBox``), else the plate box.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.canonical import ImageRef, PlateCapture
from streams.canonical.models import construct
from streams.domain.plates import canonical_plate, canonical_plate_color
from streams.vendors.base import Context
from streams.vendors.common import as_float, as_int, as_str, event_id
from streams.vendors.dahua.identity import COMMON_KEYS, SOURCE, Identity
from streams.vendors.dahua.values import as_dict, attributes, box, confidence, term

_PLATE_KEYS = COMMON_KEYS | {"Lane", "Speed", "TrafficCar", "Object", "Vehicle", "CommInfo"}
_CAR_KEYS = frozenset(
    {
        "PlateNumber",
        "PlateColor",
        "PlateType",
        "VehicleColor",
        "VehicleType",
        "Lane",
        "Speed",
        "GroupID",
        "IndexInGroup",
        "DrivingDirection",
        "VehicleBoundingBox",
        "UTC",
    }
)


def plate_capture(
    data: Mapping[str, Any],
    car: Mapping[str, Any],
    identity: Identity,
    images: list[ImageRef],
    ctx: Context,
) -> PlateCapture:
    obj = as_dict(data.get("Object"))
    vehicle = as_dict(data.get("Vehicle"))
    comm_info = as_dict(data.get("CommInfo"))
    plate_raw = as_str(car.get("PlateNumber"))
    object_is_plate = (as_str(obj.get("ObjectType")) or "Plate").lower() == "plate"
    if plate_raw is None and object_is_plate:
        plate_raw = as_str(obj.get("Text"))
    plate_box = box(obj.get("BoundingBox")) if object_is_plate else None
    vehicle_box = box(vehicle.get("BoundingBox"))
    if vehicle_box is None:
        vehicle_box = box(car.get("VehicleBoundingBox"))
    color = car.get("PlateColor")
    lane = as_int(car.get("Lane"))
    if lane is None:
        lane = as_int(data.get("Lane"))
    speed = as_float(car.get("Speed"))
    if speed is None:
        speed = as_float(data.get("Speed"))
    driving = car.get("DrivingDirection")
    direction = as_str(driving[0]) if isinstance(driving, list) and driving else as_str(driving)
    group = as_str(data.get("GroupID")) or as_str(car.get("GroupID"))
    vehicle_color = term(car.get("VehicleColor"))
    leftover = attributes({"Code": identity.code, **identity.extra}, data, _PLATE_KEYS)
    attributes(leftover, car, _CAR_KEYS, "TrafficCar.")
    attributes(leftover, comm_info, frozenset(), "CommInfo.")
    return construct(
        PlateCapture,
        dict(
            event_id=event_id("plate", SOURCE, *identity.key),
            **identity.fields(data, ctx),
            images=list(images),
            confidence=confidence(obj.get("Confidence")) if object_is_plate else None,
            bbox=vehicle_box if vehicle_box is not None else plate_box,
            attributes=leftover,
            plate_number=canonical_plate(plate_raw),
            plate_raw=plate_raw,
            plate_color=canonical_plate_color(
                color if isinstance(color, int) else as_str(color), SOURCE
            ),
            plate_class=term(car.get("PlateType")),
            plate_bbox=plate_box,
            vehicle_color=None if vehicle_color is None else vehicle_color.lower(),
            vehicle_type=term(vehicle.get("Category"))
            or term(car.get("VehicleType"))
            or term(comm_info.get("StandardVehicleType")),
            vehicle_brand=term(vehicle.get("Text")) or term(car.get("VehicleSign")),
            lane=lane,
            direction=direction,
            speed_kmh=speed,
            pass_group=group,
        ),
    )
