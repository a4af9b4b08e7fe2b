"""Reading LAPI JSON values: groups and lists, whole-number codes, 0..10000 boxes, leftovers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from streams.canonical import BoundingBox
from streams.vendors.base import AdapterError
from streams.vendors.common import (
    as_float,
    as_int,
    as_str,
    box_from_corners,
    leftover_attributes,
    unit,
)

_GRID = 10000.0
_POSITION = re.compile(
    r"\s*(-?\d+(?:\.\d*)?)\s*,\s*(-?\d+(?:\.\d*)?)\s*;\s*(-?\d+(?:\.\d*)?)\s*,\s*(-?\d+(?:\.\d*)?)\s*"
)
_NEVER = frozenset({"Data", "Feature", "FeatureData", "ImageData"})  # base64, never kept


def as_dict(value: Any) -> dict[str, Any]:
    """The value when it is an object, the first object of a list, else an empty dict."""
    if isinstance(value, list):  # some SDKs model single attribute objects as arrays
        value = next((v for v in value if isinstance(v, dict)), None)
    return value if isinstance(value, dict) else {}


def items(value: Any) -> list[Any]:
    """The entries of a list; one object is a list of one."""
    if isinstance(value, dict):
        return [value]
    return value if isinstance(value, list) else []


def code(value: Any) -> int | None:
    """A whole number (enum code, index) from a number or digit text; anything else is None."""
    cls = value.__class__
    if cls is int:
        return value  # type: ignore[no-any-return]
    if cls is str and value.isdigit() and value.isascii() and len(value) <= 18:
        return int(value)
    number = as_int(value)
    return number if number is not None and as_float(value) == number else None


def channel(value: Any, name: str) -> int | None:
    """A channel number; absent is None, anything else that is not one rejects the record."""
    if value is None or value == "":
        return None
    number = code(value)
    if number is None or number < 0 or number >= 2**31:
        raise AdapterError(f"{name} {str(value)[:40]!r} is not a channel number")
    return number


def box(value: Any) -> BoundingBox | None:
    """``"x1,y1;x2,y2"`` on the 0..10000 grid; empty and whole-frame boxes are no box."""
    text = as_str(value)
    if text is None:
        return None
    match = _POSITION.fullmatch(text)
    if match is None:
        return None
    x1, y1, x2, y2 = (float(v) for v in match.groups())
    found = box_from_corners(x1, y1, x2, y2, _GRID, _GRID)
    if found is None or (found.w >= 1.0 and found.h >= 1.0):
        return None  # empty, or the whole-frame default
    return found


def confidence(value: Any) -> float | None:
    """0..100 as 0..1; ``0`` is no confidence."""
    number = as_float(value)
    return None if number is None or number <= 0.0 else unit(number, 100.0)


def attributes(
    out: dict[str, str], record: Mapping[str, Any], modelled: frozenset[str], prefix: str = ""
) -> dict[str, str]:
    """Unmodelled scalars as text (booleans as ``true``/``false``); containers, base64 fields
    and long values are left out."""
    return leftover_attributes(record, modelled | _NEVER, out, prefix, ("true", "false"))
