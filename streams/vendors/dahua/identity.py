"""Who sent a Dahua record and when: device, channel, capture time, and what event ids hash.

Parts carry no device id: the gateway's ``raw.key`` names the device (a GB/T 28181 code is the
device itself, anything else is hashed with the channel), else ``TrafficCar.MachineName``.
Time is :func:`parse_dahua` on the data (or the ``TrafficCar``), else the receive time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from streams.canonical import TimeProvenance
from streams.domain.vendor_time import VendorTimeError, parse_dahua
from streams.vendors.base import AdapterError, Context, RawPayload
from streams.vendors.common import (
    as_int,
    as_str,
    cached_device_id,
    position_of,
    received_fallback,
)
from streams.vendors.dahua.parts import Record, shown

SOURCE = "dahua-cgi"

TIME_KEYS = ("RealUTC", "UTC", "UTCMS", "LocaleTime")
# Keys whose values the canonical fields carry (never repeated in attributes).
COMMON_KEYS = frozenset({*TIME_KEYS, "Code", "EventID", "GroupID", "IndexInGroup"})


@dataclass(slots=True)
class Identity:
    """What every event built from one record shares."""

    code: str
    device_id: str
    channel: int | None
    captured_at: datetime
    provenance: TimeProvenance
    received_at: datetime
    key: tuple[str, ...]  # what the record's event ids hash
    extra: dict[str, str]  # attributes that come from the identity (``AlarmInput``)

    def fields(self, data: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        """The canonical fields every event of the record shares (all but its id)."""
        return {
            "source": SOURCE,
            "source_event_id": as_str(data.get("EventID")),
            "device_id": self.device_id,
            "channel": self.channel,
            "captured_at": self.captured_at,
            "received_at": self.received_at,
            "time_source": self.provenance,
            "position": position_of(self.device_id, ctx),
        }


def identify(
    record: Record, car: Mapping[str, Any] | None, raw: RawPayload, ctx: Context
) -> Identity:
    data = record.data
    extra: dict[str, str] = {}
    channel: int | None = None
    if record.index is not None:
        index = record.index.strip()
        if not (index.isascii() and index.isdigit() and len(index) <= 9):
            raise AdapterError(f"index {shown(record.index)} is not a channel number")
        channel = int(index)
    hint = as_str(raw.key)
    machine = as_str(car.get("MachineName")) if car is not None else None
    if machine is None:
        machine = as_str(data.get("MachineName"))
    who = hint if hint is not None else (None if machine is None else f"machine={machine}")
    if who is None:
        raise AdapterError("no device identity: Dahua parts carry none and the gateway set no key")
    if record.code == "AlarmLocal":
        # An alarm input belongs to the device, not to a video channel.
        if channel is not None:
            extra["AlarmInput"] = str(channel)
        channel = None
        device_id = cached_device_id(SOURCE, who, None)
    else:
        device_id = cached_device_id(SOURCE, who, channel)
    zone = ctx.zone_for(device_id)
    timed: Mapping[str, Any] = data
    if not _has_time(data) and car is not None and _has_time(car):
        timed = car
    if _has_time(timed):
        try:
            captured_at, provenance = parse_dahua(timed, zone, now=raw.received_at)
        except VendorTimeError as exc:
            raise AdapterError(str(exc)) from None
        time_key = "|".join(as_str(timed.get(k)) or "" for k in TIME_KEYS)
    else:
        captured_at, provenance = received_fallback(raw.received_at), TimeProvenance.RECEIVED
        time_key = "received=" + captured_at.isoformat()
    group = data.get("GroupID")
    if group is None and car is not None:
        group = car.get("GroupID")
    in_group = data.get("IndexInGroup")
    if in_group is None and car is not None:
        in_group = car.get("IndexInGroup")
    key = (
        device_id,
        "" if channel is None else str(channel),
        record.code,
        as_str(data.get("EventID")) or "",
        as_str(group) or "",
        as_str(in_group) or "",
        time_key,
    )
    return Identity(
        code=record.code,
        device_id=device_id,
        channel=channel,
        captured_at=captured_at,
        provenance=provenance,
        received_at=received_fallback(raw.received_at),
        key=key,
        extra=extra,
    )


def _has_time(data: Mapping[str, Any]) -> bool:
    real = data.get("RealUTC")
    if real not in (None, "") and as_int(real) != 0:
        return True
    return data.get("UTC") not in (None, "") or data.get("LocaleTime") not in (None, "")
