"""Event times as vendors send them, turned into UTC.

Every parser returns ``(utc_datetime, TimeProvenance)``: an aware datetime in ``datetime.UTC``
truncated to whole milliseconds, and where its offset came from. Malformed or absurd input
raises :class:`VendorTimeError` and nothing else, so a normaliser can catch exactly that and
fall back to :func:`from_received`.

Absurd means before 2000-01-01T00:00Z or more than one day after ``now`` (injectable; the
wall clock by default).

``zone`` arguments take a ``tzinfo`` (e.g. ``Device.zone``) or an IANA name. Offset-less local
times are read with ``fold=0``: an ambiguous wall-clock time at a DST fall-back takes the first
(daylight) offset, a non-existent one in the spring-forward gap takes the pre-transition offset.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from enum import StrEnum
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo


class VendorTimeError(ValueError):
    """A vendor time value that cannot be read or is implausible."""


class TimeProvenance(StrEnum):
    SOURCE_OFFSET = "source_offset"  # the payload carried an offset, or is UTC by definition
    DEVICE_ZONE = "device_zone"  # offset-less local time read in the device's configured zone
    REAL_UTC = "real_utc"  # Dahua RealUTC
    EPOCH = "epoch"  # epoch seconds/milliseconds
    RECEIVED = "received"  # no usable time; the receive time stands in


EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
MAX_FUTURE = timedelta(days=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EARLIEST_US = (EARLIEST - _EPOCH) // timedelta(microseconds=1)
_MAX_FUTURE_US = MAX_FUTURE // timedelta(microseconds=1)

# Epoch values at or above this are milliseconds. As seconds it would be the year 5138 and as
# milliseconds 1973: both absurd, so no plausible value is ambiguous.
EPOCH_MS_THRESHOLD = 100_000_000_000

_ASCII_DIGITS = "0123456789"
_EPOCH_TEXT = re.compile(r"([0-9]{1,20})(?:\.([0-9]{0,12}))?")


@lru_cache(maxsize=1024)
def zone_for(name: str) -> ZoneInfo:
    """The ZoneInfo for an IANA name, cached; ``ValueError`` names an unknown zone."""
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):
        raise ValueError(f"{name!r} is not a known IANA time zone") from None


@lru_cache(maxsize=256)
def _fixed_offset(minutes: int) -> timezone:
    return UTC if minutes == 0 else timezone(timedelta(minutes=minutes))


def _zone(zone: tzinfo | str) -> tzinfo:
    return zone_for(zone) if isinstance(zone, str) else zone


def _utc_now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return now


def _finish(dt: datetime, now: datetime | None, what: str) -> datetime:
    """To UTC, truncated to milliseconds, range-checked."""
    try:
        utc = dt.astimezone(UTC)
    except (OverflowError, ValueError):
        raise VendorTimeError(f"{what} is out of range") from None
    sub_ms = utc.microsecond % 1000
    if sub_ms:
        utc = utc.replace(microsecond=utc.microsecond - sub_ms)
    if utc < EARLIEST:
        raise VendorTimeError(f"{what} is {utc.isoformat()}, before {EARLIEST.date()}")
    latest = _utc_now(now) + MAX_FUTURE
    if utc > latest:
        raise VendorTimeError(f"{what} is {utc.isoformat()}, more than a day in the future")
    return utc


def _shown(text: str) -> str:
    """A repr short enough for a log line, whatever the payload held."""
    return repr(text) if len(text) <= 64 else repr(text[:64]) + "..."


def _text(value: object, kind: str) -> str:
    if not isinstance(value, str):
        raise VendorTimeError(f"{kind} time must be text, got {type(value).__name__}")
    return value.strip()


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _local(
    year: int,
    month: int,
    day: int,
    hour: int,
    minute: int,
    second: int,
    millis: int,
    tz: tzinfo,
    what: str,
) -> datetime:
    try:
        return datetime(year, month, day, hour, minute, second, millis * 1000, tzinfo=tz)
    except ValueError as exc:
        raise VendorTimeError(f"{what}: {exc}") from None


def _two_digit_offset_hour(text: str) -> str:
    """``...T18:59:49-8:00`` as ``...T18:59:49-08:00``; any other text unchanged.

    Only a sign after a digit, one hour digit, ``:`` and minutes 00-59 are padded; every
    other offset is left to fromisoformat as it is.
    """
    if (
        len(text) > 6
        and text[-5] in "+-"
        and text[-3] == ":"
        and text[-6] in _ASCII_DIGITS
        and text[-4] in _ASCII_DIGITS
        and text[-2] in "012345"
        and text[-1] in _ASCII_DIGITS
    ):
        return f"{text[:-4]}0{text[-4:]}"
    return text


def parse_iso8601(
    text: str, zone: tzinfo | str, *, now: datetime | None = None
) -> tuple[datetime, TimeProvenance]:
    """ISO-8601 date and time: Hikvision ``dateTime``/``faceTime``, ONVIF ``UtcTime``.

    With an offset or ``Z`` the offset is used (Hikvision cameras may send UTC whatever their
    configured zone, so it is never second-guessed); without one the time is local in ``zone``.
    A one-digit offset hour (``-8:00``, ``+7:00``, seen in public Hikvision samples) is read as
    ``-08:00``; it must be followed by ``:`` and two-digit minutes (00-59). A date without a
    time is rejected rather than read as midnight.
    """
    raw = _text(text, "ISO-8601")
    what = f"ISO-8601 time {_shown(raw)}"
    # fromisoformat accepts any separator and date-only text; insist on a time of day.
    extended = len(raw) > 10 and raw[4] == "-" and raw[10] in "Tt "
    basic = len(raw) > 8 and raw[8] in "Tt"
    if not (extended or basic):
        raise VendorTimeError(f"{what} is not an ISO-8601 date and time")
    if raw[-1] == "z":
        raw = raw[:-1] + "Z"
    try:
        dt = datetime.fromisoformat(_two_digit_offset_hour(raw))
    except ValueError:
        raise VendorTimeError(f"{what} is not ISO-8601") from None
    if dt.tzinfo is None:
        return _finish(dt.replace(tzinfo=_zone(zone)), now, what), TimeProvenance.DEVICE_ZONE
    return _finish(dt, now, what), TimeProvenance.SOURCE_OFFSET


# UTC offset of a zone's local minute, as ``datetime(..., tzinfo=zone)`` (fold=0) gives it:
# the zone rules are looked up once per minute of local time instead of per event.
_OFFSETS: dict[tuple[tzinfo, str], timedelta | None] = {}


def _compact_local_fast(text: object, zone: tzinfo | str, now: datetime | None) -> datetime | None:
    """The common case of ``parse_compact``: exactly 14 or 17 ASCII digits, valid and within the
    accepted range. None means "take the general path" (which also words any error)."""
    if text.__class__ is not str:
        return None
    raw = str(text)
    n = len(raw)
    if (n != 14 and n != 17) or not (raw.isascii() and raw.isdigit()):
        return None
    try:
        tz = _zone(zone)
        local = datetime(
            int(raw[:4]),
            int(raw[4:6]),
            int(raw[6:8]),
            int(raw[8:10]),
            int(raw[10:12]),
            int(raw[12:14]),
            int(raw[14:]) * 1000 if n == 17 else 0,
            tzinfo=tz,
        )
        key = (tz, raw[:12])
        offset = _OFFSETS.get(key)
        if offset is None:
            offset = local.utcoffset()
            if offset is None:
                return None
            if len(_OFFSETS) >= 100_000:
                _OFFSETS.clear()
            _OFFSETS[key] = offset
        # Shift the wall-clock fields by the offset, then read them as UTC.
        utc = (local - offset).replace(tzinfo=UTC)
        latest = (now if now is not None else datetime.now(UTC)) + MAX_FUTURE
        if utc < EARLIEST or utc > latest:
            return None
    except (ValueError, TypeError, OverflowError):
        return None
    return utc


def parse_compact(
    text: str, zone: tzinfo | str, *, now: datetime | None = None
) -> tuple[datetime, TimeProvenance]:
    """Digit-run times, local in ``zone`` unless they carry an offset.

    - ``yyyyMMddHHmmss``: GA/T 1400 ``PassTime``/``ShotTime`` (Beijing time by convention).
    - ``yyyyMMddHHmmssSSS``: Hikvision ``absTime``, Uniview ``PassTime``.
    - ``yyyyMMddTHHmmss`` optionally followed by ``[+-]hhmm``: Hikvision ANPR poll
      ``captureTime``. The four trailing digits of ``20200424T1616270000`` are read as a UTC
      offset with the sign left out, not a fraction (inferred from public samples: another
      reads ``20340109T094130+0400``, and in both the tail differs from the sub-second tail
      of the same capture's ``picName``). An unsigned offset is taken as positive.
    """
    fast = _compact_local_fast(text, zone, now)
    if fast is not None:
        return fast, TimeProvenance.DEVICE_ZONE
    raw = _text(text, "compact")
    what = f"compact time {_shown(raw)}"
    n = len(raw)
    offset_minutes: int | None = None
    if n in (14, 17) and _is_digits(raw):
        date, clock, frac = raw[:8], raw[8:14], raw[14:]
    elif n >= 15 and raw[8] in "Tt" and _is_digits(raw[:8]) and _is_digits(raw[9:15]):
        date, clock, frac = raw[:8], raw[9:15], ""
        tail = raw[15:]
        if tail:
            sign = -1 if tail[0] == "-" else 1
            digits = tail[1:] if tail[0] in "+-" else tail
            if len(digits) != 4 or not _is_digits(digits):
                raise VendorTimeError(f"{what} has a malformed offset {tail!r}")
            hours, minutes = int(digits[:2]), int(digits[2:])
            if hours > 23 or minutes > 59:
                raise VendorTimeError(f"{what} has an impossible offset {tail!r}")
            offset_minutes = sign * (hours * 60 + minutes)
    else:
        raise VendorTimeError(
            f"{what} is not yyyyMMddHHmmss, yyyyMMddHHmmssSSS or yyyyMMddTHHmmss[+hhmm]"
        )
    tz = _zone(zone) if offset_minutes is None else _fixed_offset(offset_minutes)
    local = _local(
        int(date[:4]),
        int(date[4:6]),
        int(date[6:8]),
        int(clock[:2]),
        int(clock[2:4]),
        int(clock[4:6]),
        int(frac) if frac else 0,
        tz,
        what,
    )
    if offset_minutes is None:
        return _finish(local, now, what), TimeProvenance.DEVICE_ZONE
    return _finish(local, now, what), TimeProvenance.SOURCE_OFFSET


def _epoch_micros(value: object, what: str) -> int:
    """Microseconds since the epoch from seconds or milliseconds (chosen by magnitude)."""
    if isinstance(value, bool):
        raise VendorTimeError(f"{what} is a boolean, not a number")
    if isinstance(value, int):
        return value * 1000 if value >= EPOCH_MS_THRESHOLD else value * 1_000_000
    if isinstance(value, float):
        if not math.isfinite(value):
            raise VendorTimeError(f"{what} is not a finite number")
        # Rounding to whole microseconds first keeps 1706600095.123 from becoming .122999.
        scaled = value * (1000 if value >= EPOCH_MS_THRESHOLD else 1_000_000)
        if not math.isfinite(scaled):
            raise VendorTimeError(f"{what} is out of range")
        return round(scaled)
    if isinstance(value, str):
        match = _EPOCH_TEXT.fullmatch(value.strip())
        if match is None:
            raise VendorTimeError(f"{what} is not a decimal number")
        whole = int(match.group(1))
        frac = (match.group(2) or "")[:6].ljust(6, "0")
        if whole >= EPOCH_MS_THRESHOLD:
            return whole * 1000 + int(frac[:3])
        return whole * 1_000_000 + int(frac)
    raise VendorTimeError(f"{what} must be a number or text, got {type(value).__name__}")


def _from_epoch_micros(
    micros: int, now: datetime | None, what: str, provenance: TimeProvenance
) -> tuple[datetime, TimeProvenance]:
    # Range-check the integer first: huge values would overflow timedelta.
    if micros < _EARLIEST_US:
        raise VendorTimeError(f"{what} is before {EARLIEST.date()}")
    if micros > round(_utc_now(now).timestamp() * 1_000_000) + _MAX_FUTURE_US:
        raise VendorTimeError(f"{what} is more than a day in the future")
    return _finish(_EPOCH + timedelta(microseconds=micros), now, what), provenance


def parse_epoch(
    value: int | float | str, *, now: datetime | None = None
) -> tuple[datetime, TimeProvenance]:
    """Unix time (UTC by definition): Uniview ``TimeStamp``, Frigate floats, epoch-ms fields.

    Values below :data:`EPOCH_MS_THRESHOLD` (1e11) are seconds, larger ones milliseconds;
    text may carry a decimal fraction. Negative numbers, exponents and signs are rejected.
    """
    what = f"epoch time {_shown(value) if isinstance(value, str) else repr(value)}"
    return _from_epoch_micros(_epoch_micros(value, what), now, what, TimeProvenance.EPOCH)


def _dahua_int(value: object, key: str, maximum: int | None = None) -> int:
    """A Dahua integer field: int, or digit text from the flattened key=value form."""
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and _is_digits(value.strip()):
        number = int(value.strip())
    if number is None or number < 0 or (maximum is not None and number > maximum):
        limit = f" in 0..{maximum}" if maximum is not None else ""
        raise VendorTimeError(f"Dahua {key} {value!r} is not a whole number{limit}")
    return number


def _parse_locale_time(text: str, tz: tzinfo) -> datetime:
    what = f"Dahua LocaleTime {_shown(text)}"
    if (
        len(text) != 19
        or text[4] != "-"
        or text[7] != "-"
        or text[10] not in " T"
        or text[13] != ":"
        or text[16] != ":"
        or not _is_digits(text[:4] + text[5:7] + text[8:10] + text[11:13] + text[14:16] + text[17:])
    ):
        raise VendorTimeError(f"{what} is not yyyy-MM-dd HH:mm:ss")
    return _local(
        int(text[:4]),
        int(text[5:7]),
        int(text[8:10]),
        int(text[11:13]),
        int(text[14:16]),
        int(text[17:19]),
        0,
        tz,
        what,
    )


def parse_dahua(
    data: Mapping[str, Any], zone: tzinfo | str, *, now: datetime | None = None
) -> tuple[datetime, TimeProvenance]:
    """Dahua event time from the event's ``data`` object (or flattened fields).

    Order: ``RealUTC`` (true epoch seconds; a value of 0 counts as absent) plus ``UTCMS``;
    else ``UTC``, which Dahua fills with the local wall-clock encoded as if it were UTC, so its
    calendar fields are read as local time in ``zone``; else ``LocaleTime`` in ``zone``.
    A field that is present but malformed is an error rather than a reason to try the next.
    """
    millis = 0
    if data.get("UTCMS") not in (None, ""):
        millis = _dahua_int(data["UTCMS"], "UTCMS", 999)

    real = data.get("RealUTC")
    real_seconds = 0 if real in (None, "") else _dahua_int(real, "RealUTC")
    if real_seconds:
        micros = real_seconds * 1_000_000 + millis * 1000
        what = f"Dahua RealUTC {real!r}"
        return _from_epoch_micros(micros, now, what, TimeProvenance.REAL_UTC)

    utc = data.get("UTC")
    if utc not in (None, ""):
        seconds = _dahua_int(utc, "UTC")
        what = f"Dahua UTC {utc!r}"
        try:
            wall = _EPOCH + timedelta(seconds=seconds, milliseconds=millis)
        except OverflowError:
            raise VendorTimeError(f"{what} is out of range") from None
        # Keep the calendar fields, swap the zone: that is the whole Dahua fix.
        return _finish(wall.replace(tzinfo=_zone(zone)), now, what), TimeProvenance.DEVICE_ZONE

    locale = data.get("LocaleTime")
    if locale not in (None, ""):
        text = _text(locale, "Dahua LocaleTime")
        local = _parse_locale_time(text, _zone(zone))
        return _finish(local, now, f"Dahua LocaleTime {_shown(text)}"), TimeProvenance.DEVICE_ZONE

    raise VendorTimeError("Dahua event has no RealUTC, UTC or LocaleTime")


def from_received(received_at: datetime | None = None) -> tuple[datetime, TimeProvenance]:
    """The fallback when a payload has no usable time: the (aware) receive time, or now."""
    at = _utc_now(received_at).astimezone(UTC)
    return at.replace(microsecond=at.microsecond - at.microsecond % 1000), TimeProvenance.RECEIVED
