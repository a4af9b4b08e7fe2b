"""Reading fields out of a decoded ISAPI document (XML as nested dicts, or JSON).

XML and JSON disagree on shape: one child is a dict, repeats are a list, and JSON may drop a
list's inner element name. These readers take either shape, and turn vendor placeholders
(``unknown``, ``0xFF`` ...) and over-long text into absence.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.vendors.common import as_float, as_int, as_str, unit

Record = Mapping[str, Any]
EMPTY: Record = {}

MAX_TEXT = 256  # any text that lands in a model field
MAX_URL = 2048
_INT32 = 2**31 - 1

UNKNOWN = frozenset({"unknown", "unknow", "none", "null", "0xff"})
UNKNOWN_TEXT = UNKNOWN | {"Unknown", "UNKNOWN", "None", "NULL", "Null", "0xFF"}


def as_record(value: Any) -> Record:
    """The value when it is a group, the first group of a list, else an empty record."""
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                return item
    return EMPTY


def as_records(value: Any) -> list[Record]:
    """Every group in a value: one group, or the groups of a list."""
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    return []


def listed(container: Any, name: str) -> list[Record]:
    """``<xList><x/>...</xList>`` in XML; JSON may drop the inner name and use an array."""
    if isinstance(container, list):
        return as_records(container)
    return as_records(as_record(container).get(name))


def short(value: Any, limit: int = MAX_TEXT) -> str | None:
    """Text of a scalar when it is short enough to be a field value, else None."""
    text = as_str(value)
    return text if text is None or len(text) <= limit else None


def lower(value: Any) -> str:
    """Lower-case text of a scalar, ``""`` when absent."""
    text = as_str(value)
    return text.lower() if text else ""


def known(value: Any) -> str | None:
    """Short text of a value, None when absent, too long or a vendor 'unknown'."""
    text = short(value)
    if text is None or text.lower() in UNKNOWN:
        return None
    return text


def bounded(value: Any) -> int | None:
    """A non-negative integer that fits a 32-bit field (channel, lane), else None."""
    number = as_int(value)
    return number if number is not None and 0 <= number <= _INT32 else None


def confidence(value: Any) -> float | None:
    """A 0-100 score as 0..1; a value strictly between 0 and 1 is already a fraction."""
    number = as_float(value)
    if number is None:
        return None
    if 0.0 < number < 1.0:
        return number
    return unit(number, 100.0)
