"""Captures stamped after they were received: a device clock that runs ahead.

Nothing is captured after it reaches us, so a capture time well past the receive time is a
device clock set wrong: most often a local wall clock sent as UTC (eight hours ahead in China),
or a zone set wrong on the camera. Taken as it is, such a time holds every capture of the device
in the dedup windows until the stream reaches it (hours during which it is not passed on, not
stored and not searchable), and sets its sightings hours away from the others they are compared
with (a cloned plate that is not one).

So a capture more than ``limit`` ahead of its receipt gets the receive time as its capture time
(provenance ``received``, as for payloads without a time), its face track times move with it,
and the device's own time is kept in ``attributes[DEVICE_TIME_ATTRIBUTE]``. Clocks a few seconds
off are left as they are. Clocks that run behind cannot be told apart from captures buffered
during an outage and sent late: those stay late (flagged, never alerted on as fresh).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from streams.canonical import CanonicalEvent, FaceCapture
from streams.canonical.models import rfc3339_millis
from streams.domain.vendor_time import TimeProvenance
from streams.vendors.base import DEFAULT_CLOCK_AHEAD_LIMIT

DEVICE_TIME_ATTRIBUTE = "device_captured_at"


def received_if_ahead(
    event: CanonicalEvent, limit: timedelta = DEFAULT_CLOCK_AHEAD_LIMIT
) -> CanonicalEvent:
    """The event as it is, or with its receive time as its capture time when its capture time
    is more than ``limit`` after its receipt."""
    ahead = event.captured_at - event.received_at
    if ahead <= limit:
        return event
    update: dict[str, Any] = {
        "captured_at": event.received_at,
        "time_source": TimeProvenance.RECEIVED,
        "attributes": {
            **event.attributes,
            DEVICE_TIME_ATTRIBUTE: rfc3339_millis(event.captured_at),
        },
    }
    if isinstance(event, FaceCapture):
        if event.appeared_at is not None:
            update["appeared_at"] = event.appeared_at - ahead
        if event.disappeared_at is not None:
            update["disappeared_at"] = event.disappeared_at - ahead
    return event.model_copy(update=update)
