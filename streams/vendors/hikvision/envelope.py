"""What every event from one alert shares: source, device, channel, zone, position, and the
common fields of a canonical event.

- **Device**: ``deviceID`` when it is a valid GB/T 28181 code, else an id derived from the
  first of macAddress, deviceUUID, Extensions/serialNumber (v1.0 NVRs), a non-GB deviceID,
  targetAttrs.deviceId (JSON face), ipAddress, the gateway's key, **plus the channel**, so
  each camera behind an NVR gets its own stable id.
- **Channel**: channelID, else dynChannelID, else targetAttrs.deviceChannel.
- **Position**: the registered device's, else DeviceGPSInfo (WGS-84 degrees/minutes/seconds
  plus hemisphere), which is also kept as an attribute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import Any

from streams.canonical import GeoPoint, ImageRef, TimeProvenance
from streams.canonical.models import construct
from streams.domain.devices import is_gb28181_code
from streams.vendors.base import AdapterError, Context, RawPayload
from streams.vendors.common import (
    as_float,
    as_str,
    device_id_from,
    event_id,
    position_of,
    received_fallback,
)
from streams.vendors.hikvision.values import EMPTY, Record, as_record, bounded, lower

SOURCE = "hikvision-isapi"


@dataclass(slots=True)
class Envelope:
    device_id: str
    channel: int | None
    zone: tzinfo
    position: GeoPoint | None
    received_at: datetime
    now: datetime
    attributes: dict[str, str]  # alert-level attributes every event starts from


def envelope_of(doc: Record, raw: RawPayload, ctx: Context, target: Record = EMPTY) -> Envelope:
    """The envelope of an alert; ``target`` is a JSON face capture's ``targetAttrs``."""
    channel = bounded(doc.get("channelID"))
    if channel is None:
        channel = bounded(doc.get("dynChannelID"))
    if channel is None:
        channel = bounded(target.get("deviceChannel"))
    code = as_str(doc.get("deviceID"))
    identity = (
        as_str(doc.get("macAddress"))
        or as_str(doc.get("deviceUUID"))
        or as_str(as_record(doc.get("Extensions")).get("serialNumber"))
        or (code if code is not None and not is_gb28181_code(code) else None)
        or as_str(target.get("deviceId"))
        or as_str(doc.get("ipAddress"))
        or (raw.key if raw.key and raw.key != "unknown" else None)  # the gateway's hint
    )
    device_id = _device_id(code, identity, channel)
    attributes: dict[str, str] = {}
    position = position_of(device_id, ctx)
    gps = _gps(as_record(doc.get("DeviceGPSInfo")))
    if gps is not None:
        attributes["DeviceGPSInfo"] = f"{gps.lat:.6f},{gps.lon:.6f}"
        if position is None:
            position = gps
    return Envelope(
        device_id=device_id,
        channel=channel,
        zone=ctx.zone_for(device_id),
        position=position,
        received_at=received_fallback(raw.received_at),
        now=raw.received_at,
        attributes=attributes,
    )


def common_fields(
    env: Envelope,
    kind: str,
    identity: tuple[object, ...],
    source_event_id: str | None,
    captured: tuple[datetime, TimeProvenance],
    images: list[ImageRef],
    attributes: dict[str, str],
) -> dict[str, Any]:
    """The fields every canonical event has (confidence and bbox default to None).

    ``identity`` is what makes the event id: the same record always gets the same id.
    """
    return {
        "event_id": event_id(kind, SOURCE, *identity),
        "source": SOURCE,
        "source_event_id": source_event_id,
        "device_id": env.device_id,
        "channel": env.channel,
        "captured_at": captured[0],
        "received_at": env.received_at,
        "time_source": captured[1],
        "position": env.position,
        "images": images,
        "attributes": attributes,
    }


@lru_cache(maxsize=8192)
def _device_id(code: str | None, identity: str | None, channel: int | None) -> str:
    if code is not None and is_gb28181_code(code):
        return code
    if identity is None:
        raise AdapterError(
            "no device identity (no GB/T 28181 deviceID, MAC, serial, IP address or key)"
        )
    if channel is None:
        return device_id_from(SOURCE, None, identity)
    return device_id_from(SOURCE, None, identity, str(channel))


def _degrees(value: Any) -> float | None:
    if isinstance(value, dict):
        degree, minute, second = (as_float(value.get(k)) for k in ("degree", "minute", "sec"))
        if degree is None:
            return None
        return degree + (minute or 0.0) / 60.0 + (second or 0.0) / 3600.0
    return as_float(value)


def _gps(info: Record) -> GeoPoint | None:
    """Position from DeviceGPSInfo (degrees/minutes/seconds + hemisphere; WGS-84 GPS)."""
    if not info:
        return None
    lat, lon = _degrees(info.get("Latitude")), _degrees(info.get("Longitude"))
    if lat is None or lon is None or (lat == 0.0 and lon == 0.0):
        return None
    if lower(info.get("latitudeType")) == "s":
        lat = -lat
    if lower(info.get("longitudeType")) == "w":
        lon = -lon
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None
    return construct(GeoPoint, dict(lat=lat, lon=lon))
