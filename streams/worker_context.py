"""The adapters' context in a worker: the device registry and the default zone, from settings."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from streams.domain.devices import DeviceRegistry, DeviceRegistryError
from streams.errors import ConfigError
from streams.settings import Settings
from streams.vendors.base import Context


def normalize_context(settings: Settings) -> Context:
    try:
        zone = ZoneInfo(settings.default_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"STREAMS_DEFAULT_TIMEZONE {settings.default_timezone!r} is not an "
            "IANA time zone (e.g. Asia/Shanghai)"
        ) from None
    devices = None
    if settings.devices_csv is not None:
        try:
            devices = DeviceRegistry.from_csv(settings.devices_csv)
        except FileNotFoundError:
            raise ConfigError(f"device registry {settings.devices_csv} does not exist") from None
        except DeviceRegistryError as exc:
            raise ConfigError(str(exc)) from None
    return Context(
        devices=devices,
        default_zone=zone,
        clock_ahead_limit=timedelta(seconds=settings.clock_ahead_limit_seconds),
    )
