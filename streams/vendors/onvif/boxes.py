"""Coordinate transforms and bounding boxes of the scene description.

``Shape/BoundingBox`` is read in the coordinate system of its node: the normalised frame system
[-1, 1] with y up, changed by the frame's and the appearance's ``Transformation``
(``normalised = Scale * p + Translate``, nested nodes compose), then converted to 0..1 with a
top-left origin. Devices that send pixels with ``Translate(-1, 1) Scale(2/w, -2/h)`` come out
right; a box that still falls outside [-1, 1] (pixels without a transformation) is no box:
``bbox`` is None and ``bbox_raw`` keeps the values as sent.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from streams.canonical import BoundingBox
from streams.vendors.common import box_from_corners
from streams.vendors.onvif.values import finite_number

# (sx, sy, tx, ty): normalised = s * p + t.
Transform = tuple[float, float, float, float]
IDENTITY: Transform = (1.0, 1.0, 0.0, 0.0)


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def compose_transform(parent: Transform, node: ET.Element | None) -> Transform:
    """``parent`` followed by the ``Transformation`` element ``node`` (if any)."""
    if node is None:
        return parent
    sx = sy = 1.0
    tx = ty = 0.0
    scale = node.find("Scale")
    if scale is not None:
        sx = _or(finite_number(scale.get("x")), 1.0)
        sy = _or(finite_number(scale.get("y")), 1.0)
    translate = node.find("Translate")
    if translate is not None:
        tx = _or(finite_number(translate.get("x")), 0.0)
        ty = _or(finite_number(translate.get("y")), 0.0)
    psx, psy, ptx, pty = parent
    return (psx * sx, psy * sy, psx * tx + ptx, psy * ty + pty)


def rectangle_box(
    box: ET.Element | None, transform: Transform
) -> tuple[BoundingBox | None, str | None]:
    """A 0..1 top-left box from a ``tt:Rectangle``, and the raw values when they are unusable."""
    if box is None:
        return None, None
    get = box.get
    values = (get("left"), get("top"), get("right"), get("bottom"))
    left, top, right, bottom = (finite_number(v) for v in values)
    shown = ",".join(str(v) for v in values)
    if left is None or top is None or right is None or bottom is None:
        return None, shown
    sx, sy, tx, ty = transform
    u1, u2 = sx * left + tx, sx * right + tx
    v1, v2 = sy * top + ty, sy * bottom + ty
    if max(abs(u1), abs(u2), abs(v1), abs(v2)) > 1.01:
        return None, shown
    bbox = box_from_corners((u1 + 1) / 2, (1 - v1) / 2, (u2 + 1) / 2, (1 - v2) / 2, 1.0, 1.0)
    return bbox, None
