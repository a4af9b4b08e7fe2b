"""Face captures from a scene-description object with ``HumanFace``.

Gender, age range (``Age/Min``, ``Age/Max``, or one ``Age``), glasses
(``Accessory/Opticals/Wear``) and mask (``Accessory/Mask/Wear``) are modelled; the other face
features go to attributes by path (``Hair.Length``, ``Accessory.Hat.Wear``...).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

from streams.canonical import FaceCapture, Gender, ImageKind, Presence
from streams.canonical.models import construct
from streams.vendors.onvif.boxes import compose_transform, rectangle_box
from streams.vendors.onvif.frame import (
    MAX_ATTRIBUTE,
    FrameContext,
    appearance_images,
    object_class,
)
from streams.vendors.onvif.values import as_bool, element_text, find_path, finite_number

_GENDER = {"male": Gender.MALE, "female": Gender.FEMALE, "m": Gender.MALE, "f": Gender.FEMALE}
_FACE_MODELLED = frozenset({"Gender", "Age", "Accessory.Opticals.Wear", "Accessory.Mask.Wear"})


def _leaves(root: ET.Element) -> Iterator[tuple[str, str]]:
    """(dotted path, text) of every leaf under ``root``."""
    stack: list[tuple[str, ET.Element]] = [(child.tag, child) for child in reversed(root)]
    while stack:
        path, element = stack.pop()
        if len(element):
            stack.extend((f"{path}.{child.tag}", child) for child in reversed(element))
            continue
        text = element_text(element)
        if text is not None:
            yield path, text


def _presence(face: ET.Element | None, item: str) -> Presence:
    wear = as_bool(element_text(find_path(face, "Accessory", item, "Wear")))
    if wear is None:
        return Presence.UNKNOWN
    return Presence.YES if wear else Presence.NO


def _age(value: str | None) -> int | None:
    number = finite_number(value)
    return int(number) if number is not None and 0 <= number <= 150 else None


def frame_face(
    obj: ET.Element,
    appearance: ET.Element,
    face: ET.Element | None,
    index: int,
    frame: FrameContext,
) -> FaceCapture:
    """The face capture of one object (``face`` None: a face-class object with an image)."""
    transform = compose_transform(frame.transform, appearance.find("Transformation"))
    bbox, box_raw = rectangle_box(find_path(appearance, "Shape", "BoundingBox"), transform)
    class_name, class_likelihood = object_class(appearance)
    attributes = frame.attributes(obj, class_name)
    low = high = None
    gender = Gender.UNKNOWN
    if face is not None:
        age = face.find("Age")
        if age is not None:
            if len(age):
                low = _age(element_text(age.find("Min")))
                high = _age(element_text(age.find("Max")))
            else:
                low = high = _age(element_text(age))
        gender = _GENDER.get((element_text(face.find("Gender")) or "").lower(), Gender.UNKNOWN)
        for path, text in _leaves(face):
            if path not in _FACE_MODELLED and len(text) <= MAX_ATTRIBUTE:
                attributes.setdefault(path, text)
    if box_raw is not None:
        attributes["bbox_raw"] = box_raw
    images = appearance_images(appearance, ImageKind.FACE)
    images.extend(frame.scene_images())
    return construct(
        FaceCapture,
        dict(
            **frame.common(obj, index, "face"),
            images=images,
            confidence=class_likelihood,
            bbox=bbox,
            attributes=attributes,
            track_id=obj.get("ObjectId") or obj.get("UUID"),
            gender=gender,
            age_min=low,
            age_max=high,
            glasses=_presence(face, "Opticals"),
            mask=_presence(face, "Mask"),
        ),
    )
