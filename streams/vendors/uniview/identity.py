"""Which device sent a LAPI notification, and the times it carries.

Device: the first ``DeviceID`` / ``DevID`` / serial field of the given objects, else the
gateway's ``raw.key``; a GB/T 28181 code is the device itself, anything else is hashed with the
channel. Times are epoch seconds (``TimeStamp``) or ``yyyyMMddHHmmss[SSS]`` local wall clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

from streams.canonical import TimeProvenance
from streams.domain.vendor_time import VendorTimeError, parse_compact, parse_epoch
from streams.vendors.base import AdapterError, RawPayload
from streams.vendors.common import as_str, cached_device_id

SOURCE = "uniview-lapi"

_DEVICE_KEYS = ("DeviceID", "DevID", "DeviceId", "SerialNumber", "SerialNo", "DeviceSerial")

Found = tuple[datetime, TimeProvenance]


def device_id(sources: tuple[Mapping[str, Any], ...], raw: RawPayload, channel: int | None) -> str:
    for source in sources:
        for key in _DEVICE_KEYS:
            found = as_str(source.get(key))
            if found is not None:
                return cached_device_id(SOURCE, found, channel)
    hint = as_str(raw.key)
    if hint is None:
        raise AdapterError("no device identity: no DeviceID, DevID or serial, and no gateway key")
    return cached_device_id(SOURCE, hint, channel)


def epoch_time(value: Any, raw: RawPayload) -> Found | None:
    """``TimeStamp`` epoch seconds; absent is None, malformed rejects the record."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise AdapterError(f"TimeStamp {value!r} is not epoch seconds")
    try:
        return parse_epoch(value, now=raw.received_at)
    except VendorTimeError as exc:
        raise AdapterError(str(exc)) from None


def local_time(value: Any, zone: tzinfo, raw: RawPayload) -> Found | None:
    """``yyyyMMddHHmmss[SSS]`` local time, or epoch seconds for fields that carry those."""
    text = as_str(value)
    if text is None or text == "0":
        return None
    try:
        if len(text) in (14, 17) and text.isdigit():
            return parse_compact(text, zone, now=raw.received_at)
        return parse_epoch(text, now=raw.received_at)
    except VendorTimeError as exc:
        raise AdapterError(str(exc)) from None


def optional_time(value: Any, zone: tzinfo, raw: RawPayload) -> datetime | None:
    """:func:`local_time` for fields that never reject a record: malformed is None."""
    try:
        found = local_time(value, zone, raw)
    except AdapterError:
        return None
    return None if found is None else found[0]
