"""Plate captures: scene-description objects with ``LicensePlateInfo``, and plate-read events.

In a frame, ``PlateNumber`` is ``plate_raw`` (its ``Likelihood`` the confidence), ``PlateType``
``plate_class``, ``CountryCode``/``IssuingEntity`` attributes. When the object is the plate (class
``LicensePlate``, or no class and no ``VehicleInfo``) its box is ``plate_bbox`` and the box and
``VehicleInfo`` of its ``Parent`` object in the same frame give the vehicle; otherwise the object
is the vehicle and its box is ``bbox``. ``Behaviour/Speed`` is m/s.

A ``RuleEngine/Recognition/LicensePlate`` event is a plate read from its ``LicensePlateInfo``
element item (or a ``PlateNumber`` simple item).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from streams.canonical import BoundingBox, ImageKind, ImageRef, PlateCapture
from streams.canonical.models import construct
from streams.domain.plates import canonical_plate, canonical_plate_color
from streams.vendors.base import AdapterError
from streams.vendors.common import as_str, event_id, inline_image, leftover_attributes
from streams.vendors.onvif.boxes import IDENTITY, compose_transform, rectangle_box
from streams.vendors.onvif.envelope import SOURCE
from streams.vendors.onvif.frame import (
    FrameContext,
    appearance_images,
    appearance_part,
    object_class,
)
from streams.vendors.onvif.messages import IMAGE_ITEMS, Message, message_images
from streams.vendors.onvif.values import (
    element_text,
    find_path,
    finite_number,
    first_item,
    likelihood,
)

_MS_TO_KMH = 3.6
_MAX_SPEED_MS = 300.0  # beyond this a "speed" is not a vehicle's


def _vehicle(info: ET.Element | None) -> tuple[str | None, str | None, str | None, str | None]:
    """Type, brand, colour (lower-cased term) and model of a ``VehicleInfo``."""
    if info is None:
        return None, None, None, None
    colour = element_text(info.find("Color"))
    return (
        element_text(info.find("Type")),
        element_text(info.find("Brand")),
        colour.lower() if colour is not None else None,
        element_text(info.find("Model")),
    )


def _plate_fields(
    plate_info: ET.Element | None, plate_text: str | None
) -> tuple[dict[str, object], dict[str, str | None], list[ImageRef]]:
    """PlateCapture fields, extra attributes and images from a ``LicensePlateInfo``."""
    number = plate_info.find("PlateNumber") if plate_info is not None else None
    plate_raw = element_text(number) if number is not None else plate_text
    colour = element_text(plate_info.find("Color")) if plate_info is not None else None
    fields: dict[str, object] = dict(
        plate_number=canonical_plate(plate_raw),
        plate_raw=plate_raw,
        plate_color=canonical_plate_color(colour, SOURCE),
        plate_class=element_text(plate_info.find("PlateType")) if plate_info is not None else None,
        confidence=likelihood(number.get("Likelihood")) if number is not None else None,
    )
    extra: dict[str, str | None] = {}
    images: list[ImageRef] = []
    if plate_info is not None:
        extra["plate_country"] = element_text(plate_info.find("CountryCode"))
        extra["plate_issuing_entity"] = element_text(plate_info.find("IssuingEntity"))
        data = element_text(plate_info.find("Image"))
        if data is not None:
            images.append(inline_image(data, ImageKind.PLATE))
    return fields, extra, images


def _kmh(metres_per_second: float | None) -> float | None:
    if metres_per_second is None or not 0 <= metres_per_second <= _MAX_SPEED_MS:
        return None
    return metres_per_second * _MS_TO_KMH


def frame_plate(
    obj: ET.Element,
    appearance: ET.Element,
    plate_info: ET.Element,
    index: int,
    frame: FrameContext,
) -> PlateCapture:
    """The plate capture of one scene-description object."""
    transform = compose_transform(frame.transform, appearance.find("Transformation"))
    own_box, own_raw = rectangle_box(find_path(appearance, "Shape", "BoundingBox"), transform)
    class_name, _likely = object_class(appearance)
    vehicle_info = appearance_part(appearance, "VehicleInfo")
    is_plate = (class_name or "").lower() == "licenseplate" or (
        class_name is None and vehicle_info is None
    )
    bbox: BoundingBox | None = None
    plate_bbox: BoundingBox | None = None
    images: list[ImageRef] = []
    if is_plate:
        plate_bbox = own_box
        images.extend(appearance_images(appearance, ImageKind.PLATE))
        parent = frame.parent(obj)
        parent_appearance = parent.find("Appearance") if parent is not None else None
        if parent_appearance is not None:
            parent_transform = compose_transform(
                frame.transform, parent_appearance.find("Transformation")
            )
            bbox, _parent_raw = rectangle_box(
                find_path(parent_appearance, "Shape", "BoundingBox"), parent_transform
            )
            if vehicle_info is None:
                vehicle_info = appearance_part(parent_appearance, "VehicleInfo")
            images.extend(appearance_images(parent_appearance, ImageKind.VEHICLE))
    else:
        bbox = own_box
        images.extend(appearance_images(appearance, ImageKind.VEHICLE))
    fields, extra, plate_images = _plate_fields(plate_info, None)
    images.extend(plate_images)
    vehicle_type, brand, colour, model = _vehicle(vehicle_info)
    if vehicle_info is not None:
        data = element_text(vehicle_info.find("Image"))
        if data is not None:
            images.append(inline_image(data, ImageKind.VEHICLE))
    images.extend(frame.scene_images())
    attributes = frame.attributes(obj, class_name)
    extra["vehicle_model"] = model
    extra["bbox_raw"] = own_raw
    attributes.update(leftover_attributes(extra, frozenset()))
    behaviour = obj.find("Behaviour")
    speed = finite_number(element_text(find_path(behaviour, "Speed")))
    direction = find_path(behaviour, "Direction")
    return construct(
        PlateCapture,
        dict(
            **frame.common(obj, index, "plate"),
            images=images,
            bbox=bbox,
            attributes=attributes,
            plate_bbox=plate_bbox,
            vehicle_color=colour,
            vehicle_type=vehicle_type,
            vehicle_brand=brand,
            direction=as_str(direction.get("yaw")) if direction is not None else None,
            speed_kmh=_kmh(speed),
            **fields,
        ),
    )


_PLATE_TEXT_ITEMS = ("PlateNumber", "LicensePlate", "Plate", "PlateText")


def message_plate(
    message: Message, common: dict[str, object], identity: tuple[str, ...]
) -> PlateCapture:
    """The plate read of a ``Recognition/LicensePlate`` event message."""
    plate_info = message.elements.get("LicensePlateInfo")
    if plate_info is not None and plate_info.tag != "LicensePlateInfo":
        nested = plate_info.find(".//LicensePlateInfo")
        if nested is not None:
            plate_info = nested
    plate_text = first_item(message.data, *_PLATE_TEXT_ITEMS)
    if (plate_info is None or plate_info.find("PlateNumber") is None) and plate_text is None:
        raise AdapterError("license plate recognition without LicensePlateInfo or PlateNumber")
    if plate_info is not None and plate_info.find("PlateNumber") is None:
        plate_info = None
    fields, extra, images = _plate_fields(plate_info, plate_text)
    if fields["confidence"] is None:
        fields["confidence"] = likelihood(message.data.get("Likelihood"))
    images = message_images(message.data, ImageKind.PLATE) + images
    vehicle_type, brand, colour, model = _vehicle(message.elements.get("VehicleInfo"))
    plate_bbox, box_raw = rectangle_box(message.elements.get("BoundingBox"), IDENTITY)
    modelled = frozenset({"Likelihood", *_PLATE_TEXT_ITEMS, "Direction"} | IMAGE_ITEMS)
    attributes = leftover_attributes({**message.source, **message.data}, modelled)
    extra["vehicle_model"] = model
    extra["bbox_raw"] = box_raw
    extra["property_operation"] = message.operation
    attributes.update(leftover_attributes(extra, frozenset()))
    return construct(
        PlateCapture,
        dict(
            event_id=event_id("plate", SOURCE, *identity),
            **common,
            images=images,
            attributes=attributes,
            plate_bbox=plate_bbox,
            vehicle_color=colour,
            vehicle_type=vehicle_type,
            vehicle_brand=brand,
            direction=first_item(message.data, "Direction"),
            **fields,
        ),
    )
