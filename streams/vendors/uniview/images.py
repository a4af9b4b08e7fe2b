"""LAPI ``ImageInfo`` entries -> image references (URLs stay URLs, base64 becomes a hash)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.canonical import ImageKind, ImageRef
from streams.vendors.common import as_int, inline_image, url_image
from streams.vendors.uniview.codes import IMAGE_KIND, OWN_CROP
from streams.vendors.uniview.values import code


def image_kind(image: Mapping[str, Any], own_kind: ImageKind) -> ImageKind:
    """The kind its ``Type`` says; the object's own crop is ``own_kind``."""
    number = code(image.get("Type"))
    if number == OWN_CROP:
        return own_kind
    return IMAGE_KIND.get(number if number is not None else -1, ImageKind.OTHER)


def image_ref(image: Mapping[str, Any], kind: ImageKind) -> ImageRef | None:
    """A URL reference, or the hash of inline base64 data (DataType 0 base64, 1 URL, 2 cloud)."""
    width, height = as_int(image.get("Width")), as_int(image.get("Height"))
    width = width if width is not None and 0 < width < 2**31 else None
    height = height if height is not None and 0 < height < 2**31 else None
    data_type = code(image.get("DataType"))
    ref = None if data_type == 0 else url_image(image.get("URL"), kind, width, height)
    if ref is None and data_type in (0, None):
        data = image.get("Data")
        if isinstance(data, str) and data.strip():
            ref = inline_image(data, kind, width, height)
    return ref
