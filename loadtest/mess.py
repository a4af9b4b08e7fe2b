"""The mess real feeds carry, decided on the true traffic before any payload is written:
cameras that go offline and flush their buffer late, unreadable plates, passes read several
times (one read sometimes an OCR confusion off), and passes a platform cascade re-delivers
(some of them late).

Re-pushes and malformed payloads concern single payloads and are decided where payloads are
written (:mod:`loadtest.emit`).

Choices that keep the ground truth unambiguous (each is what a pipeline cannot be asked to
undo, not a shortcut around a rule):

- A buffered pass is flushed with all its snapshots, a buffered face track with all its
  updates, together: the late reads of one pass meet in their late group
  (``streams.correlate.dedup``), as they do when a camera empties its buffer.
- Two unreadable passes at one device are at least 10 s apart: without a plate nothing tells
  two vehicles a second apart from two reads of one.
- A misread never changes which watchlist entries a read matches: an alert on a misread is a
  real-world false alarm the watchlist rule cannot avoid, and not what this test measures.
"""

from __future__ import annotations

import random
from collections import defaultdict

from loadtest.city import CLOCK_AHEAD_SECONDS, Layout
from loadtest.scene import AlarmEvent, FaceTrack
from loadtest.traffic import Pass, Read, Traffic
from loadtest.watch import WatchEntry
from streams.domain.plates import ocr_confusion_variants

UNREADABLE_SPACING = 10.0
# Share of cascade copies the platform delivers late (inside the dedup memory of 2 minutes).
SLOW_CASCADES = 0.2


def inject(rng: random.Random, city: Layout, traffic: Traffic) -> None:
    outages(rng, city, traffic)
    unreadable(rng, city, traffic)
    snapshots(rng, city, traffic)
    cascades(rng, city, traffic)


def outages(rng: random.Random, city: Layout, traffic: Traffic) -> None:
    """Cameras offline for a sixth to a third of the scenario (10-20 min of an hour); what they
    capture meanwhile is flushed 30-90 s after they come back, in capture order."""
    config = city.config
    end = config.duration_seconds
    planted = {v.index for v in traffic.vehicles if v.role != "normal"}
    busy: dict[int, int] = defaultdict(int)
    # A camera whose clock is set ahead cannot be caught sending old captures: the pipeline
    # takes a lead that is not a zone for its receipt (streams.vendors.clock_ahead).
    avoid = {c.index for c in city.cameras if c.skew >= CLOCK_AHEAD_SECONDS}
    for p in traffic.passes:
        busy[p.camera] += 1
        if p.vehicle in planted:
            avoid.add(p.camera)  # keep planted convoys and clones whole
    ranked = sorted((c for c in busy if c not in avoid), key=lambda c: (-busy[c], c))
    pool = ranked[: max(config.offline_cameras * 5, 10)]
    chosen = sorted(rng.sample(pool, min(config.offline_cameras, len(pool))))
    for camera in chosen:
        start = rng.uniform(0.15, 0.55) * end
        stop = start + rng.uniform(1 / 6, 1 / 3) * end
        flush = stop + rng.uniform(30.0, 90.0)
        traffic.outages.append((camera, start, stop, flush))
        items: list[Pass | FaceTrack | AlarmEvent] = [*traffic.passes, *traffic.faces]
        items += traffic.alarms
        buffered = [i for i in items if i.camera == camera and start <= i.t < stop]
        buffered.sort(key=lambda i: i.t)
        for k, item in enumerate(buffered):
            item.flush_at = flush + 0.02 * k


def unreadable(rng: random.Random, city: Layout, traffic: Traffic) -> None:
    """Passes without a readable plate (never of planted vehicles): one read, plate None."""
    planted = {v.index for v in traffic.vehicles if v.role != "normal"}
    taken: dict[int, list[float]] = defaultdict(list)
    for p in traffic.passes:
        if p.vehicle in planted or rng.random() >= city.config.unreadable:
            continue
        if any(abs(p.t - t) < UNREADABLE_SPACING for t in taken[p.camera]):
            continue
        taken[p.camera].append(p.t)
        p.reads = [Read(0.0, None, rng.randint(20, 60))]


def _matching(entries: list[WatchEntry], plate: str) -> frozenset[str]:
    return frozenset(e.entry_id for e in entries if e.matches(plate))


def snapshots(rng: random.Random, city: Layout, traffic: Traffic) -> None:
    """Every readable pass gets its reads: one, or 2-3 within ~1-2 s whose best has the
    highest confidence; a share of those has one non-best read one OCR confusion off."""
    config = city.config
    entries = traffic.watchlist
    for p in traffic.passes:
        if p.reads:  # unreadable, decided above
            continue
        plate = traffic.vehicles[p.vehicle].plate
        if rng.random() >= config.multi_snapshot:
            p.reads = [Read(0.0, plate, rng.randint(70, 99))]
            continue
        count = 2 if rng.random() < 0.6 else 3
        best = rng.randint(85, 99)
        confidences = [best, *(best - rng.randint(2, 30) for _ in range(count - 1))]
        rng.shuffle(confidences)
        dt = 0.0
        reads: list[Read] = []
        for confidence in confidences:
            reads.append(Read(round(dt, 3), plate, confidence))
            dt += rng.uniform(0.25, 0.9)
        p.reads = reads
        p.best = confidences.index(best)
        if rng.random() < config.misread:
            _misread(rng, p, plate, entries)


def _misread(rng: random.Random, p: Pass, plate: str, entries: list[WatchEntry]) -> None:
    others = [i for i in range(len(p.reads)) if i != p.best]
    target = _matching(entries, plate) if entries else frozenset()
    variants = sorted(ocr_confusion_variants(plate))
    rng.shuffle(variants)
    for variant in variants:
        if not entries or _matching(entries, variant) == target:
            p.reads[rng.choice(others)].plate = variant
            return


def cascades(rng: random.Random, city: Layout, traffic: Traffic) -> None:
    """On-time passes of cameras with a GB/T 28181 code that the platform re-delivers, 0.5-2 s
    after the camera's best read reached it; a share of them slowly, 20-90 s after (a late
    copy of a pass already passed on)."""
    cameras = city.cameras
    for p in traffic.passes:
        eligible = p.flush_at is None and cameras[p.camera].gb_code is not None
        if eligible and rng.random() < city.config.cascade:
            slow = rng.random() < SLOW_CASCADES
            p.cascade_delay = rng.uniform(20.0, 90.0) if slow else rng.uniform(0.5, 2.0)
