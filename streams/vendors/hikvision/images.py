"""Pictures as image references: hash-only inline images for multipart parts, URL references.

What a picture shows comes from the document's hints (a picture list naming the file or
``pId``), else from substrings of its part name, filename or picture type; first match wins.
Sizes are read from the JPEG's SOF segment without decoding it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from streams.canonical import ImageKind, ImageRef
from streams.vendors.common import inline_image, url_image
from streams.vendors.hikvision.multipart import Picture
from streams.vendors.hikvision.values import MAX_TEXT, MAX_URL, short

Size = tuple[int | None, int | None]

_IMAGE_KINDS = (
    ("plate", ImageKind.PLATE),
    ("face", ImageKind.FACE),
    ("pedestrian", ImageKind.BODY),
    ("body", ImageKind.BODY),
    ("composite", ImageKind.COMPOSITE),
    ("detection", ImageKind.SCENE),
    ("background", ImageKind.SCENE),
    ("bkg", ImageKind.SCENE),
    ("scene", ImageKind.SCENE),
    ("panorama", ImageKind.SCENE),
    ("vehicle", ImageKind.VEHICLE),
    ("nonmotor", ImageKind.VEHICLE),
)


@dataclass(slots=True)
class PictureRef:
    """A multipart picture's image reference, with the names it goes by and its pixel size."""

    ref: ImageRef
    keys: tuple[str, ...]
    size: Size


def picture_refs(pictures: list[Picture], hints: Mapping[str, ImageKind]) -> list[PictureRef]:
    """Image references for the pictures: kind from the document's hints, else from the names."""
    refs: list[PictureRef] = []
    for picture in pictures:
        kind = next((hints[k] for k in picture.keys if k in hints), None)
        kind = kind or kind_of(*picture.keys) or ImageKind.OTHER
        width, height = jpeg_size(picture.data)
        ref = inline_image(picture.data, kind, width, height)
        refs.append(PictureRef(ref, picture.keys, (width, height)))
    return refs


def url_ref(value: Any, kind: ImageKind) -> ImageRef | None:
    """A reference to a picture URL the document names, when it is one."""
    return url_image(short(value, MAX_URL), kind)


def kind_of(*names: str | None) -> ImageKind | None:
    """What the first name that says so shows (part name, filename, picture type)."""
    for name in names:
        kind = _kind_of_name(name) if name and len(name) <= MAX_TEXT else None
        if kind is not None:
            return kind
    return None


@lru_cache(maxsize=1024)
def _kind_of_name(name: str) -> ImageKind | None:
    lowered = name.lower()
    for needle, kind in _IMAGE_KINDS:
        if needle in lowered:
            return kind
    return None


def jpeg_size(data: bytes) -> Size:
    """Width and height from a JPEG's SOF segment, without decoding it."""
    if not data.startswith(b"\xff\xd8"):
        return None, None
    i, n = 2, len(data)
    while i + 9 < n:
        if data[i] != 0xFF:
            return None, None
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:
            i += 2
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height = (data[i + 5] << 8) | data[i + 6]
            width = (data[i + 7] << 8) | data[i + 8]
            return width or None, height or None
        length = (data[i + 2] << 8) | data[i + 3]
        if length < 2:
            return None, None
        i += 2 + length
    return None, None
