"""Deduplication of the canonical capture stream: a pure engine over explicit state.

Four kinds of repeats collapse here (duplicates are the normal case, not an edge case):

- exact re-pushes and redeliveries: an ``event_id`` seen before is dropped (DUPLICATE);
- the snapshots of one vehicle pass: same device, same plate or one OCR confusion apart (lanes
  differ only when both reads know them), each read captured less than ``plate_window`` after the
  previous read of the pass; unreadable reads group with unreadable reads only. The camera and a
  GA/T 1400 cascade deliver one pass under one device id, so they collapse by the same rule;
- the captures of one face track: same device and track id, less than ``face_window`` apart;
- an active alarm the camera repeats: same device, channel, type, vendor type, rule and state,
  less than ``plate_window`` apart.

Each group yields one unique event, its best read, with ``absorbed_event_ids`` listing the others.
An event received more than ``lateness`` after its capture is LATE (flagged ``late=True``) and
never moves stream time. A late read of a pass already seen on time (its group still open, or
closed less than ``dedup_memory`` ago: :mod:`streams.correlate.recent_passes`) is ABSORBED: a
platform cascade's slow copy, say. It is dropped: the pass was, or will be, passed on without
it. Otherwise it is grouped with the other late reads of its pass, the way on-time reads are,
under a late group key of its own (a camera flushing its buffer after an outage sends each pass's
snapshots together). A late group closes when the newest *receipt* of its reads + window +
lateness <= stream time: late reads are held about as long as on-time ones, counted from their
arrival. Which late reads meet therefore depends on when they arrive, not only on the set of
reads; a late read of a pass whose late group already closed is absorbed by it. An on-time read
that belongs to a pass already closed is ABSORBED too: in received order that cannot happen (see
below), but inputs read at uneven paces deliver reads out of that order.

Clustering. Open reads are kept per *group key*: the device plus what must be equal (the plate
with its OCR-confusable characters folded, the track id, the alarm's identity), so a key holds
few reads. Within a key, reads are clustered greedily in (captured_at, event_id) order: a read
joins, among the clusters it is compatible with whose last read is less than a window before it,
the one with the latest last read (ties: the earliest created); otherwise it starts a cluster.
This is a function of the set of reads. A read arriving in that order is placed incrementally,
which is the same step; one arriving out of order (network jitter makes that common) is put in
place when the key's clustering plainly stays one cluster, else its key is re-clustered from
scratch. A cluster closes when its last read + window + lateness <= stream time; closing whole
clusters leaves the clustering of the others unchanged, and an on-time read that arrives later
(received at or after the stream time) is captured at least a window after the last read of every
closed cluster, so it could not have joined one. Hence the unique events are a function of the
set of on-time reads, whether they arrive in received order with ``advance`` between them or in
any order before ``flush``. A window is a strict bound (reads exactly a window apart are two
groups): that is what makes "closed when last + window + lateness <= stream time" final. (A read
that arrives when the stream time is already past its received_at, i.e. out of received order or
after ``advance(now)`` ran ahead on the wall clock, may find its pass closed and start another.)

The anchor given at arrival is the first-seen read of the cluster the event joins at that moment,
so it may depend on arrival order; it only serves to suppress repeated first-sight alerts.

State, all in :class:`StateTable` instances with immutable values:

- ``dedup.open``: group key -> its open clusters, each a tuple of (event, anchor or None) sorted
  by (captured_at, event_id), clusters in creation order;
- ``dedup.memory``: bucket key -> (memory time, ids, passes): ids passed on (closed groups,
  late reads) and the summaries of the groups closed, remembered until memory time +
  ``dedup_memory``; one bucket per closing ``advance``/``flush`` and small buckets of late ids,
  so each bucket is written about once;
- ``dedup.clock``: ``"stream_time"`` -> the stream time, written by ``advance``/``flush`` and
  before the table's changes are taken (the worker advances after every batch, then persists).

Derived in memory and rebuilt by the tables' ``restore`` (their ``on_restore``): an index of
every id known, the heap of the open keys by due time and the heap of memory buckets by memory
time, and the summaries of the passes remembered, by key.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from operator import attrgetter
from typing import Any, Final, cast

from streams.canonical.models import CanonicalEvent, FaceCapture, PlateCapture
from streams.correlate.config import RuleConfig
from streams.correlate.recent_passes import PassSummary, RecentPasses, belongs, summarize
from streams.correlate.state import Stateful, StateTable
from streams.domain.plates import one_confusion_apart

__all__ = ["Deduplicator", "Offer", "Verdict"]


class Verdict(StrEnum):
    NEW = "new"  # first read of a new plate pass / face track / alarm
    JOINED = "joined"  # another read of a pass/track/alarm that is still open
    DUPLICATE = "duplicate"  # this event_id was already seen (re-push, redelivery): drop it
    LATE = "late"  # received_at - captured_at > config.lateness: held in a late group
    # A read of a pass already passed on (a late copy, or a read that arrived after its pass
    # closed), or of one still open if it is late: drop it.
    ABSORBED = "absorbed"


@dataclass(frozen=True, slots=True)
class Offer:
    verdict: Verdict
    # event_id of the first-seen read of the pass/track/alarm this event belongs to (of its late
    # group for LATE); the event's own id for NEW (and for DUPLICATE: the id itself).
    anchor: str
    # LATE only: the event flagged late=True (its late group passes on its best read); else None.
    event: CanonicalEvent | None = None


# Offers are built once per event: skip the frozen dataclass's __init__ (a third of offer()).
_new_object = object.__new__
_set_verdict = Offer.__dict__["verdict"].__set__
_set_anchor = Offer.__dict__["anchor"].__set__
_set_event = Offer.__dict__["event"].__set__


def _offer(verdict: Verdict, anchor: str, event: CanonicalEvent | None = None) -> Offer:
    offer: Offer = _new_object(Offer)
    _set_verdict(offer, verdict)
    _set_anchor(offer, anchor)
    _set_event(offer, event)
    return offer


_NEW: Final = Verdict.NEW
_JOINED: Final = Verdict.JOINED
_DUPLICATE: Final = Verdict.DUPLICATE
_LATE: Final = Verdict.LATE
_ABSORBED_READ: Final = Verdict.ABSORBED

# An open read: the event, and the anchor it was given at arrival when that is not itself.
_Read = tuple[CanonicalEvent, str | None]
_Cluster = tuple[_Read, ...]
_Clusters = tuple[_Cluster, ...]
# A memory bucket: when its ids were passed on, the ids, and the summaries of the groups closed.
_Bucket = tuple[datetime, tuple[str, ...], tuple[PassSummary, ...]]

_SEP: Final = "\x1f"
# Group-key kinds: the first character of a key.
_PLATE: Final = "p"  # readable plate: device + plate with confusable characters folded
_UNREADABLE: Final = "u"  # plate_number None: device
_TRACK: Final = "f"  # face with a track id: device + track
_FACE: Final = "n"  # face without a track id: its own group
_ALARM: Final = "a"  # device + channel + type + vendor type + rule + state
# What a kind's groups are of (for counting the reads absorbed).
_EVENT_KIND: Final = {
    _PLATE: "plate",
    _UNREADABLE: "plate",
    _TRACK: "face",
    _FACE: "face",
    _ALARM: "alarm",
}
# A late group's key: its on-time key with the kind in upper case.
_LATE_KINDS: Final = frozenset(kind.upper() for kind in _EVENT_KIND)
_PLATE_KEYS: Final = frozenset((_PLATE, _UNREADABLE, _PLATE.upper(), _UNREADABLE.upper()))
_ABSORBED: Final = {
    k: f"absorbed.{name}" for kind, name in _EVENT_KIND.items() for k in (kind, kind.upper())
}


def _confusion_fold() -> bytes:
    """A bytes.translate table mapping the characters of every OCR confusion pair (as
    ``one_confusion_apart`` knows them) to one representative: reads one confusion apart always
    share a key (the key may hold more; reads are compared pairwise). Bytes, because
    str.translate is slow on non-ASCII text and plates start with a Chinese character."""
    chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    representative = {ch: ch for ch in chars}

    def find(ch: str) -> str:
        while representative[ch] != ch:
            ch = representative[ch]
        return ch

    for a in chars:
        for b in chars:
            if a < b and one_confusion_apart(a, b):
                representative[find(b)] = find(a)
    return bytes.maketrans(chars.encode(), "".join(find(ch) for ch in chars).encode())


_FOLD: Final = _confusion_fold()
_CASCADE: Final = "gat1400"  # a platform cascade: a copy of the camera's read
_LATE_BUCKET_SIZE: Final = 256
_ALARM_KINDS: Final = frozenset((_ALARM, _ALARM.upper()))
_STREAM_TIME: Final = "stream_time"


def _opt(value: object) -> str:
    return "" if value is None else f"={value}"


def _group_key(event: CanonicalEvent) -> str:
    if event.kind == "plate":
        plate = event.plate_number
        if plate is None:
            return f"{_UNREADABLE}{_SEP}{event.device_id}"
        folded = plate.encode().translate(_FOLD).decode()
        return f"{_PLATE}{_SEP}{event.device_id}{_SEP}{folded}"
    if event.kind == "face":
        if event.track_id is None:
            return f"{_FACE}{_SEP}{event.device_id}{_SEP}{event.event_id}"
        return f"{_TRACK}{_SEP}{event.device_id}{_SEP}{event.track_id}"
    return _SEP.join(
        (
            _ALARM,
            event.device_id,
            _opt(event.channel),
            event.alarm_type.value,
            event.vendor_event_type,
            _opt(event.rule_name),
            event.state.value,
        )
    )


def _passes_of(bucket: _Bucket) -> tuple[PassSummary, ...]:
    # Buckets written before passes were summarised hold ids only.
    return bucket[2] if len(bucket) > 2 else ()


def _read_order(read: _Read) -> tuple[datetime, str]:
    return read[0].captured_at, read[0].event_id


_unique_order: Final = attrgetter("captured_at", "event_id")


def _accepts(cluster: Sequence[_Read], event: PlateCapture) -> bool:
    """A plate read may join a cluster of its key: no lane conflict, and (readable) one
    confusion apart from one of the cluster's plates. A cluster knows at most one lane."""
    lane = event.lane
    plate = event.plate_number
    near = plate is None  # unreadable key: the lane rule only
    for read in cluster:
        other = cast(PlateCapture, read[0])
        if lane is not None and other.lane is not None and other.lane != lane:
            return False
        if not near:
            other_plate = other.plate_number
            # Equal plates first: the usual case, without a call.
            near = plate == other_plate or (
                plate is not None
                and other_plate is not None
                and one_confusion_apart(plate, other_plate)
            )
    return near


def _best_cluster(
    clusters: Sequence[Sequence[_Read]], event: CanonicalEvent, window: timedelta, plates: bool
) -> int:
    """The greedy step of the clustering, for a read that sorts after every read of the
    clusters: the index of the cluster it joins (among those it is compatible with whose last
    read is less than a window before it, the one with the latest last read; ties: the earliest
    created), or -1 when it starts a cluster."""
    at = event.captured_at
    best = -1
    best_last: datetime | None = None
    for i, cluster in enumerate(clusters):
        last = cluster[-1][0].captured_at
        if at - last >= window:
            continue
        if best_last is not None and last <= best_last:
            continue
        if plates and not _accepts(cluster, cast(PlateCapture, event)):
            continue
        best, best_last = i, last
    return best


def _cluster(reads: Sequence[_Read], window: timedelta, plates: bool) -> _Clusters:
    """Cluster one key's reads, given sorted by (captured_at, event_id); see the module doc.

    ``Deduplicator.offer`` takes the same step for a read that arrives in that order."""
    clusters: list[list[_Read]] = []
    for read in reads:
        best = _best_cluster(clusters, read[0], window, plates)
        if best < 0:
            clusters.append([read])
        else:
            clusters[best].append(read)
    return tuple(tuple(cluster) for cluster in clusters)


def _unique(kind: str, cluster: _Cluster) -> CanonicalEvent:
    """The unique event of a closed cluster (sorted by captured_at, event_id)."""
    best = cluster[0][0]
    if len(cluster) > 1 and kind not in _ALARM_KINDS:  # alarms: the earliest read
        # Strictly better only: ties go to the earliest read, then the smallest id.
        if kind in _PLATE_KEYS:
            rank = (best.confidence or 0.0, best.source != _CASCADE)
            for read in cluster:
                event = read[0]
                event_rank = (event.confidence or 0.0, event.source != _CASCADE)
                if event_rank > rank:
                    best, rank = event, event_rank
        else:
            face = cast(FaceCapture, best)
            face_rank = (face.quality or 0.0, face.confidence or 0.0, face.source != _CASCADE)
            for read in cluster:
                face = cast(FaceCapture, read[0])
                event_face_rank = (
                    face.quality or 0.0,
                    face.confidence or 0.0,
                    face.source != _CASCADE,
                )
                if event_face_rank > face_rank:
                    best, face_rank = face, event_face_rank
    update: dict[str, Any] = {}
    late = kind in _LATE_KINDS
    if best.late is not late:
        update["late"] = late
    absorbed = sorted(read[0].event_id for read in cluster if read[0] is not best)
    if absorbed != best.absorbed_event_ids:
        update["absorbed_event_ids"] = absorbed
    if best.kind == "face":
        faces = [cast(FaceCapture, read[0]) for read in cluster]
        appeared = min(face.appeared_at or face.captured_at for face in faces)
        disappeared = max(face.disappeared_at or face.captured_at for face in faces)
        if appeared != best.appeared_at:
            update["appeared_at"] = appeared
        if disappeared != best.disappeared_at:
            update["disappeared_at"] = disappeared
    return best.model_copy(update=update) if update else best


class Deduplicator(Stateful):
    """Exact and near-duplicate removal; see the module documentation."""

    def __init__(self, config: RuleConfig, *, follow_events: bool = True) -> None:
        """``follow_events``: stream time follows the received_at of the events offered (one
        ordered input, as offline). The worker passes False and moves stream time itself with
        ``advance(now)``: its inputs are several topics read at different paces, so it holds
        stream time to the slowest input that still has records to deliver."""
        self.config = config
        self._follow = follow_events
        self._lateness = config.lateness
        self._memory_span = config.dedup_memory
        self._windows: dict[str, timedelta] = {
            _PLATE: config.plate_window,
            _UNREADABLE: config.plate_window,
            _TRACK: config.face_window,
            _FACE: timedelta(0),  # its own group: nothing to wait for
            _ALARM: config.plate_window,
        }
        self._windows.update({kind.upper(): window for kind, window in self._windows.items()})
        # How long after its last read (its newest receipt, for late groups) a cluster closes.
        self._delays = {kind: window + config.lateness for kind, window in self._windows.items()}
        # Persisted state.
        self._open: StateTable[_Clusters] = StateTable("dedup.open", on_restore=self._restored_open)
        self._memory: StateTable[_Bucket] = StateTable(
            "dedup.memory", on_restore=self._restored_memory
        )
        # The stream time moves with almost every event: kept in ``_now`` and written to the
        # table by advance/flush and before its changes are taken (the worker advances after
        # every batch, then writes the state).
        self._clock: StateTable[datetime] = StateTable(
            "dedup.clock", on_restore=self._restored_clock, before_take=self._write_clock
        )
        # Derived; rebuilt on restore. Every id known: the open key or memory bucket holding it.
        self._where: dict[str, str] = {}
        # Open keys by the time one of their clusters may be due: never later than that.
        self._due: list[tuple[datetime, str]] = []
        self._scheduled: dict[str, datetime] = {}
        # Memory buckets by memory time.
        self._expiry: list[tuple[datetime, str]] = []
        self._next_bucket = 0
        self._late_bucket: str | None = None
        self._passes = RecentPasses()
        self._now: datetime | None = None
        self.counts: Counter[str] = Counter()

    # ---------------------------------------------------------------------------------------
    # public API

    @property
    def stream_time(self) -> datetime | None:
        """The newest received_at of the on-time events offered, or the clock given to advance."""
        return self._now

    def offer(self, event: CanonicalEvent) -> Offer:
        event_id = event.event_id
        where = self._where
        if event_id in where:
            self.counts["duplicate"] += 1
            return _offer(_DUPLICATE, event_id)
        received = event.received_at
        if received - event.captured_at > self._lateness:
            return self._offer_late(event)
        if self._follow:
            now = self._now
            if now is None or received > now:
                self._now = received
        key = _group_key(event)
        if self._passes.holds(key):
            # Only a read that arrives out of received order by more than the lateness (inputs
            # read at uneven paces) can belong to a pass already closed: it is a read of it.
            anchor = self._passes.find(key, event, self._windows[key[0]])
            if anchor is not None:
                self.counts["absorbed.closed"] += 1
                self._remember_late(event_id, received)
                return _offer(_ABSORBED_READ, anchor)
        return self._place(key, event, event.captured_at)

    def _place(self, key: str, event: CanonicalEvent, since: datetime) -> Offer:
        """Put a read that is new to its key in its group; a new group is due ``since`` + the
        kind's delay (its capture time, or its receipt for a late group)."""
        event_id = event.event_id
        captured = event.captured_at
        kind = key[0]
        self._where[event_id] = key
        clusters = self._open.get(key)
        if clusters is None:
            self._open[key] = (((event, None),),)
            self._schedule(key, since + self._delays[kind])
            return _offer(_NEW, event_id)

        # The greedy step of _cluster, valid while the read comes after every read of the key.
        window = self._windows[kind]
        plates = kind in _PLATE_KEYS
        if len(clusters) == 1:  # the usual case, spelled out
            cluster = clusters[0]
            last_event = cluster[-1][0]
            last = last_event.captured_at
            if captured < last or (captured == last and event_id < last_event.event_id):
                return self._regroup(key, clusters, event)
            if captured - last < window and (
                not plates or _accepts(cluster, cast(PlateCapture, event))
            ):
                first = cluster[0]
                anchor = first[1] or first[0].event_id
                self._open[key] = ((*cluster, (event, anchor)),)
                return _offer(_JOINED, anchor)
            self._open[key] = (cluster, ((event, None),))
            self._schedule(key, since + self._delays[kind])
            return _offer(_NEW, event_id)
        for cluster in clusters:
            last_event = cluster[-1][0]
            last = last_event.captured_at
            if captured < last or (captured == last and event_id < last_event.event_id):
                return self._regroup(key, clusters, event)
        best = _best_cluster(clusters, event, window, plates)
        if best < 0:
            self._open[key] = (*clusters, ((event, None),))
            self._schedule(key, since + self._delays[kind])
            return _offer(_NEW, event_id)
        cluster = clusters[best]
        first = cluster[0]
        anchor = first[1] or first[0].event_id
        # The cluster's due time moves later: the key's heap entry stays (early is allowed).
        self._open[key] = (*clusters[:best], (*cluster, (event, anchor)), *clusters[best + 1 :])
        return _offer(_JOINED, anchor)

    def _offer_late(self, event: CanonicalEvent) -> Offer:
        """A late read: absorbed by a pass seen before, or put in its late group."""
        self.counts["late"] += 1
        key = _group_key(event)
        anchor = self._seen_pass(key, event)
        if anchor is not None:
            self.counts["absorbed.late"] += 1
            self._remember_late(event.event_id, event.received_at)
            return _offer(_ABSORBED_READ, anchor)
        flagged = event.model_copy(update={"late": True})
        placed = self._place(key[0].upper() + key[1:], flagged, event.received_at)
        return _offer(_LATE, placed.anchor, flagged)

    def _seen_pass(self, key: str, event: CanonicalEvent) -> str | None:
        """The anchor of the open or remembered pass of ``key`` that ``event`` is a read of."""
        window = self._windows[key[0]]
        for cluster in self._open.get(key, ()):
            first = cluster[0]
            anchor = first[1] or first[0].event_id
            if belongs(summarize(key, [read[0] for read in cluster], anchor), event, window):
                return anchor
        return self._passes.find(key, event, window)

    def advance(self, now: datetime | None = None) -> list[CanonicalEvent]:
        """Close the groups due at the stream time, raised to ``now`` when given (the wall clock,
        passed only when the input is idle); forget the ids remembered long enough."""
        if now is not None:
            if now.tzinfo is None:
                raise ValueError("naive datetime: stream time must carry a zone")
            if self._now is None or now > self._now:
                self._now = now
        stream_time = self._now
        if stream_time is None:
            return []
        if self._clock.get(_STREAM_TIME) != stream_time:
            self._clock[_STREAM_TIME] = stream_time
        unique: list[CanonicalEvent] = []
        due = self._due
        if due and due[0][0] <= stream_time:
            closed: list[str] = []
            passes: list[PassSummary] = []
            scheduled = self._scheduled
            while due and due[0][0] <= stream_time:
                at, key = heapq.heappop(due)
                if scheduled.get(key) != at:
                    continue  # superseded by an earlier time, or the key is gone
                del scheduled[key]
                self._close(key, stream_time, unique, closed, passes)
            if closed:
                self._remember(closed, stream_time, passes=passes)
            if len(unique) > 1:
                unique.sort(key=_unique_order)
        expiry = self._expiry
        if expiry and expiry[0][0] + self._memory_span <= stream_time:
            self._expire(stream_time)
        return unique

    def flush(self) -> list[CanonicalEvent]:
        """End of input (offline): close every open group, due or not."""
        self._write_clock()
        unique: list[CanonicalEvent] = []
        closed: list[str] = []
        passes: list[PassSummary] = []
        for key in list(self._open):
            self._close(key, None, unique, closed, passes)
        self._due.clear()
        self._scheduled.clear()
        if closed:
            # The stream time is known once an on-time event was offered or restored.
            at = self._now or max(event.received_at for event in unique)
            self._remember(closed, at, passes=passes)
        unique.sort(key=_unique_order)
        return unique

    # ---------------------------------------------------------------------------------------
    # open groups

    def _regroup(self, key: str, clusters: _Clusters, event: CanonicalEvent) -> Offer:
        """Offer a read that sorts before a read of its key: re-cluster the key."""
        if len(clusters) == 1:
            offer = self._insert(key, clusters[0], event)
            if offer is not None:
                return offer
        kind = key[0]
        read: _Read = (event, None)
        reads = [read]
        for cluster in clusters:
            reads += cluster
        reads.sort(key=_read_order)
        regrouped = _cluster(reads, self._windows[kind], kind in _PLATE_KEYS)
        anchor: str | None = None
        for i, cluster in enumerate(regrouped):
            if any(r is read for r in cluster):
                # The first of the others arrived before this read: its anchor, or itself.
                for other in cluster:
                    if other is not read:
                        anchor = other[1] or other[0].event_id
                        joined = tuple((event, anchor) if r is read else r for r in cluster)
                        regrouped = (*regrouped[:i], joined, *regrouped[i + 1 :])
                        break
                break
        self._open[key] = regrouped
        self._schedule(key, min(self._due_of(kind, cluster) for cluster in regrouped))
        if anchor is None:
            return _offer(_NEW, event.event_id)
        return _offer(_JOINED, anchor)

    def _insert(self, key: str, cluster: _Cluster, event: CanonicalEvent) -> Offer | None:
        """The usual out-of-order case: a read that sorts before the last read of its key's only
        cluster, when clustering the reads with it still gives that one cluster (less than a
        window from its predecessor, or from its successor when it comes first; no lane conflict;
        near a plate before it, or the first plate when it comes first). None otherwise."""
        window = self._windows[key[0]]
        captured = event.captured_at
        event_id = event.event_id
        at = len(cluster) - 1  # it sorts before the last read
        while at > 0:
            previous = cluster[at - 1][0]
            if previous.captured_at < captured or (
                previous.captured_at == captured and previous.event_id < event_id
            ):
                break
            at -= 1
        if at:
            if captured - cluster[at - 1][0].captured_at >= window:
                return None
        elif cluster[0][0].captured_at - captured >= window:
            return None
        if key[0] in _PLATE_KEYS:
            read = cast(PlateCapture, event)
            lane = read.lane
            if lane is not None:
                for other in cluster:
                    other_lane = cast(PlateCapture, other[0]).lane
                    if other_lane is not None and other_lane != lane:
                        return None
            plate = read.plate_number
            if plate is not None:
                for other in cluster[: at or 1]:
                    if one_confusion_apart(plate, cast(PlateCapture, other[0]).plate_number or ""):
                        break
                else:
                    return None
        first = cluster[0]
        anchor = first[1] or first[0].event_id
        # Its last read is unchanged, and so is its due time.
        self._open[key] = ((*cluster[:at], (event, anchor), *cluster[at:]),)
        return _offer(_JOINED, anchor)

    def _schedule(self, key: str, due: datetime) -> None:
        scheduled = self._scheduled.get(key)
        if scheduled is None or due < scheduled:
            self._scheduled[key] = due
            heapq.heappush(self._due, (due, key))

    def _due_of(self, kind: str, cluster: _Cluster) -> datetime:
        if kind in _LATE_KINDS:
            return max(read[0].received_at for read in cluster) + self._delays[kind]
        return cluster[-1][0].captured_at + self._delays[kind]

    def _close(
        self,
        key: str,
        stream_time: datetime | None,
        unique: list[CanonicalEvent],
        closed: list[str],
        passes: list[PassSummary],
    ) -> None:
        """Close the due clusters of a key (all of them when ``stream_time`` is None)."""
        clusters = self._open[key]
        kind = key[0]
        delay = self._delays[kind]
        late = kind in _LATE_KINDS
        on_time_key = key[0].lower() + key[1:] if late else key
        summarized = on_time_key[0] != _FACE  # a face without a track is nobody's copy
        kept: list[_Cluster] = []
        earliest: datetime | None = None
        for cluster in clusters:
            if stream_time is not None:
                due = self._due_of(kind, cluster) if late else cluster[-1][0].captured_at + delay
                if due > stream_time:
                    kept.append(cluster)
                    if earliest is None or due < earliest:
                        earliest = due
                    continue
            unique.append(_unique(kind, cluster))
            reads = [read[0] for read in cluster]
            closed.extend([read.event_id for read in reads])
            if summarized:
                first = cluster[0]
                passes.append(summarize(on_time_key, reads, first[1] or first[0].event_id))
            if len(cluster) > 1:
                self.counts[_ABSORBED[kind]] += len(cluster) - 1
        if earliest is None:
            del self._open[key]
            return
        if len(kept) < len(clusters):
            self._open[key] = tuple(kept)
        self._schedule(key, earliest)

    # ---------------------------------------------------------------------------------------
    # memory of the ids passed on

    def _remember(
        self,
        ids: list[str],
        at: datetime,
        bucket: str | None = None,
        passes: Sequence[PassSummary] = (),
    ) -> str:
        """Remember ids passed on at ``at`` and the passes closed: added to ``bucket`` (of that
        time) or a new one."""
        memory = self._memory
        if bucket is None:
            bucket = f"m{self._next_bucket}"
            self._next_bucket += 1
            memory[bucket] = (at, tuple(ids), tuple(passes))
            heapq.heappush(self._expiry, (at, bucket))
        else:
            held = memory[bucket]
            memory[bucket] = (at, held[1] + tuple(ids), _passes_of(held) + tuple(passes))
        self._passes.add(passes)
        where = self._where
        for event_id in ids:
            where[event_id] = bucket
        return bucket

    def _remember_late(self, event_id: str, received: datetime) -> None:
        # Late ids of one stream time share small buckets: a burst of buffered events is late
        # as a whole while the stream time stands still.
        at = self._now or received
        bucket = self._late_bucket
        if bucket is not None:
            held = self._memory.get(bucket)
            if held is None or held[0] != at or len(held[1]) >= _LATE_BUCKET_SIZE:
                bucket = None
        self._late_bucket = self._remember([event_id], at, bucket)

    def _expire(self, stream_time: datetime) -> None:
        cutoff = stream_time - self._memory_span
        expiry = self._expiry
        memory = self._memory
        where = self._where
        while expiry and expiry[0][0] <= cutoff:
            at, bucket = heapq.heappop(expiry)
            held = memory.get(bucket)
            if held is None or held[0] != at:
                continue  # gone, or replaced by a restore (pushed again with its time)
            del memory[bucket]
            for event_id in held[1]:
                if where.get(event_id) == bucket:
                    del where[event_id]
            self._passes.remove(_passes_of(held))

    # ---------------------------------------------------------------------------------------
    # restore: rebuild the derived indexes from change-log records

    def _restored_open(self, key: str, old: _Clusters | None, new: _Clusters | None) -> None:
        where = self._where
        if old is not None:
            for cluster in old:
                for read in cluster:
                    if where.get(read[0].event_id) == key:
                        del where[read[0].event_id]
        if new is None:
            self._scheduled.pop(key, None)
            return
        for cluster in new:
            for read in cluster:
                where[read[0].event_id] = key
        self._schedule(key, min(self._due_of(key[0], cluster) for cluster in new))

    def _restored_memory(self, key: str, old: _Bucket | None, new: _Bucket | None) -> None:
        where = self._where
        if old is not None:
            for event_id in old[1]:
                if where.get(event_id) == key:
                    del where[event_id]
            self._passes.remove(_passes_of(old))
        self._late_bucket = None
        if new is None:
            return
        for event_id in new[1]:
            where[event_id] = key
        self._passes.add(_passes_of(new))
        heapq.heappush(self._expiry, (new[0], key))
        if key[:1] == "m" and key[1:].isdigit():
            self._next_bucket = max(self._next_bucket, int(key[1:]) + 1)

    def _write_clock(self) -> None:
        now = self._now
        if now is not None and self._clock.get(_STREAM_TIME) != now:
            self._clock[_STREAM_TIME] = now

    def _restored_clock(self, key: str, old: datetime | None, new: datetime | None) -> None:
        if key == _STREAM_TIME:
            self._now = new
