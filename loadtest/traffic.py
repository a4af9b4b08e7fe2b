"""What happens on the roads, before any camera reports it: vehicles with plates driving trips
through checkpoints, and the planted patterns (cloned plates, convoys); :class:`Traffic` holds
it with the faces and alarms (:mod:`loadtest.scene`) and the watchlist (:mod:`loadtest.watch`).

Times are seconds after the scenario start (true time; device clocks come later). Plates are
drawn so that no two vehicles (bar the planted clones) are one OCR confusion apart, or even
equal once every confusable character is folded: a different vehicle can never pass for a
misread of another one.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field

from loadtest.city import Layout, RoadNet
from loadtest.scene import AlarmEvent, FaceTrack
from loadtest.watch import WatchEntry
from streams.domain.plates import canonical_plate

_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # serial letters: no I, no O
_PROVINCES = "沪苏皖赣闽京粤鲁豫鄂湘川"
_COLOURS = ("white", "black", "silver", "grey", "blue", "red")
_KINDS = ("sedan", "suv", "mpv", "van", "truck")
_FOLD = str.maketrans({"O": "0", "D": "0", "I": "1", "B": "8", "Z": "2", "S": "5", "G": "6"})


@dataclass(slots=True)
class Vehicle:
    index: int
    plate: str
    plate_color: str  # blue, yellow or green
    color: str
    kind: str
    brand: int
    role: str = "normal"  # normal, clone, convoy


@dataclass(slots=True)
class Read:
    """One snapshot of a pass: seconds after the pass, the plate as read, confidence 0..100."""

    dt: float
    plate: str | None
    confidence: int


@dataclass(slots=True)
class Pass:
    vehicle: int
    camera: int
    t: float
    speed: int
    lane: int
    pass_id: str = ""
    reads: list[Read] = field(default_factory=list)
    best: int = 0
    flush_at: float | None = None  # buffered during an outage: when the camera sends it
    # Re-delivered by the platform cascade this long after the camera's best read arrived.
    cascade_delay: float | None = None


@dataclass
class Traffic:
    vehicles: list[Vehicle]
    passes: list[Pass]
    faces: list[FaceTrack]
    alarms: list[AlarmEvent]
    watchlist: list[WatchEntry]
    cloned_plates: list[str]
    convoys: list[tuple[str, str]]
    # (camera, offline from, offline until, flushed at), seconds after the start.
    outages: list[tuple[int, float, float, float]] = field(default_factory=list)


# --- plates --------------------------------------------------------------------------------


def fold(plate: str) -> str:
    return plate.translate(_FOLD)


def _serial(rng: random.Random, length: int) -> str:
    return "".join(
        rng.choice("0123456789") if rng.random() < 0.8 else rng.choice(_LETTERS)
        for _ in range(length)
    )


def random_plate(rng: random.Random) -> tuple[str, str]:
    """A plate and its colour: mostly Hangzhou (浙A), some other 浙 cities and provinces,
    a tenth new-energy (8 characters), some yellow large-vehicle plates."""
    roll = rng.random()
    province = "浙" if roll < 0.85 else rng.choice(_PROVINCES)
    authority = "A" if province == "浙" and roll < 0.7 else rng.choice(_LETTERS[:12])
    if rng.random() < 0.1:
        energy = "D" if rng.random() < 0.7 else "F"
        serial = rng.choice(_LETTERS + "0123456789") + "".join(
            rng.choice("0123456789") for _ in range(4)
        )
        return f"{province}{authority}{energy}{serial}", "green"
    colour = "yellow" if rng.random() < 0.08 else "blue"
    return f"{province}{authority}{_serial(rng, 5)}", colour


def make_vehicles(rng: random.Random, count: int) -> list[Vehicle]:
    vehicles: list[Vehicle] = []
    folded: set[str] = set()
    while len(vehicles) < count:
        plate, colour = random_plate(rng)
        key = fold(plate)
        if key in folded or canonical_plate(plate) != plate:
            continue
        folded.add(key)
        vehicles.append(
            Vehicle(
                index=len(vehicles),
                plate=plate,
                plate_color=colour,
                color=rng.choice(_COLOURS),
                kind="truck" if colour == "yellow" else rng.choice(_KINDS[:4]),
                brand=rng.randrange(1001, 1200),
            )
        )
    return vehicles


# --- driving -------------------------------------------------------------------------------


def route(rng: random.Random, roads: RoadNet, origin: int, destination: int) -> list[int]:
    """A staircase path along the grid that tends to keep straight."""
    i, j = roads.grid(origin)
    ti, tj = roads.grid(destination)
    path = [origin]
    axis = rng.randrange(2)
    while (i, j) != (ti, tj):
        dx, dy = ti - i, tj - j
        if (axis == 0 and dx == 0) or (axis == 1 and dy == 0) or rng.random() < 0.3:
            axis = 0 if rng.random() < abs(dx) / (abs(dx) + abs(dy)) else 1
        if axis == 0:
            i += 1 if dx > 0 else -1
        else:
            j += 1 if dy > 0 else -1
        path.append(roads.node(i, j))
    return path


def drive(
    rng: random.Random, roads: RoadNet, path: list[int], start: float, base_kmh: float
) -> tuple[list[tuple[int, float, int]], float]:
    """(camera, pass time, speed) for each watched segment of the path, and the arrival time."""
    passes: list[tuple[int, float, int]] = []
    t = start
    for a, b in itertools.pairwise(path):
        kmh = min(max(base_kmh * rng.uniform(0.85, 1.2), 20.0), 80.0)
        seconds = roads.lengths[(a, b)] / (kmh / 3.6)
        camera = roads.camera_on.get((a, b))
        if camera is not None:
            passes.append((camera, t + 0.85 * seconds, round(kmh)))
        t += seconds + rng.uniform(0.0, 25.0)  # waiting at the lights
    return passes, t


def _destination(rng: random.Random, roads: RoadNet, origin: int, block: Block | None) -> int:
    if block is not None:
        nodes = [n for n in block.nodes(roads) if n != origin]
        return rng.choice(nodes)
    i, j = roads.grid(origin)
    steps = rng.randint(3, 16)
    while True:
        di = rng.randint(-steps, steps)
        dj = (steps - abs(di)) * rng.choice((-1, 1))
        a, b = min(max(i + di, 0), roads.size - 1), min(max(j + dj, 0), roads.size - 1)
        if (a, b) != (i, j):
            return roads.node(a, b)


@dataclass(frozen=True)
class Block:
    """A rectangle of intersections (a district a vehicle keeps to)."""

    i0: int
    i1: int
    j0: int
    j1: int

    def nodes(self, roads: RoadNet) -> list[int]:
        return [
            roads.node(i, j)
            for j in range(self.j0, self.j1 + 1)
            for i in range(self.i0, self.i1 + 1)
        ]


def day(
    rng: random.Random,
    city: Layout,
    vehicle: int,
    start: float,
    node: int,
    dwell: tuple[float, float],
    block: Block | None = None,
) -> list[Pass]:
    """Trips one after the other from ``start`` until the scenario ends."""
    roads = city.roads
    end = city.config.duration_seconds
    base = rng.uniform(30.0, 60.0)
    out: list[Pass] = []
    t = start
    while t < end:
        destination = _destination(rng, roads, node, block)
        found, t = drive(rng, roads, route(rng, roads, node, destination), t, base)
        out += [Pass(vehicle, cam, at, kmh, rng.randint(1, 3)) for cam, at, kmh in found]
        node = destination
        t += rng.uniform(*dwell)
    return out


def _convoy(rng: random.Random, city: Layout, lead: int, follow: int) -> list[Pass]:
    """One long trip driven together: the follower passes each camera 5-20 s after the leader."""
    roads = city.roads
    end = city.config.duration_seconds
    for attempt in range(300):
        origin = rng.randrange(roads.size * roads.size)
        destination = _destination(rng, roads, origin, None)
        path = route(rng, roads, origin, destination)
        start = rng.uniform(0.02, 0.45) * end
        found, _arrival = drive(rng, roads, path, start, rng.uniform(35.0, 55.0))
        found = [f for f in found if f[1] <= end - 30.0]
        # Five common cameras if the city allows, else the rule's minimum of three.
        if len(found) >= (5 if attempt < 150 else 3):
            break
    else:
        raise ValueError(
            "no route passes 3 cameras in time for a convoy: the city is too small or too short"
        )
    out: list[Pass] = []
    gap = rng.uniform(5.0, 20.0)
    for camera, at, kmh in found:
        lane = rng.randint(1, 3)
        out.append(Pass(lead, camera, at, kmh, lane))
        out.append(Pass(follow, camera, at + gap, kmh, lane))
        gap = min(max(gap + rng.uniform(-3.0, 3.0), 5.0), 20.0)
    return out


def make_passes(rng: random.Random, city: Layout, vehicles: list[Vehicle]) -> list[Pass]:
    config = city.config
    roads = city.roads
    size = roads.size
    end = config.duration_seconds
    passes: list[Pass] = []
    planted = config.convoys * 2 + config.cloned_plates * 2
    if planted > len(vehicles):
        raise ValueError(f"{len(vehicles)} vehicles cannot hold the planted convoys and clones")
    # Convoys: vehicles 0/1, 2/3, ...; clones next; the rest drive about.
    for k in range(config.convoys):
        lead, follow = vehicles[2 * k], vehicles[2 * k + 1]
        lead.role = follow.role = "convoy"
        passes += _convoy(rng, city, lead.index, follow.index)
    third = max(size // 3, 2)
    west_north = Block(0, third - 1, size - third, size - 1)
    east_south = Block(size - third, size - 1, 0, third - 1)
    for k in range(config.cloned_plates):
        a = vehicles[config.convoys * 2 + 2 * k]
        b = vehicles[config.convoys * 2 + 2 * k + 1]
        b.plate, b.plate_color = a.plate, a.plate_color  # the clone carries the same plate
        a.role = b.role = "clone"
        for vehicle, block in ((a, west_north), (b, east_south)):
            node = rng.choice(block.nodes(roads))
            start = rng.uniform(-0.05, 0.1) * end
            passes += day(rng, city, vehicle.index, start, node, (30.0, 240.0), block)
    for vehicle in vehicles[planted:]:
        node = rng.randrange(size * size)
        passes += day(rng, city, vehicle.index, rng.uniform(-0.25, 0.6) * end, node, (240, 1800))
    return [p for p in passes if 0.5 <= p.t <= end - 5.0]
