"""Reading Dahua values: 8192-grid boxes, 0..255 confidences, placeholder terms, leftovers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.canonical import BoundingBox
from streams.vendors.common import as_float, as_str, box_from_corners, leftover_attributes, unit

_GRID = 8192.0  # Dahua coordinates live on a virtual 0..8191 grid
_CONFIDENCE_SCALE = 255.0
_UNKNOWN = frozenset({"unknown", "unknow", "none", "null"})


def box(value: Any) -> BoundingBox | None:
    """``[left, top, right, bottom]`` on the 8192 grid; an all-zero box means none."""
    if not isinstance(value, list) or len(value) != 4:
        return None
    return box_from_corners(value[0], value[1], value[2], value[3], _GRID, _GRID)


def confidence(value: Any) -> float | None:
    """0..255 as 0..1; ``0`` (what devices send when they have none) is no confidence."""
    number = as_float(value)
    if number is None or number <= 0.0:
        return None
    return unit(number, _CONFIDENCE_SCALE)


def term(value: Any) -> str | None:
    """Text, unless it is a placeholder such as ``Unknown``."""
    text = as_str(value)
    return None if text is None or text.lower() in _UNKNOWN else text


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def attributes(
    out: dict[str, str], record: Mapping[str, Any], modelled: frozenset[str], prefix: str = ""
) -> dict[str, str]:
    """Unmodelled scalars as text (booleans as ``true``/``false``, as the flattened form has
    them); containers and values over 256 characters are left out."""
    return leftover_attributes(record, modelled, out, prefix, ("true", "false"))
