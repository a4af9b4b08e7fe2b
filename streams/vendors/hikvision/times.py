"""When a capture happened.

``dateTime`` keeps its offset (one-digit offset hours such as ``-8:00`` included); without
one it is local to the device zone. ANPR ``absTime`` (local, milliseconds) is read in the
offset of ``dateTime`` (else the device zone) and preferred when it lies within 60 s of
``dateTime``, else ``dateTime`` wins. An unreadable or implausible time (unsynchronised
cameras send 1970) does not lose the read: the receive time stands in (time_source
``received``) and the text is kept in ``attributes["unparsed_time"]``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache

from streams.canonical import TimeProvenance
from streams.domain.vendor_time import VendorTimeError, parse_compact, parse_iso8601
from streams.vendors.hikvision.attributes import MAX_VALUE
from streams.vendors.hikvision.envelope import Envelope

Captured = tuple[datetime, TimeProvenance]

_OFFSET_TAIL = re.compile(r"([+-])(\d{1,2}):?(\d\d)$")
_NEAR = timedelta(seconds=60)


def captured_at(
    env: Envelope, iso_texts: tuple[str | None, ...], abs_text: str | None = None
) -> Captured:
    """Capture time from the first usable ISO text, refined by absTime; else the receive time.

    Records the unreadable texts in the envelope's attributes when the receive time stands in.
    """
    found = iso_text = None
    for iso_text in iso_texts:
        if iso_text and (found := _iso(iso_text, env.zone, env.now)) is not None:
            break
    if abs_text:
        zone = env.zone
        if found is not None and found[1] is TimeProvenance.SOURCE_OFFSET and iso_text:
            zone = _offset_zone(iso_text) or zone
        try:
            precise: Captured | None = parse_compact(abs_text, zone, now=env.now)
        except VendorTimeError:
            precise = None
        if precise is not None:
            if found is None:
                return precise
            if abs(precise[0] - found[0]) <= _NEAR:
                return precise[0], found[1]
    if found is not None:
        return found
    bad = [t for t in (*iso_texts, abs_text) if t]
    if bad:
        env.attributes["unparsed_time"] = " | ".join(bad)[:MAX_VALUE]
    return env.received_at, TimeProvenance.RECEIVED


def _iso(text: str, zone: tzinfo, now: datetime) -> Captured | None:
    try:
        return parse_iso8601(text, zone, now=now)
    except VendorTimeError:
        return None


def _offset_zone(text: str) -> tzinfo | None:
    """The fixed offset an ISO-8601 text ends with (to read absTime in the same offset)."""
    if text[-1:] in ("Z", "z"):
        return UTC
    match = _OFFSET_TAIL.search(text)
    return None if match is None else _fixed_zone(*match.groups())


@lru_cache(maxsize=256)
def _fixed_zone(sign: str, hours: str, minutes: str) -> tzinfo | None:
    offset = timedelta(hours=int(hours), minutes=int(minutes))
    if offset >= timedelta(hours=24):
        return None
    return timezone(-offset if sign == "-" else offset)
