"""Helpers shared by the vendor adapters: ids, lenient field reading, images, boxes, devices.

Adapters build events with ``model_construct`` (no second validation on the hot path); the
helpers here return values of exactly the canonical types, and the adapter tests re-validate
every event an adapter produces.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from math import isfinite
from typing import Any

from streams.canonical import BoundingBox, GeoPoint, ImageKind, ImageRef
from streams.canonical.models import construct
from streams.domain.devices import derived_device_id, is_gb28181_code
from streams.vendors.base import AdapterError, Context


def event_id(kind: str, source: str, *identity: object) -> str:
    """Deterministic id: the same source record always yields the same 32 hex characters."""
    text = "\x1f".join([kind, source, *(str(part) for part in identity)])
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def as_str(value: Any) -> str | None:
    """Text of a scalar, stripped; empty and null-like values are None."""
    if value.__class__ is str:  # the common case first
        return value.strip() or None
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    text = str(value).strip()
    return text or None


INT32 = range(-(2**31), 2**31)  # every canonical integer field is an Avro int


def as_int(value: Any) -> int | None:
    """An integer from a number or numeric text ("3", " 3 ", "3.0"); None for anything else,
    including numbers outside the 32-bit range of the canonical integer fields."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value in INT32 else None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    if number != number or number in (float("inf"), float("-inf")):
        return None
    result = int(number)
    return result if result in INT32 else None


def as_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    else:
        try:
            number = float(str(value).strip())
        except ValueError:
            return None
    if number != number or number in (float("inf"), float("-inf")):
        return None
    return number


def unit(value: Any, scale: float) -> float | None:
    """A vendor score on 0..scale as 0..1, clamped; None when absent or not a number."""
    number = as_float(value)
    if number is None or scale <= 0:
        return None
    return min(max(number / scale, 0.0), 1.0)


def box_from_corners(
    x1: Any, y1: Any, x2: Any, y2: Any, width: float | None, height: float | None
) -> BoundingBox | None:
    """A 0..1 box from corner coordinates in a space of ``width`` x ``height``."""
    if not width or not height or width <= 0 or height <= 0:
        return None
    left, top, right, bottom = (
        v if v.__class__ is int or v.__class__ is float else as_float(v) for v in (x1, y1, x2, y2)
    )
    if left is None or top is None or right is None or bottom is None:
        return None
    if not (isfinite(left) and isfinite(top) and isfinite(right) and isfinite(bottom)):
        return None
    if right < left:
        left, right = right, left
    if bottom < top:
        top, bottom = bottom, top
    x = min(max(left / width, 0.0), 1.0)
    y = min(max(top / height, 0.0), 1.0)
    w = min(max((right - left) / width, 0.0), 1.0 - x)
    h = min(max((bottom - top) / height, 0.0), 1.0 - y)
    if w <= 0.0 or h <= 0.0:  # vendors send all-zero boxes for "no box"
        return None
    return construct(BoundingBox, dict(x=x, y=y, w=w, h=h))


def box_from_size(
    x: Any, y: Any, w: Any, h: Any, width: float | None, height: float | None
) -> BoundingBox | None:
    """A 0..1 box from left/top/width/height in a space of ``width`` x ``height``."""
    left, top, bw, bh = (as_float(v) for v in (x, y, w, h))
    if left is None or top is None or bw is None or bh is None:
        return None
    return box_from_corners(left, top, left + bw, top + bh, width, height)


def inline_image(data: Any, kind: ImageKind, width: Any = None, height: Any = None) -> ImageRef:
    """A reference to an image that arrived inline: its hash, never its bytes.

    Accepts base64 text (with or without a ``data:image/...;base64,`` prefix) or raw bytes.
    """
    if isinstance(data, bytes | bytearray):
        raw = bytes(data)
    else:
        text = str(data).strip()
        if text.startswith("data:") and "," in text:
            text = text.split(",", 1)[1]
        try:
            raw = base64.b64decode(text, validate=False)
        except (binascii.Error, ValueError):
            raw = text.encode("utf-8", "surrogatepass")
    return construct(
        ImageRef,
        dict(
            kind=kind,
            url=None,
            sha256=hashlib.sha256(raw).hexdigest(),
            width=as_int(width),
            height=as_int(height),
        ),
    )


def url_image(url: Any, kind: ImageKind, width: Any = None, height: Any = None) -> ImageRef | None:
    text = as_str(url)
    if text is None:
        return None
    return construct(
        ImageRef, dict(kind=kind, url=text, sha256=None, width=as_int(width), height=as_int(height))
    )


def device_id_from(source: str, code: Any, *fallback: Any) -> str:
    """The GB/T 28181 code when the payload has a valid one, else a stable derived id."""
    text = as_str(code)
    if text is not None and is_gb28181_code(text):
        return text
    parts = [p for p in (as_str(v) for v in (code, *fallback)) if p]
    if not parts:
        raise AdapterError("no device identity in the payload (no device id, serial or address)")
    return derived_device_id(source, *parts)


@lru_cache(maxsize=8192, typed=True)
def cached_device_id(source: str, code: str | None, *fallback: str | int | None) -> str:
    """:func:`device_id_from` for text and integer parts, cached: a stream repeats the same few
    devices, and the checks before the (itself cached) hash cost a few microseconds."""
    return device_id_from(source, code, *fallback)


def position_of(device_id: str, ctx: Context) -> GeoPoint | None:
    """The device's registered WGS-84 position, if the registry knows it."""
    if ctx.devices is None:
        return None
    device = ctx.devices.get(device_id)
    if device is None:
        return None
    return construct(GeoPoint, dict(lat=device.lat, lon=device.lon))


def leftover_attributes(
    record: Mapping[str, Any],
    modelled: frozenset[str],
    out: dict[str, str] | None = None,
    prefix: str = "",
    booleans: tuple[str, str] = ("1", "0"),
) -> dict[str, str]:
    """Scalar vendor fields the canonical model has no place for, as text, into ``out`` (a new
    dict when None) under ``prefix + key``; returns ``out``.

    For parsed JSON and text: strings are stripped, numbers written by ``str``, booleans as
    ``booleans`` (true, false). Empty text, containers, any other type, keys that are not text
    and values over 256 characters are left out.
    """
    if out is None:
        out = {}
    for key, value in record.items():
        if key in modelled or key.__class__ is not str:
            continue
        cls = value.__class__
        if cls is str:
            text = value.strip()
        elif cls is int or cls is float:
            text = str(value)
        elif cls is bool:
            text = booleans[0] if value else booleans[1]
        else:
            continue
        if text and len(text) <= 256:
            out[prefix + key] = text
    return out


def received_fallback(received_at: datetime) -> datetime:
    """The receive time in UTC at millisecond precision."""
    received_at = received_at.astimezone(UTC)
    return received_at.replace(microsecond=received_at.microsecond // 1000 * 1000)
