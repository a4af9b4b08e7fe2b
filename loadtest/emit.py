"""From what happened to what the backbone receives: every read, face update and alarm becomes
a vendor payload stamped with its receive offset ``at``; re-pushes, cascade copies and
malformed payloads join them; the lines are sorted by ``at`` and numbered, and each true pass,
track and alarm learns the lines that carry it.

Times. A capture at true offset ``t`` is written with the device's clock, ``start + t + skew``,
in the vendor's own encoding (a camera whose clock is set ahead: 8 h ahead, which the pipeline
takes for a zone error and corrects). An on-time payload is received 0.05-1.5 s after its capture; a
buffered one at its camera's flush. Every line is checked against the pipeline's lateness
(10 s between capture as reported and receipt): late exactly when buffered.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from loadtest.bodies import (
    AlarmShot,
    Body,
    FaceShot,
    PlateShot,
    alarm_body,
    cascade_body,
    face_body,
    malformed,
    plate_body,
)
from loadtest.captures import CaptureLine
from loadtest.city import GAT1400, UNIVIEW, Camera, Layout
from loadtest.traffic import Pass, Traffic, random_plate
from loadtest.truth import TrueAlarm, TrueFace, TruePass
from streams.vendors.clock_ahead import correction

LATENESS = timedelta(seconds=10)  # streams.correlate.config.RuleConfig.lateness


@dataclass(slots=True)
class _Pending:
    at: float
    order: int
    camera: Camera
    body: Body
    source: str
    item: tuple[str, int] | None  # ("plate" | "face" | "alarm", index); None: malformed
    captured: datetime | None = None  # as the adapter will read it
    repush: bool = False
    cascade: bool = False  # a platform's copy, which may come late for an on-time pass


@dataclass
class Emitted:
    lines: list[CaptureLine]
    passes: list[TruePass]
    faces: list[TrueFace]
    alarms: list[TrueAlarm]
    malformed_lines: list[int]
    counts: Counter[str] = field(default_factory=Counter)


def _clock(start: datetime, camera: Camera, t: float) -> datetime:
    """The device's clock at true offset ``t``, to the millisecond (what payloads carry)."""
    exact = start + timedelta(seconds=t + camera.skew)
    return exact.replace(microsecond=exact.microsecond // 1000 * 1000)


def _seconds(when: datetime) -> datetime:
    return when.replace(microsecond=0)


class _Emitter:
    def __init__(self, rng: random.Random, layout: Layout, traffic: Traffic, start: datetime):
        self.rng = rng
        self.layout = layout
        self.traffic = traffic
        self.start = start
        self.pending: list[_Pending] = []
        self.counts: Counter[str] = Counter()
        cameras = layout.cameras
        self.sequence = [rng.randrange(1, 90_000) for _ in cameras]
        self.groups = [rng.randrange(1, 10**8) for _ in cameras]
        self.platform_number = rng.randrange(10**6)
        self.best_at: dict[int, float] = {}
        self.best_shot: dict[int, tuple[PlateShot, int]] = {}

    def add(
        self,
        at: float,
        camera: Camera,
        body: Body,
        item: tuple[str, int] | None,
        *,
        source: str | None = None,
        captured: datetime | None = None,
    ) -> _Pending:
        entry = _Pending(
            round(at, 3), len(self.pending), camera, body, source or camera.source, item, captured
        )
        self.pending.append(entry)
        return entry

    def delay(self) -> float:
        return self.rng.uniform(0.05, 1.5)

    def next_number(self, camera: Camera) -> int:
        self.sequence[camera.index] += 1
        return self.sequence[camera.index]

    # --- captures in true-time order, so each device numbers its events as it makes them ---

    def run(self) -> None:
        traffic = self.traffic
        records: list[tuple[float, int, int, int]] = []
        for index, p in enumerate(traffic.passes):
            records += [(p.t + read.dt, 0, index, k) for k, read in enumerate(p.reads)]
        for index, track in enumerate(traffic.faces):
            records += [(track.t + u, 1, index, k) for k, u in enumerate(track.updates)]
        records += [(a.t, 2, index, 0) for index, a in enumerate(traffic.alarms)]
        records.sort()
        passes: dict[int, tuple[int, int]] = {}  # pass -> (its group number, its token)
        for t, kind, index, sub in records:
            if kind == 0:
                p = traffic.passes[index]
                if index not in passes:  # the pass's first read: a new group at its device
                    self.groups[p.camera] += 1
                    passes[index] = (self.groups[p.camera], self.rng.getrandbits(128))
                self.read(index, p, sub, t, *passes[index])
            elif kind == 1:
                self.face(index, sub, t)
            else:
                self.alarm(index, t)
        for index, p in enumerate(traffic.passes):
            if p.cascade_delay is not None:
                self.cascade(index, p)

    def read(self, index: int, p: Pass, k: int, t: float, group: int, token: int) -> None:
        camera = self.layout.cameras[p.camera]
        read = p.reads[k]
        number = self.next_number(camera)
        shot = PlateShot(
            camera=camera,
            when=_clock(self.start, camera, t),
            plate=read.plate,
            confidence=read.confidence,
            lane=p.lane,
            speed=p.speed,
            vehicle=self.traffic.vehicles[p.vehicle],
            group=group,
            index=k + 1,
            count=len(p.reads),
            sequence=number,
            token=token,
            retransmission=p.flush_at is not None,
        )
        at = p.flush_at if p.flush_at is not None else t + self.delay()
        captured = _seconds(shot.when) if camera.source == GAT1400 else shot.when
        self.add(at, camera, plate_body(shot, number), ("plate", index), captured=captured)
        if k == p.best:
            self.best_at[index] = at
            self.best_shot[index] = (shot, number)
        self.counts["plate_reads"] += 1
        if k:
            self.counts["extra_snapshots"] += 1
        if read.plate is not None and read.plate != self.traffic.vehicles[p.vehicle].plate:
            self.counts["misreads"] += 1

    def face(self, index: int, k: int, t: float) -> None:
        track = self.traffic.faces[index]
        camera = self.layout.cameras[track.camera]
        shot = FaceShot(
            camera=camera,
            when=_clock(self.start, camera, t),
            appeared=_clock(self.start, camera, track.t),
            track=track.number,
            last=k == len(track.updates) - 1,
            gender=track.gender,
            age=track.age,
            glasses=track.glasses,
            mask=track.mask,
            sequence=self.next_number(camera),
            token=self.rng.getrandbits(128),
            retransmission=track.flush_at is not None,
        )
        at = track.flush_at if track.flush_at is not None else t + self.delay()
        coarse = camera.source in (GAT1400, UNIVIEW)  # whole seconds only
        captured = _seconds(shot.when) if coarse else shot.when
        self.add(at, camera, face_body(shot, shot.sequence), ("face", index), captured=captured)
        self.counts["face_updates"] += 1

    def alarm(self, index: int, t: float) -> None:
        event = self.traffic.alarms[index]
        camera = self.layout.cameras[event.camera]
        shot = AlarmShot(
            camera=camera,
            when=_clock(self.start, camera, t),
            alarm_type=event.alarm_type,
            rule=event.rule,
            sequence=self.next_number(camera),
            token=self.rng.getrandbits(128),
            retransmission=event.flush_at is not None,
        )
        at = event.flush_at if event.flush_at is not None else t + self.delay()
        captured = _seconds(shot.when) if camera.source == UNIVIEW else shot.when
        self.add(at, camera, alarm_body(shot), ("alarm", index), captured=captured)

    def cascade(self, index: int, p: Pass) -> None:
        """The platform re-delivers the best read after the camera delivered it."""
        assert p.cascade_delay is not None
        shot, number = self.best_shot[index]
        if shot.camera.source != GAT1400:
            self.platform_number += 1
            number = self.platform_number
        at = self.best_at[index] + p.cascade_delay
        body = cascade_body(shot, number)
        entry = self.add(
            at, shot.camera, body, ("plate", index), source=GAT1400, captured=_seconds(shot.when)
        )
        entry.cascade = True
        self.counts["cascade_copies"] += 1

    # --- per-payload mess ------------------------------------------------------------------

    def buffered(self, item: tuple[str, int]) -> bool:
        kind, index = item
        if kind == "plate":
            return self.traffic.passes[index].flush_at is not None
        if kind == "face":
            return self.traffic.faces[index].flush_at is not None
        return self.traffic.alarms[index].flush_at is not None

    def repushes(self) -> None:
        rate = self.layout.config.repush
        for entry in list(self.pending):
            if entry.item is None or rate <= 0 or self.rng.random() >= rate:
                continue
            if self.buffered(entry.item):
                continue  # a flushed buffer is not pushed twice
            at = entry.at + self.rng.uniform(2.0, 60.0)
            again = self.add(
                at,
                entry.camera,
                entry.body,
                entry.item,
                source=entry.source,
                captured=entry.captured,
            )
            # Arrives after the lateness, but the pipeline knows its id: a duplicate, not late.
            again.repush = True
            self.counts["repushes"] += 1

    def malformed(self) -> None:
        config = self.layout.config
        count = max(5, round(config.malformed * len(self.pending)))
        end = config.duration_seconds
        vehicles = self.traffic.vehicles
        for _ in range(count):
            camera = self.rng.choice(self.layout.cameras)
            t = self.rng.uniform(1.0, end - 1.0)
            plate, _colour = random_plate(self.rng)
            shot = PlateShot(
                camera=camera,
                when=_clock(self.start, camera, t),
                plate=plate,
                confidence=self.rng.randint(50, 99),
                lane=1,
                speed=40,
                vehicle=self.rng.choice(vehicles),
                group=self.rng.randrange(10**8),
                index=1,
                count=1,
                sequence=self.rng.randrange(10**5),
                token=self.rng.getrandbits(128),
            )
            self.add(t + self.delay(), camera, malformed(self.rng, shot), None)
        self.counts["malformed"] = count


def emit(rng: random.Random, layout: Layout, traffic: Traffic, start: datetime) -> Emitted:
    emitter = _Emitter(rng, layout, traffic, start)
    emitter.run()
    emitter.repushes()
    emitter.malformed()
    pending = sorted(emitter.pending, key=lambda e: (e.at, e.order))
    lines: list[CaptureLine] = []
    carried: dict[tuple[str, int], list[int]] = {}
    late: dict[tuple[str, int], set[bool]] = {}
    malformed_lines: list[int] = []
    for number, entry in enumerate(pending):
        lines.append(
            CaptureLine(
                line=number,
                source=entry.source,
                device_id=entry.camera.device_id,
                at=entry.at,
                body=entry.body.data,
                content_type=entry.body.content_type,
                binary=entry.body.binary,
            )
        )
        if entry.item is None:
            malformed_lines.append(number)
            continue
        carried.setdefault(entry.item, []).append(number)
        if entry.repush or entry.cascade:
            continue  # a pass is late or not by its own reads
        assert entry.captured is not None
        received = start + timedelta(seconds=entry.at)
        late.setdefault(entry.item, set()).add(received - entry.captured > LATENESS)
    return Emitted(
        lines=lines,
        passes=_passes(layout, traffic, start, emitter, carried, late),
        faces=_faces(layout, traffic, start, carried, late),
        alarms=_alarms(layout, traffic, start, carried, late),
        malformed_lines=malformed_lines,
        counts=emitter.counts,
    )


def _late(item: tuple[str, int], flags: dict[tuple[str, int], set[bool]], buffered: bool) -> bool:
    found = flags[item]
    if found != {buffered}:
        # A generator invariant: only buffered captures may arrive after the lateness.
        raise AssertionError(f"{item}: lateness {sorted(found)} but buffered={buffered}")
    return buffered


def _passes(
    layout: Layout,
    traffic: Traffic,
    start: datetime,
    emitter: _Emitter,
    carried: dict[tuple[str, int], list[int]],
    late: dict[tuple[str, int], set[bool]],
) -> list[TruePass]:
    out: list[TruePass] = []
    watched = {
        v.plate: tuple(e.entry_id for e in traffic.watchlist if e.matches(v.plate))
        for v in traffic.vehicles
    }
    for index, p in enumerate(traffic.passes):
        vehicle = traffic.vehicles[p.vehicle]
        readable = p.reads[p.best].plate is not None
        shot = emitter.best_shot[index][0]
        item = ("plate", index)
        plate = vehicle.plate if readable else None
        entries = watched[vehicle.plate] if plate else ()
        captured = shot.when.replace(microsecond=0) if shot.camera.source == GAT1400 else shot.when
        received = start + timedelta(seconds=round(emitter.best_at[index], 3))
        captured -= correction(captured, received)[0]  # a clock set ahead, as the pipeline reads
        out.append(
            TruePass(
                pass_id=p.pass_id,
                device_id=layout.cameras[p.camera].device_id,
                plate=plate,
                vehicle=p.vehicle,
                captured_offset=round(p.t + p.reads[p.best].dt, 3),
                captured_at=captured.astimezone(UTC),
                lines=tuple(carried[item]),
                late=_late(item, late, p.flush_at is not None),
                watchlist_entries=entries,
            )
        )
    return out


def _faces(
    layout: Layout,
    traffic: Traffic,
    start: datetime,
    carried: dict[tuple[str, int], list[int]],
    late: dict[tuple[str, int], set[bool]],
) -> list[TrueFace]:
    out: list[TrueFace] = []
    for index, track in enumerate(traffic.faces):
        camera = layout.cameras[track.camera]
        item = ("face", index)
        out.append(
            TrueFace(
                track_id=track.track_id,
                device_id=camera.device_id,
                captured_offset=round(track.t, 3),
                captured_at=_clock(start, camera, track.t),
                lines=tuple(carried[item]),
                late=_late(item, late, track.flush_at is not None),
            )
        )
    return out


def _alarms(
    layout: Layout,
    traffic: Traffic,
    start: datetime,
    carried: dict[tuple[str, int], list[int]],
    late: dict[tuple[str, int], set[bool]],
) -> list[TrueAlarm]:
    out: list[TrueAlarm] = []
    for index, event in enumerate(traffic.alarms):
        camera = layout.cameras[event.camera]
        item = ("alarm", index)
        out.append(
            TrueAlarm(
                alarm_id=event.alarm_id,
                device_id=camera.device_id,
                alarm_type=event.alarm_type,
                captured_offset=round(event.t, 3),
                captured_at=_clock(start, camera, event.t),
                lines=tuple(carried[item]),
                late=_late(item, late, event.flush_at is not None),
            )
        )
    return out
