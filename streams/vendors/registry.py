"""Which adapter reads which source, and the wrapper that never lets an input crash the caller."""

from __future__ import annotations

import logging

from streams.vendors.base import Adapter, AdapterError, Context, Normalized, RawPayload, Rejected
from streams.vendors.clock_ahead import corrected_if_ahead
from streams.vendors.dahua import normalize_dahua
from streams.vendors.frigate import normalize_frigate
from streams.vendors.gat1400 import normalize_gat1400
from streams.vendors.hikvision import normalize_hikvision
from streams.vendors.onvif import normalize_onvif
from streams.vendors.uniview import normalize_uniview

log = logging.getLogger(__name__)

ADAPTERS: dict[str, Adapter] = {
    "hikvision-isapi": normalize_hikvision,
    "dahua-cgi": normalize_dahua,
    "uniview-lapi": normalize_uniview,
    "gat1400": normalize_gat1400,
    "onvif": normalize_onvif,
    "frigate": normalize_frigate,
}


def normalize(raw: RawPayload, ctx: Context) -> Normalized:
    """Canonical events from one raw payload; anything unusable comes back as a rejection."""
    adapter = ADAPTERS.get(raw.source)
    if adapter is None:
        return Normalized(rejected=[Rejected(f"no adapter for source {raw.source!r}")])
    try:
        result = adapter(raw, ctx)
    except AdapterError as exc:
        return Normalized(rejected=[Rejected(f"{raw.source}: {exc}")])
    except Exception as exc:  # an input nobody foresaw must not stop the worker
        log.exception("adapter %s failed on a payload", raw.source)
        return Normalized(
            rejected=[Rejected(f"{raw.source}: unexpected {type(exc).__name__}: {exc}")]
        )
    for rejected in result.rejected:
        if not rejected.reason.startswith(raw.source):
            index = result.rejected.index(rejected)
            result.rejected[index] = Rejected(f"{raw.source}: {rejected.reason}", rejected.record)
    limit = ctx.clock_ahead_limit
    for index, event in enumerate(result.events):
        if event.captured_at - event.received_at > limit:  # rare: the check inline
            result.events[index] = corrected_if_ahead(event, limit)
            result.clock_ahead += 1
    if not result.events and not result.rejected and result.skipped is None:
        result.rejected.append(Rejected(f"{raw.source}: the payload holds no event"))
    return result
