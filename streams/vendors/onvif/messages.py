"""Event messages (``wsnt:NotificationMessage``), read alike from XML and onvif-ej JSON.

A message's id is derived from (device, topic, time, operation, all Source and Data simple
items), so a re-delivered message keeps its id and two messages that differ in anything are two
events.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from streams.canonical import ImageKind, ImageRef
from streams.vendors.base import AdapterError
from streams.vendors.common import as_str, inline_image, url_image
from streams.vendors.onvif.values import element_text

# Data items holding images (modelled, so never attributes).
IMAGE_ITEMS = frozenset(
    {"ImageUri", "ImageURI", "ImageRef", "RefImageUri", "VehicleImageURI", "Image"}
    | {"VehicleImage"}
)


@dataclass(slots=True)
class Message:
    """One event message, from XML or JSON alike."""

    topic: str | None
    utc: str | None
    operation: str | None
    source: dict[str, str] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)
    elements: dict[str, ET.Element] = field(default_factory=dict)
    device_hint: str | None = None


def _xml_items(container: ET.Element | None, message: Message, target: dict[str, str]) -> None:
    if container is None:
        return
    for item in container:
        name = item.get("Name")
        if name is None:
            continue
        if item.tag == "SimpleItem":
            value = item.get("Value")
            if value is not None:
                target[name] = value
        elif item.tag == "ElementItem":
            message.elements[name] = item[0] if len(item) else item


def xml_message(element: ET.Element) -> Message:
    """The message of a ``NotificationMessage`` element (local names)."""
    body = element.find("Message")
    if body is not None:
        inner = body.find("Message")
        if inner is not None:
            body = inner
    if body is None:
        raise AdapterError("NotificationMessage without a Message")
    message = Message(
        topic=element_text(element.find("Topic")),
        utc=as_str(body.get("UtcTime")),
        operation=as_str(body.get("PropertyOperation")),
    )
    _xml_items(body.find("Source"), message, message.source)
    _xml_items(body.find("Key"), message, message.source)
    _xml_items(body.find("Data"), message, message.data)
    return message


def message_identity(message: Message, device_id: str, at: datetime) -> tuple[str, ...]:
    """What a message's event id is derived from."""
    return (
        device_id,
        message.topic or "",
        at.isoformat(),
        message.operation or "",
        "&".join(f"{k}={v}" for k, v in sorted(message.source.items())),
        "&".join(f"{k}={v}" for k, v in sorted(message.data.items())),
    )


def message_images(data: Mapping[str, str], kind: ImageKind) -> list[ImageRef]:
    """Image references in Data items (URLs, or inline base64 hashed)."""
    images: list[ImageRef] = []
    for name, value in data.items():
        key = name.lower()
        if key in ("imageuri", "imageref"):
            ref = url_image(value, kind)
        elif key == "refimageuri":
            ref = url_image(value, ImageKind.FACE)
        elif key == "vehicleimageuri":
            ref = url_image(value, ImageKind.VEHICLE)
        elif key == "image" and value.strip():
            ref = inline_image(value, kind)
        elif key == "vehicleimage" and value.strip():
            ref = inline_image(value, ImageKind.VEHICLE)
        else:
            continue
        if ref is not None:
            images.append(ref)
    return images
