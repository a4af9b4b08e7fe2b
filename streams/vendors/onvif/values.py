"""Reading values out of ONVIF elements and items: text, numbers, likelihoods, booleans."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping

from streams.vendors.common import as_str, unit

_TRUE = frozenset({"true", "1", "active", "on"})
_FALSE = frozenset({"false", "0", "inactive", "off"})


def finite_number(text: str | None) -> float | None:
    """A finite number from XML text (``as_float`` for the str-only hot path)."""
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return number if number - number == 0.0 else None  # inf - inf and nan are nan


def likelihood(value: str | None) -> float | None:
    """ONVIF likelihoods are 0..1; a few devices send percentages."""
    number = finite_number(value)
    if number is None:
        return None
    return unit(number, 100.0 if number > 1.0 else 1.0)


def as_bool(value: str | None) -> bool | None:
    """true/false, 1/0, active/inactive, on/off (any case); anything else is None."""
    if value is None:
        return None
    key = value.strip().lower()
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    return None


def find_path(element: ET.Element | None, *path: str) -> ET.Element | None:
    """``element.find("a/b")`` through the C fast path (plain tags, one level at a time)."""
    for tag in path:
        if element is None:
            return None
        element = element.find(tag)
    return element


def element_text(element: ET.Element | None) -> str | None:
    """The stripped text of an element, or of its only leaf child; empty text is None."""
    if element is None:
        return None
    text = element.text
    if text is not None:
        text = text.strip()
        if text:
            return text
    for child in element:  # a vendor wrapping the value in one more element
        return element_text(child) if len(child) == 0 else None
    return None


def first_item(items: Mapping[str, str], *names: str) -> str | None:
    """The first of ``names`` with a non-empty value in ``items``."""
    for name in names:
        value = as_str(items.get(name))
        if value is not None:
            return value
    return None
