"""What cameras see besides traffic: pedestrians' faces (tracks of one to four updates at a
face camera) and alarms (intrusion, line crossing, region entrance, motion, tamper).

Times are seconds after the scenario start (true time).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from loadtest.city import GAT1400, Camera, Layout

ALARM_TYPES = ("intrusion", "line_crossing", "region_entrance", "motion", "tamper")
_ALARM_WEIGHTS = (0.35, 0.3, 0.1, 0.15, 0.1)


@dataclass(slots=True)
class FaceTrack:
    camera: int
    t: float
    number: int  # the vendor's track id at that camera
    updates: list[float]  # seconds after t of each update
    gender: str
    age: int
    glasses: bool
    mask: bool
    track_id: str = ""
    flush_at: float | None = None


@dataclass(slots=True)
class AlarmEvent:
    camera: int
    t: float
    alarm_type: str
    rule: str
    alarm_id: str = ""
    flush_at: float | None = None


def make_faces(rng: random.Random, city: Layout, pedestrians: int) -> list[FaceTrack]:
    cameras = [c for c in city.cameras if c.faces]
    if not cameras:
        return []
    end = city.config.duration_seconds
    counters = {c.index: rng.randrange(1, 50_000) for c in cameras}
    tracks: list[FaceTrack] = []
    nearby: dict[int, list[Camera]] = {}
    for _person in range(pedestrians):
        home = rng.choice(cameras)
        near = nearby.get(home.index)
        if near is None:  # the face cameras within a walk (~2 km) of home
            near = nearby[home.index] = [
                c for c in cameras if abs(c.lat - home.lat) + abs(c.lon - home.lon) < 0.02
            ]
        gender = rng.choice(("male", "female"))
        age = rng.randint(16, 75)
        glasses = rng.random() < 0.3
        mask = rng.random() < 0.15
        t = rng.uniform(0.0, end)
        for _track in range(rng.randint(1, 3)):
            if t > end - 20.0:
                break
            camera = rng.choice(near or cameras)
            single = camera.source == GAT1400  # GA/T 1400 sends one FaceObject per person
            n = 1 if single else rng.choices((1, 2, 3, 4), (0.3, 0.3, 0.25, 0.15))[0]
            updates = [0.0]
            for _ in range(n - 1):
                updates.append(updates[-1] + rng.uniform(0.8, 3.0))
            counters[camera.index] += 1
            tracks.append(
                FaceTrack(
                    camera.index,
                    max(t, 0.5),
                    counters[camera.index],
                    updates,
                    gender,
                    age,
                    glasses,
                    mask,
                )
            )
            t += rng.uniform(180.0, 1200.0)
    return tracks


def make_alarms(rng: random.Random, city: Layout) -> list[AlarmEvent]:
    end = city.config.duration_seconds
    mean = city.config.alarms_per_camera_hour * city.config.hours
    alarms: list[AlarmEvent] = []
    for camera in city.cameras:
        if camera.source == GAT1400:  # the GA/T 1400 feed carries no alarms
            continue
        count = int(mean) + (1 if rng.random() < mean - int(mean) else 0)
        taken: list[tuple[str, float]] = []
        for _ in range(count):
            kind = rng.choices(ALARM_TYPES, _ALARM_WEIGHTS)[0]
            t = rng.uniform(1.0, end - 5.0)
            # One alarm per type and device per 15 s: closer ones are one alarm repeated.
            if any(k == kind and abs(t - s) < 15.0 for k, s in taken):
                continue
            taken.append((kind, t))
            alarms.append(AlarmEvent(camera.index, t, kind, f"Rule{rng.randint(1, 4)}"))
    return alarms
