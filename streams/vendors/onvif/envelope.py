"""Device, channel and capture time: what every ONVIF event shares.

Device. A metadata stream does not name its device: the device is the gateway's key (a GB/T 28181
code is used as it is, anything else becomes a derived id). The video source token (the Source
item ``VideoSourceConfigurationToken``, ``VideoSourceToken``, ``VideoSource``, or ``Source`` under
``VideoSource`` topics; or the frame attribute ``VideoSourceToken``) gives ``channel`` when it
ends in digits (taken as sent, no base shift) and stays in the attributes. It is deliberately not
part of the device id: frames rarely carry it while events do, and one camera must keep one id.

Time. ``UtcTime`` (frames and event messages alike) is UTC by definition, with or without a
``Z``; without one the receive time stands in.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from streams.canonical import TimeProvenance
from streams.domain.vendor_time import VendorTimeError, parse_iso8601
from streams.vendors.base import AdapterError, Context, RawPayload
from streams.vendors.common import as_str, cached_device_id, position_of, received_fallback

SOURCE = "onvif"

_CHANNEL = re.compile(r"([0-9]{1,6})$")


def device_id_for(hint: str | None) -> str:
    """The device id for the gateway's hint."""
    if as_str(hint) is None:
        raise AdapterError(
            "no device identity: ONVIF metadata does not name its device and the gateway set no key"
        )
    return cached_device_id(SOURCE, hint)


def channel_of(token: str | None) -> int | None:
    """The digits a video source token ends in, as sent."""
    if token is None:
        return None
    match = _CHANNEL.search(token)
    return int(match.group(1)) if match else None


def utc_time(text: str | None, raw: RawPayload) -> tuple[datetime, TimeProvenance]:
    """``UtcTime`` is UTC by definition, with or without a ``Z``."""
    if text is None:
        return received_fallback(raw.received_at), TimeProvenance.RECEIVED
    try:
        at, _provenance = parse_iso8601(text, UTC, now=raw.received_at)
    except VendorTimeError as exc:
        raise AdapterError(f"UtcTime: {exc}") from None
    return at, TimeProvenance.SOURCE_OFFSET


def envelope(
    device_id: str,
    channel: int | None,
    captured_at: datetime,
    provenance: TimeProvenance,
    raw: RawPayload,
    ctx: Context,
) -> dict[str, object]:
    """The fields every event shares, but its id."""
    return dict(
        source=SOURCE,
        source_event_id=None,
        device_id=device_id,
        channel=channel,
        captured_at=captured_at,
        received_at=received_fallback(raw.received_at),
        time_source=provenance,
        position=position_of(device_id, ctx),
    )
