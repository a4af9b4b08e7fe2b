"""Captures stamped after they were received: a device clock that runs ahead.

Nothing is captured after it reaches us, so a capture time well past the receive time is a
device clock set wrong: most often a local wall clock sent as UTC (eight hours ahead in China),
or a zone set wrong on the camera. Taken as it is, such a time holds every capture of the device
in the dedup windows until the stream reaches it (hours during which it is not passed on, not
stored and not searchable), and sets its sightings hours away from the others they are compared
with (a cloned plate that is not one).

A capture more than ``limit`` ahead of its receipt is corrected:

- by a whole number of quarter hours when it is that far ahead give or take five minutes (a
  zone error: the device's clock is right but for its zone). The device's own timing is kept,
  so copies of one capture that arrive by different routes (the camera, a platform cascade a
  minute later) still fall together, and captures it sends up to five minutes late are late;
- otherwise to its receive time (``time_source`` ``received``), as for payloads without a time.
  So a capture such a camera buffered and sends later than that passes for a fresh one: one
  capture cannot tell its clock's error from its delay.

A face's track times move with it, and the device's own time is kept in
``attributes[DEVICE_TIME_ATTRIBUTE]``. Clocks a few seconds off are left as they are. Clocks that
run behind cannot be told apart from captures buffered during an outage and sent late: those stay
late (flagged, never alerted on as fresh).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from streams.canonical import CanonicalEvent, FaceCapture
from streams.canonical.models import rfc3339_millis
from streams.domain.vendor_time import TimeProvenance
from streams.vendors.base import DEFAULT_CLOCK_AHEAD_LIMIT

DEVICE_TIME_ATTRIBUTE = "device_captured_at"
ZONE_STEP = timedelta(minutes=15)  # zones are whole quarter hours from UTC
ZONE_SLACK = timedelta(minutes=5)  # the delay from capture to receipt a zone error may carry


def correction(
    captured: datetime, received: datetime, limit: timedelta = DEFAULT_CLOCK_AHEAD_LIMIT
) -> tuple[timedelta, bool]:
    """How much to take off ``captured`` (zero when it is not more than ``limit`` ahead of
    ``received``), and whether that is a zone error rather than the whole lead."""
    ahead = captured - received
    if ahead <= limit:
        return timedelta(0), False
    zone = ZONE_STEP * round(ahead / ZONE_STEP)
    if zone > timedelta(0) and abs(ahead - zone) <= ZONE_SLACK and ahead - zone <= limit:
        return zone, True
    return ahead, False


def corrected_if_ahead(
    event: CanonicalEvent, limit: timedelta = DEFAULT_CLOCK_AHEAD_LIMIT
) -> CanonicalEvent:
    """The event as it is, or with its capture time corrected when it is more than ``limit``
    after its receipt."""
    shift, zone = correction(event.captured_at, event.received_at, limit)
    if not shift:
        return event
    update: dict[str, Any] = {
        "captured_at": event.captured_at - shift,
        "attributes": {
            **event.attributes,
            DEVICE_TIME_ATTRIBUTE: rfc3339_millis(event.captured_at),
        },
    }
    if not zone:
        update["time_source"] = TimeProvenance.RECEIVED
    if isinstance(event, FaceCapture):
        if event.appeared_at is not None:
            update["appeared_at"] = event.appeared_at - shift
        if event.disappeared_at is not None:
            update["disappeared_at"] = event.disappeared_at - shift
    return event.model_copy(update=update)
