"""JSON bodies read exactly, and rejected records written back as JSON.

orjson reads a bare number beyond 64 bits (a 20-digit GB/T 28181 code sent unquoted) as a lossy
float. Ids are never fractional, so a float under an id field (:func:`rounded_id`) means such a
number was rounded: the (rare) body is read again with the standard parser (:func:`exact_json`),
exact for integers of any size.

``exact_json`` and ``dump_record`` call the standard library at the depth the adapters' own
helpers used to: its parser and encoder recurse on the Python stack, so the nesting depth at which
a body fails is unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import orjson

from streams.vendors.base import AdapterError

# What json.dumps(record, ensure_ascii=False, default=str) builds on every call, built once.
_RECORD_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)


def load_json(body: bytes | str, error: str = "body is not JSON") -> Any:
    """orjson's reading of ``body``; ``AdapterError("<error> (<why>)")`` when it is not JSON."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise AdapterError(f"{error} ({exc})") from None


def rounded_id(record: Any, names: Iterable[str]) -> bool:
    """Whether ``record`` is an object holding a float under one of the id fields ``names``."""
    if isinstance(record, dict):
        for name in names:  # a loop, not any(): this runs on every body
            if isinstance(record.get(name), float):
                return True
    return False


def exact_json(text: bytes | str, loaded: dict[str, Any]) -> dict[str, Any]:
    """``text`` read again by the standard parser; ``loaded`` when that fails or is no object."""
    try:
        again = json.loads(text)
    except (ValueError, RecursionError):
        return loaded
    return again if isinstance(again, dict) else loaded


def dump_record(record: Any) -> bytes:
    """A rejected record as JSON again (exact for integers of any size): rejections are rare."""
    return _RECORD_ENCODER.encode(record).encode("utf-8", "surrogatepass")
