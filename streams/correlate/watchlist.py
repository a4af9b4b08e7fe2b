"""Watchlists (布控): plate patterns and face embeddings that raise an alert on first sight.

A watchlist is the compacted ``watchlist`` topic replayed into memory on every worker, so
:class:`Watchlist` keeps no change-log state: it is rebuilt from the topic, never restored.
Exact plate entries are found with one dict look-up. Wildcard entries (``*`` any run, ``?`` one
character) are grouped by the literal characters they begin with (up to 3; ``京A1*`` under
``京A1``), or else those they end with (``*888`` under ``888``), or else in one floating group;
each group is pre-filtered by one combined regular expression. A plate looks up the groups of its
first and last characters (only the group lengths in use) and the floating group, so one that
matches nothing costs a few dict look-ups and a regex miss per group that shares its start or
end, whatever the size of the list.

:class:`WatchlistRule` alerts on the first read of a pass (or face track) that matches an entry,
without waiting for deduplication to pick the best read: a hit must reach an officer within a
second. Later reads of the same pass matching the same entry are suppressed, and the alert id
(entry + first read of the pass) makes any repeat that slips through (a restart, a replay)
idempotent downstream.
"""

from __future__ import annotations

import math
import operator
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from streams.canonical.models import CanonicalEvent, FaceCapture, PlateCapture
from streams.correlate.config import RuleConfig
from streams.correlate.records import (
    DEFAULT_PRIORITY,
    Alert,
    Rule,
    WatchlistEntry,
    WatchTarget,
    digest_id,
    sighting,
)
from streams.correlate.state import Stateful, StateTable
from streams.domain.plates import canonical_plate

__all__ = [
    "PlatePattern",
    "Watchlist",
    "WatchlistRule",
    "compile_plate_pattern",
    "read_watchlist_file",
    "watchlist_from_entries",
]

# Longest canonical plate (foreign_or_unknown: 4-10 characters; Chinese formats are 7-8).
MAX_PLATE_LENGTH: Final = 10
_WILDCARDS: Final = "*?"
# Separators people type inside plates; canonical plates have none (streams.domain.plates).
_DELETE: Final = str.maketrans(
    "", "", " \t\r\n\v\f\u00a0\u3000·•・‧._-\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
)
_RUNS_OF_STARS: Final = re.compile(r"\*+")
# Wildcard patterns are grouped by up to this many literal characters at their start or end.
_GROUP_CHARS: Final = 3
_FLOATING: Final = ""  # the group of patterns with a wildcard at both ends


class PlatePattern:
    """A compiled plate pattern: exact (a canonical plate) or with wildcards."""

    __slots__ = ("_compiled", "exact", "regex", "text")

    def __init__(self, text: str, exact: str | None, regex: str | None) -> None:
        self.text = text  # normalised pattern: the canonical plate, or the wildcard form
        self.exact = exact  # the canonical plate of a pattern without wildcards, else None
        self.regex = regex  # wildcard patterns: the regular expression source, else None
        self._compiled = None if regex is None else re.compile(regex)

    @property
    def group(self) -> str:
        """The index group of a wildcard pattern: ``<`` + its first literal characters (up to
        3), else ``>`` + its last ones, else "" (a wildcard at both ends)."""
        text = self.text
        head = len(text) - len(text.lstrip(_WILDCARDS))
        if head == 0:
            cut = min(i for i in (text.find("*"), text.find("?")) if i >= 0)
            return "<" + text[: min(cut, _GROUP_CHARS)]
        tail = len(text.rstrip(_WILDCARDS))
        if tail < len(text):
            return _FLOATING
        start = max(i for i in (text.rfind("*"), text.rfind("?"))) + 1
        return ">" + text[max(start, len(text) - _GROUP_CHARS) :]

    def matches(self, plate: str) -> bool:
        """Whether a canonical plate number matches."""
        if self._compiled is None:
            return plate == self.exact
        return self._compiled.fullmatch(plate) is not None

    def __repr__(self) -> str:
        return f"PlatePattern({self.text!r})"


def compile_plate_pattern(pattern: str) -> PlatePattern:
    """Compile a watchlist plate pattern.

    The pattern is NFKC-normalised (full-width characters, ``＊`` and ``？`` included), upper-cased
    and stripped of the separators people type inside plates (spaces, ``-``, ``·``, ``.``, ``_``).
    Without wildcards it must be a valid plate and matches its canonical form exactly (so
    ``"京a·I2345"`` watches ``京A12345``). With wildcards it is matched against the canonical
    plate number as written: ``*`` is any run of characters (possibly empty), ``?`` exactly one
    character, every other character itself. Canonical plates never contain ``I`` or ``O`` in
    Chinese serial positions, so write ``1`` and ``0`` there.

    Raises:
        ValueError: empty pattern, not a valid plate (no wildcards), characters that never occur
            in a plate, only wildcards (it would watch every vehicle), or longer than any plate.
    """
    text = unicodedata.normalize("NFKC", pattern).upper().translate(_DELETE)
    if not text:
        raise ValueError(f"empty plate pattern {pattern!r}")
    if "*" not in text and "?" not in text:
        exact = canonical_plate(text)
        if exact is None:
            raise ValueError(
                f"plate pattern {pattern!r} is not a valid plate (use * or ? for a partial plate)"
            )
        return PlatePattern(exact, exact, None)
    text = _RUNS_OF_STARS.sub("*", text)
    bad = sorted({ch for ch in text if ch not in _WILDCARDS and not ch.isalnum()})
    if bad:
        raise ValueError(
            f"plate pattern {pattern!r} has characters that never occur in a plate: "
            + " ".join(repr(ch) for ch in bad)
        )
    if not text.strip(_WILDCARDS):
        raise ValueError(
            f"plate pattern {pattern!r} would match every plate: add at least one character "
            "besides * and ?"
        )
    shortest = len(text) - text.count("*")
    if shortest > MAX_PLATE_LENGTH:
        raise ValueError(
            f"plate pattern {pattern!r} needs {shortest} characters; no plate has more than "
            f"{MAX_PLATE_LENGTH}"
        )
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in text)
    return PlatePattern(text, None, regex)


def _live(entry: WatchlistEntry, at: datetime) -> bool:
    expires = entry.expires_at
    return expires is None or expires > at


def _order(entry: WatchlistEntry) -> tuple[int, str]:
    return entry.priority, entry.entry_id


class _FaceEntry:
    __slots__ = ("entry", "threshold", "unit")

    def __init__(self, entry: WatchlistEntry, unit: tuple[float, ...], threshold: float) -> None:
        self.entry = entry
        self.unit = unit  # the entry's embedding scaled to length 1
        self.threshold = threshold


class Watchlist:
    """The current watchlist entries, indexed for matching (not Stateful: see module doc)."""

    def __init__(self) -> None:
        self._entries: dict[str, WatchlistEntry] = {}
        self._patterns: dict[str, PlatePattern] = {}
        # Canonical plate -> entries, sorted by (priority, entry_id).
        self._exact: dict[str, list[WatchlistEntry]] = {}
        # Group (PlatePattern.group) -> entry id -> (pattern, entry).
        self._wild: dict[str, dict[str, tuple[PlatePattern, WatchlistEntry]]] = {}
        # Combined regex of each wildcard group; a missing group is rebuilt on the next match
        # (a watchlist loads entry by entry: rebuilding on every apply would be quadratic).
        self._prefilter: dict[str, re.Pattern[str]] = {}
        # The prefix and suffix lengths of the groups present; None: recompute on next match.
        self._sizes: tuple[tuple[int, ...], tuple[int, ...]] | None = None
        self._faces: dict[str, _FaceEntry] = {}

    def apply(self, entry_id: str, entry: WatchlistEntry | None) -> None:
        """Add, replace (``entry``) or delete (``None``) the entry stored under ``entry_id``.

        An invalid entry replaces the previous one all the same (the previous one is removed,
        then ValueError is raised): a restarted worker only sees the latest record of the
        compacted topic, and every worker must hold the same watchlist.

        Raises:
            ValueError: the entry cannot match (entry_id differs from the key, unknown target,
                invalid plate pattern, face entry without embedding or threshold, zero vector).
        """
        self._remove(entry_id)
        if entry is None:
            return
        if entry.entry_id != entry_id:
            raise ValueError(f"watchlist entry {entry.entry_id!r} stored under key {entry_id!r}")
        if entry.target == WatchTarget.PLATE:
            if entry.pattern is None:
                raise ValueError(f"watchlist entry {entry_id!r}: plate entry without a pattern")
            pattern = compile_plate_pattern(entry.pattern)
            self._patterns[entry_id] = pattern
            if pattern.exact is not None:
                listed = [*self._exact.get(pattern.exact, ()), entry]
                listed.sort(key=_order)
                self._exact[pattern.exact] = listed
            else:
                self._wild.setdefault(pattern.group, {})[entry_id] = (pattern, entry)
                self._prefilter.pop(pattern.group, None)
                self._sizes = None
        elif entry.target == WatchTarget.FACE:
            self._faces[entry_id] = _face_entry(entry)
        else:
            raise ValueError(
                f"watchlist entry {entry_id!r}: unknown target {entry.target!r} "
                "(expected 'plate' or 'face')"
            )
        self._entries[entry_id] = entry

    def _remove(self, entry_id: str) -> None:
        if self._entries.pop(entry_id, None) is None:
            return
        self._faces.pop(entry_id, None)
        pattern = self._patterns.pop(entry_id, None)
        if pattern is None:
            return
        if pattern.exact is not None:
            kept = [e for e in self._exact[pattern.exact] if e.entry_id != entry_id]
            if kept:
                self._exact[pattern.exact] = kept
            else:
                del self._exact[pattern.exact]
        else:
            group = self._wild[pattern.group]
            del group[entry_id]
            if not group:
                del self._wild[pattern.group]
                self._sizes = None
            self._prefilter.pop(pattern.group, None)

    def entries(self) -> list[WatchlistEntry]:
        """Every entry, by entry id."""
        return [self._entries[key] for key in sorted(self._entries)]

    def has_plate_entries(self) -> bool:
        return bool(self._exact or self._wild)

    def match_plate(self, plate: str, at: datetime) -> list[WatchlistEntry]:
        """Entries matching a canonical plate and not expired at ``at`` (the capture time),
        sorted by (priority, entry_id)."""
        exact = self._exact.get(plate)
        found = [e for e in exact if _live(e, at)] if exact else []
        wild = self._wild
        if not wild:
            return found
        sizes = self._sizes
        if sizes is None:
            sizes = self._sizes = _group_sizes(wild)
        prefixes, suffixes = sizes
        # Few look-ups: only the group lengths present (string slicing + one dict probe each).
        keys = [_FLOATING]
        keys += ["<" + plate[:n] for n in prefixes if n <= len(plate)]
        keys += [">" + plate[-n:] for n in suffixes if n <= len(plate)]
        for key in keys:
            group = wild.get(key)
            if group is None or self._group_regex(key).fullmatch(plate) is None:
                continue
            found.extend(e for p, e in group.values() if p.matches(plate) and _live(e, at))
        if len(found) > 1:
            found.sort(key=_order)
        return found

    def is_watched_plate(self, plate: str, at: datetime) -> bool:
        exact = self._exact.get(plate)
        if exact and any(_live(e, at) for e in exact):
            return True
        return bool(self._wild) and bool(self.match_plate(plate, at))

    def match_face(
        self, embedding: Sequence[float], at: datetime
    ) -> list[tuple[WatchlistEntry, float]]:
        """Face entries whose cosine similarity with ``embedding`` is at least their threshold,
        not expired at ``at``, sorted by (priority, entry_id). Entries whose embedding has another
        dimension (another face model) never match."""
        if not self._faces:
            return []
        norm = math.sqrt(sum(map(operator.mul, embedding, embedding)))
        if norm == 0.0:
            return []
        size = len(embedding)
        found: list[tuple[WatchlistEntry, float]] = []
        for face in self._faces.values():
            if len(face.unit) != size or not _live(face.entry, at):
                continue
            similarity = sum(map(operator.mul, face.unit, embedding)) / norm
            if similarity >= face.threshold:
                found.append((face.entry, similarity))
        found.sort(key=lambda hit: _order(hit[0]))
        return found

    def _group_regex(self, first: str) -> re.Pattern[str]:
        regex = self._prefilter.get(first)
        if regex is None:
            sources = sorted({p.regex or "" for p, _ in self._wild[first].values()})
            regex = self._prefilter[first] = re.compile("|".join(f"(?:{s})" for s in sources))
        return regex


def _group_sizes(wild: dict[str, Any]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The lengths of the prefix groups and of the suffix groups present."""
    prefixes = sorted({len(key) - 1 for key in wild if key.startswith("<")})
    suffixes = sorted({len(key) - 1 for key in wild if key.startswith(">")})
    return tuple(prefixes), tuple(suffixes)


def _face_entry(entry: WatchlistEntry) -> _FaceEntry:
    if not entry.embedding:
        raise ValueError(f"watchlist entry {entry.entry_id!r}: face entry without an embedding")
    if entry.threshold is None:
        raise ValueError(f"watchlist entry {entry.entry_id!r}: face entry without a threshold")
    norm = math.sqrt(sum(x * x for x in entry.embedding))
    if norm == 0.0 or not math.isfinite(norm):
        raise ValueError(f"watchlist entry {entry.entry_id!r}: embedding has no direction")
    return _FaceEntry(entry, tuple(x / norm for x in entry.embedding), entry.threshold)


def watchlist_from_entries(entries: Iterable[WatchlistEntry]) -> Watchlist:
    """A watchlist holding ``entries`` (a later entry with the same id replaces an earlier one).

    Raises:
        ValueError: an entry cannot match (see :meth:`Watchlist.apply`).
    """
    watchlist = Watchlist()
    for entry in entries:
        watchlist.apply(entry.entry_id, entry)
    return watchlist


def read_watchlist_file(text: str, *, created_at: datetime) -> list[WatchlistEntry]:
    """Plate entries from a text file: one pattern per line, optionally ``,priority``.

    Blank lines and lines starting with ``#`` are skipped. The entry id is ``file:`` plus the
    pattern as written, upper-cased (so editing the file and loading it again replaces entries
    instead of duplicating them); the reason is ``watchlist file``.

    Raises:
        ValueError: naming the line number and the problem (invalid pattern, priority not an
            integer >= 1, more than one comma, the same pattern twice).
    """
    entries: list[WatchlistEntry] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = [part.strip() for part in line.split(",")]
        if len(parts) > 2:
            raise ValueError(f"line {number}: expected 'pattern' or 'pattern,priority': {line!r}")
        written = parts[0].upper()
        priority = DEFAULT_PRIORITY if len(parts) == 1 else _priority(parts[1], number)
        try:
            compile_plate_pattern(written)
        except ValueError as exc:
            raise ValueError(f"line {number}: {exc}") from None
        if written in seen:
            raise ValueError(f"line {number}: {written!r} is already on line {seen[written]}")
        seen[written] = number
        entries.append(
            WatchlistEntry(
                entry_id=f"file:{written}",
                target=WatchTarget.PLATE.value,
                pattern=written,
                priority=priority,
                reason="watchlist file",
                created_at=created_at,
            )
        )
    return entries


def _priority(text: str, number: int) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 2**31 - 1:
        raise ValueError(f"line {number}: priority must be an integer >= 1, got {text!r}")
    return int(text)


class WatchlistRule(Stateful):
    """Alerts on watchlist hits: one alert per (entry, pass or face track).

    State: ``watchlist.fired``: alert id (entry id + anchor) -> the time until which the pair is
    remembered: the latest matching read + the dedup window of its kind + ``lateness`` (after
    that no read of the pass can arrive on time) + ``dedup_memory`` (re-pushes arriving later).
    Only hits are stored, so expiring scans the whole (small) table.
    """

    def __init__(self, watchlist: Watchlist, config: RuleConfig) -> None:
        self.watchlist = watchlist
        self.config = config
        self.fired: StateTable[datetime] = StateTable("watchlist.fired")
        tail = config.lateness + config.dedup_memory
        self._plate_memory: timedelta = config.plate_window + tail
        self._face_memory: timedelta = config.face_window + tail

    def check(self, event: CanonicalEvent, anchor: str, now: datetime) -> list[Alert]:
        """Alerts for the entries ``event`` matches; ``anchor`` is the event id of the first read
        of its pass or track. Alarms, unreadable plates and faces without embedding: none."""
        alerts: list[Alert] = []
        if isinstance(event, PlateCapture):
            plate = event.plate_number
            if plate is None or not self.watchlist.has_plate_entries():
                return alerts
            for entry in self.watchlist.match_plate(plate, event.captured_at):
                alert = self._fire(event, anchor, entry, now, plate, self._plate_memory)
                if alert is not None:
                    alerts.append(alert)
        elif isinstance(event, FaceCapture) and event.embedding is not None:
            for entry, similarity in self.watchlist.match_face(event.embedding, event.captured_at):
                alert = self._fire(event, anchor, entry, now, None, self._face_memory, similarity)
                if alert is not None:
                    alerts.append(alert)
        return alerts

    def _fire(
        self,
        event: PlateCapture | FaceCapture,
        anchor: str,
        entry: WatchlistEntry,
        now: datetime,
        plate: str | None,
        memory: timedelta,
        similarity: float | None = None,
    ) -> Alert | None:
        alert_id = digest_id(Rule.WATCHLIST.value, entry.entry_id, anchor)
        keep_until = event.captured_at + memory
        held = self.fired.get(alert_id)
        if held is not None:
            if keep_until > held:  # a later read of the pass: remember the pass longer
                self.fired[alert_id] = keep_until
            return None
        self.fired[alert_id] = keep_until
        if similarity is None:
            details = {"pattern": entry.pattern or "", "anchor": anchor}
        else:
            details = {
                "similarity": f"{similarity:.4f}",
                "threshold": f"{entry.threshold:.4f}",
                "anchor": anchor,
            }
        return Alert(
            alert_id=alert_id,
            rule=Rule.WATCHLIST.value,
            priority=entry.priority,
            subject=plate if plate is not None else entry.entry_id,
            occurred_at=event.captured_at,
            raised_at=now,
            late=event.late,
            plate_numbers=[plate] if plate is not None else [],
            device_ids=[event.device_id],
            event_ids=[event.event_id],
            evidence=[sighting(event)],
            watchlist_entry_id=entry.entry_id,
            reason=entry.reason,
            case_ref=entry.case_ref,
            details=details,
        )

    def expire(self, stream_time: datetime) -> None:
        """Forget the passes no read of which can still arrive on time."""
        fired = self.fired
        for alert_id in [key for key, until in fired.items() if until < stream_time]:
            del fired[alert_id]
