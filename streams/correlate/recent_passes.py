"""Passes the deduplicator has already passed on, kept so a late copy of one is recognised.

A pass (or face track, or repeated alarm) is summarised when its group closes: the group key it
was clustered under, the capture times of its first and last reads, its anchor (the event id of
its first-seen read), its plates and its lane. A late read of the same key *belongs* to such a
pass when the on-time clustering would have put it there: captured less than a window from the
pass's reads (between ``first - window`` and ``last + window``, both exclusive: any capture time
inside the pass is less than a window from the read before it), no lane conflict, and (readable
plates) one OCR confusion from one of the pass's plates.

The summaries live in the deduplicator's memory buckets, beside the ids of the same closing, and
are forgotten with them; this module holds the index over them and the matching rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Final

from streams.canonical.models import CanonicalEvent, PlateCapture
from streams.domain.plates import one_confusion_apart

__all__ = ["PassSummary", "RecentPasses", "belongs", "summarize"]

# (group key, first capture, last capture, anchor, plates, lane). Capture times as POSIX
# seconds: a summary is written to the change log with every closing, so it is kept small.
PassSummary = tuple[str, float, float, str, tuple[str, ...], int | None]

_KEY: Final = 0


def summarize(key: str, reads: Sequence[CanonicalEvent], anchor: str) -> PassSummary:
    """The summary of a closed group's reads (sorted by capture time)."""
    plates: tuple[str, ...] = ()
    lane: int | None = None
    first = reads[0]
    if len(reads) == 1:  # most passes: one read
        at = first.captured_at.timestamp()
        if isinstance(first, PlateCapture):
            number = first.plate_number
            return (key, at, at, anchor, () if number is None else (number,), first.lane)
        return (key, at, at, anchor, plates, lane)
    if isinstance(first, PlateCapture):
        seen: list[str] = []
        for read in reads:
            assert isinstance(read, PlateCapture)
            number = read.plate_number
            if number is not None and number not in seen:
                seen.append(number)
            if lane is None:
                lane = read.lane
        plates = tuple(seen)
    return (
        key,
        first.captured_at.timestamp(),
        reads[-1].captured_at.timestamp(),
        anchor,
        plates,
        lane,
    )


def belongs(summary: PassSummary, event: CanonicalEvent, window: timedelta) -> bool:
    """Whether ``event`` (of the summary's group key) is a read of the summarised pass."""
    _, first, last, _, plates, lane = summary
    span = window.total_seconds()
    at = event.captured_at.timestamp()
    if not first - span < at < last + span:
        return False
    if not isinstance(event, PlateCapture):
        return True
    if lane is not None and event.lane is not None and event.lane != lane:
        return False
    number = event.plate_number
    if number is None:
        return not plates  # an unreadable read, of an unreadable pass (same key)
    return any(number == p or one_confusion_apart(number, p) for p in plates)


class RecentPasses:
    """The summaries of the passes remembered, by group key."""

    def __init__(self) -> None:
        self._by_key: dict[str, list[PassSummary]] = {}

    def __len__(self) -> int:
        return sum(len(held) for held in self._by_key.values())

    def add(self, summaries: Sequence[PassSummary]) -> None:
        by_key = self._by_key
        for summary in summaries:
            held = by_key.get(summary[_KEY])
            if held is None:
                by_key[summary[_KEY]] = [summary]
            else:
                held.append(summary)

    def remove(self, summaries: Sequence[PassSummary]) -> None:
        by_key = self._by_key
        for summary in summaries:
            held = by_key.get(summary[_KEY])
            if held is None:
                continue
            try:
                held.remove(summary)
            except ValueError:  # not held (a restore replaced it already)
                continue
            if not held:
                del by_key[summary[_KEY]]

    def holds(self, key: str) -> bool:
        return key in self._by_key

    def find(self, key: str, event: CanonicalEvent, window: timedelta) -> str | None:
        """The anchor of a remembered pass of ``key`` that ``event`` belongs to, if any."""
        for summary in self._by_key.get(key, ()):
            if belongs(summary, event, window):
                return summary[3]
        return None
