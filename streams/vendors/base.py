"""The contract every vendor adapter follows: raw bytes + metadata -> canonical events.

An adapter is a pure function ``(RawPayload, Context) -> Normalized``. It raises ``AdapterError``
for a payload it cannot use at all; a payload with several records may return the good ones as
events and the bad ones as ``Rejected``. ``normalize`` wraps every adapter so that no input, not
even arbitrary bytes, escapes as an exception: it becomes a rejection with a readable reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from streams.canonical import CanonicalEvent
from streams.domain.devices import DeviceRegistry
from streams.settings import Settings

DEFAULT_CLOCK_AHEAD_LIMIT = timedelta(
    seconds=Settings.model_fields["clock_ahead_limit_seconds"].default
)


class AdapterError(ValueError):
    """The payload cannot be used; the message says why, for a person to act on."""


@dataclass(frozen=True, slots=True)
class RawPayload:
    source: str  # one of streams.topics.SOURCES
    body: bytes  # exactly as received
    received_at: datetime  # UTC-aware
    key: str | None = None  # device hint: the Kafka key the gateway set
    content_type: str | None = None  # HTTP Content-Type, when the gateway saw one


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: str
    record: bytes | None = None  # the part that failed, when the payload held several


@dataclass(slots=True)
class Normalized:
    events: list[CanonicalEvent] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    skipped: str | None = None  # why a payload holds no event on purpose (heartbeat, keepalive)
    clock_ahead: int = 0  # events whose capture time was corrected: their device's clock runs ahead


@dataclass(frozen=True)
class Context:
    """What adapters may consult besides the payload."""

    devices: DeviceRegistry | None = None
    default_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # A capture time further than this past the receipt is a device clock set ahead.
    clock_ahead_limit: timedelta = DEFAULT_CLOCK_AHEAD_LIMIT

    def zone_for(self, device_id: str | None) -> ZoneInfo:
        """The device's configured zone, else the default (Asia/Shanghai)."""
        if device_id is not None and self.devices is not None:
            device = self.devices.get(device_id)
            if device is not None:
                return device.zone
        return self.default_zone


Adapter = Callable[[RawPayload, Context], Normalized]
