"""Bounding boxes in the scales ISAPI uses.

- ANPR ``plateRect``/``vehicelRect`` are per-mille (0-1000) as the ISAPI spec states (§1.3 of
  the reference says pixels; the spec text and sample values say per-mille); values that fit
  0-1 are read as fractions, values beyond 1000 as pixels of the picture's JPEG when its size
  is known.
- ``faceRect`` and ``TargetRect`` are 0-1, or 0-1000 when any edge exceeds 1.
- A zero-area box is no box.
"""

from __future__ import annotations

from streams.canonical import BoundingBox
from streams.vendors.common import as_float, box_from_corners
from streams.vendors.hikvision.images import Size
from streams.vendors.hikvision.values import Record


def rect_of(rect: Record) -> tuple[float, float, float, float] | None:
    """``(x, y, width, height)`` of a rectangle group, None unless it has a positive area."""
    if not rect:
        return None
    x = as_float(rect.get("X", rect.get("x")))
    y = as_float(rect.get("Y", rect.get("y")))
    w = as_float(rect.get("width", rect.get("Width")))
    h = as_float(rect.get("height", rect.get("Height")))
    if x is None or y is None or w is None or h is None or w <= 0 or h <= 0 or x < 0 or y < 0:
        return None
    return x, y, w, h


def fraction_box(rect: Record) -> BoundingBox | None:
    """A 0-1 box, or 0-1000 when any edge lies beyond 1 (faceRect, TargetRect)."""
    values = rect_of(rect)
    if values is None:
        return None
    x, y, w, h = values
    edge = max(x + w, y + h)
    scale = 1.0 if edge <= 1.001 else 1000.0 if edge <= 1000.5 else None
    return None if scale is None else box_from_corners(x, y, x + w, y + h, scale, scale)


def mille_box(rect: Record, size: Size) -> BoundingBox | None:
    """ANPR plateRect/vehicelRect: per-mille (ISAPI), 0-1 when it fits, pixels beyond 1000."""
    values = rect_of(rect)
    if values is None:
        return None
    x, y, w, h = values
    if x + w <= 1.0 and y + h <= 1.0:
        return box_from_corners(x, y, x + w, y + h, 1.0, 1.0)
    if x + w <= 1000.5 and y + h <= 1000.5:
        return box_from_corners(x, y, x + w, y + h, 1000.0, 1000.0)
    width, height = size
    if width and height:
        return box_from_corners(x, y, x + w, y + h, width, height)
    return None
