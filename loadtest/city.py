"""The city: its configuration, a road network around Hangzhou, the cameras on it and their
device registry.

Roads are a jittered, slightly rotated grid of intersections (``spread_km`` across, centred on
30.27N 120.15E). A camera watches one direction of one street, just before the downstream
intersection, so a vehicle driving that street segment in that direction passes it. Device ids
are what the vendor adapters make of each camera's payloads: a GB/T 28181 code when the camera
sends one (or, for Dahua, when the collector keys it by one), else the adapter's derived id.
"""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from streams.domain.geo import wgs84_to_bd09, wgs84_to_gcj02
from streams.vendors.common import device_id_from

CENTER = (30.27, 120.15)
M_PER_DEG_LAT = 111_320.0
TIMEZONE = "Asia/Shanghai"

HIKVISION = "hikvision-isapi"
DAHUA = "dahua-cgi"
UNIVIEW = "uniview-lapi"
GAT1400 = "gat1400"
VENDORS = (HIKVISION, DAHUA, UNIVIEW, GAT1400)

DEFAULT_MIX: tuple[tuple[str, float], ...] = (
    (HIKVISION, 0.40),
    (DAHUA, 0.25),
    (UNIVIEW, 0.20),
    (GAT1400, 0.15),
)

# Hangzhou districts (GB/T 2260 codes) by grid sixth: north-west .. south-east.
_DISTRICTS = (
    ("330110", "余杭区"),
    ("330105", "拱墅区"),
    ("330104", "江干区"),
    ("330106", "西湖区"),
    ("330102", "上城区"),
    ("330108", "滨江区"),
)
_EAST_WEST = (
    "文一路",
    "文二路",
    "文三路",
    "天目山路",
    "凤起路",
    "庆春路",
    "解放路",
    "西湖大道",
    "清泰街",
    "望江路",
    "秋涛路",
    "之江路",
    "德胜路",
    "石桥路",
    "艮山西路",
    "环城北路",
    "体育场路",
    "留和路",
    "余杭塘路",
    "紫金港路",
    "五常大道",
    "江南大道",
    "滨盛路",
    "江晖路",
    "长河路",
    "西兴路",
    "建设一路",
)
_NORTH_SOUTH = (
    "古墩路",
    "丰潭路",
    "紫荆花路",
    "教工路",
    "学院路",
    "莫干山路",
    "湖墅南路",
    "中河路",
    "延安路",
    "建国路",
    "东新路",
    "上塘路",
    "秋石路",
    "机场路",
    "新塘路",
    "钱江路",
    "富春路",
    "时代大道",
    "江陵路",
    "滨文路",
    "古翠路",
    "益乐路",
    "登云路",
    "沈半路",
    "留石路",
    "华中路",
    "振华路",
)
_DIRECTIONS = {(1, 0): "东向", (-1, 0): "西向", (0, 1): "北向", (0, -1): "南向"}


@dataclass(frozen=True)
class CityConfig:
    """Everything that shapes a generated city; the same config always gives the same city."""

    seed: int = 1
    cameras: int = 2000
    vehicles: int = 5000
    pedestrians: int = 3000
    hours: float = 1.0
    # Scenario start (UTC); None: now (whole seconds) minus the duration.
    start: datetime | None = None
    vendor_mix: tuple[tuple[str, float], ...] = DEFAULT_MIX
    spread_km: float = 15.0
    # Share of cameras that also capture faces (pedestrians walking past).
    face_cameras: float = 0.3
    alarms_per_camera_hour: float = 0.5
    # --- mess -------------------------------------------------------------------------------
    # Share of plate passes read 2-3 times within ~1-2 s at one device.
    multi_snapshot: float = 0.35
    # Share of multi-snapshot passes where one non-best read is one OCR confusion off.
    misread: float = 0.15
    # Share of passes without a readable plate (always single-snapshot).
    unreadable: float = 0.03
    # Share of payloads the device sends again, byte for byte, seconds to a minute later.
    repush: float = 0.03
    # Share of passes (of cameras with a GB/T 28181 code) a platform cascade re-delivers.
    cascade: float = 0.10
    # Share of devices whose clock is 1-4 s off.
    skewed_devices: float = 0.10
    # Cameras whose clock runs 8 h ahead (a local wall clock sent as UTC).
    clock_ahead_cameras: int = 1
    # Cameras that go offline and flush their buffered captures late.
    offline_cameras: int = 2
    # Share of payload lines that are malformed (truncated, garbage); at least 5 of them.
    malformed: float = 0.002
    cloned_plates: int = 2
    convoys: int = 3
    # Exact watchlist entries beyond the convoy leaders, and wildcard entries.
    watchlist_exact: int = 12
    watchlist_wildcards: int = 3

    @property
    def duration_seconds(self) -> float:
        return self.hours * 3600.0


# The skew of a camera whose clock is set ahead: its local wall clock sent as UTC.
CLOCK_AHEAD_SECONDS = 8 * 3600.0


@dataclass(frozen=True)
class Camera:
    index: int
    device_id: str  # what the adapters put on its events; the registry id
    source: str  # the raw topic its own payloads go to (one of streams.topics.SOURCES)
    gb_code: str | None  # the GB/T 28181 code its payloads or its key carry, if any
    name: str
    admin_area: str
    lat: float  # true WGS-84 position
    lon: float
    edge: tuple[int, int]  # the directed street segment it watches (node ids)
    heading: tuple[int, int]  # grid direction of travel on that segment
    faces: bool
    skew: float  # seconds its clock is ahead (negative: behind)
    mac: str
    ip: str
    serial: str
    # Vendor habits.
    utc_clock: bool = False  # Hikvision: dateTime in UTC whatever the zone
    multipart: bool = False  # Hikvision: ANPR pushed as multipart/form-data with pictures
    real_utc: bool = True  # Dahua: sends RealUTC besides the local-as-UTC field
    coord_system: str = "wgs84"  # how the registry lists its position


@dataclass
class RoadNet:
    size: int  # intersections per side
    nodes: list[tuple[float, float]]  # (lat, lon) per node id = j * size + i
    spacing_m: float
    lengths: dict[tuple[int, int], float] = field(default_factory=dict)  # directed, metres
    camera_on: dict[tuple[int, int], int] = field(default_factory=dict)  # edge -> camera index

    def node(self, i: int, j: int) -> int:
        return j * self.size + i

    def grid(self, node: int) -> tuple[int, int]:
        return node % self.size, node // self.size

    def neighbours(self, node: int) -> list[int]:
        i, j = self.grid(node)
        out = []
        for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            a, b = i + di, j + dj
            if 0 <= a < self.size and 0 <= b < self.size:
                out.append(self.node(a, b))
        return out


@dataclass
class Layout:
    """The layout part of a generated city (the traffic is in :mod:`loadtest.traffic`)."""

    config: CityConfig
    roads: RoadNet
    cameras: list[Camera]


def grid_size(cameras: int) -> int:
    """Intersections per side so that cameras cover at most ~85% of the directed segments."""
    size = 3
    while 4 * size * (size - 1) * 0.85 < cameras:
        size += 1
    return size


def _to_latlon(x: float, y: float) -> tuple[float, float]:
    lat = CENTER[0] + y / M_PER_DEG_LAT
    lon = CENTER[1] + x / (M_PER_DEG_LAT * math.cos(math.radians(CENTER[0])))
    return lat, lon


def build_roads(rng: random.Random, cameras: int, spread_km: float) -> RoadNet:
    size = grid_size(cameras)
    spacing = spread_km * 1000.0 / (size - 1)
    angle = math.radians(9.0)  # real street grids are never aligned with the meridian
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    points: list[tuple[float, float]] = []
    nodes: list[tuple[float, float]] = []
    half = (size - 1) / 2
    for j in range(size):
        for i in range(size):
            gx = (i - half) * spacing + rng.uniform(-0.18, 0.18) * spacing
            gy = (j - half) * spacing + rng.uniform(-0.18, 0.18) * spacing
            x, y = gx * cos_a - gy * sin_a, gx * sin_a + gy * cos_a
            points.append((x, y))
            nodes.append(_to_latlon(x, y))
    roads = RoadNet(size=size, nodes=nodes, spacing_m=spacing)
    for node in range(size * size):
        for other in roads.neighbours(node):
            (x1, y1), (x2, y2) = points[node], points[other]
            # Streets are never straight: a little longer than the crow flies.
            roads.lengths[(node, other)] = math.hypot(x2 - x1, y2 - y1) * 1.08
    return roads


def _vendor_list(rng: random.Random, mix: tuple[tuple[str, float], ...], count: int) -> list[str]:
    """Exactly the mix's proportions (largest remainders), shuffled."""
    total = sum(weight for _name, weight in mix)
    if total <= 0:
        raise ValueError("the vendor mix has no positive weight")
    shares = [(name, weight / total * count) for name, weight in mix]
    counts = {name: int(share) for name, share in shares}
    left = count - sum(counts.values())
    for name, _share in sorted(shares, key=lambda s: s[1] - int(s[1]), reverse=True)[:left]:
        counts[name] += 1
    vendors = [name for name, _w in mix for _ in range(counts[name])]
    rng.shuffle(vendors)
    return vendors


def _district(roads: RoadNet, node: int) -> tuple[str, str]:
    i, j = roads.grid(node)
    col = min(i * 3 // roads.size, 2)
    row = 0 if j >= roads.size / 2 else 1
    return _DISTRICTS[row * 3 + col]


def build_cameras(rng: random.Random, config: CityConfig, roads: RoadNet) -> list[Camera]:
    for name, _weight in config.vendor_mix:
        if name not in VENDORS:
            raise ValueError(f"unknown vendor {name!r} in the mix; known: {', '.join(VENDORS)}")
    edges = sorted(roads.lengths)
    if config.cameras > len(edges):
        raise ValueError(f"{config.cameras} cameras do not fit on {len(edges)} street segments")
    chosen = sorted(rng.sample(edges, config.cameras))
    vendors = _vendor_list(rng, config.vendor_mix, config.cameras)
    cameras: list[Camera] = []
    for index, ((a, b), source) in enumerate(zip(chosen, vendors, strict=True)):
        (lat1, lon1), (lat2, lon2) = roads.nodes[a], roads.nodes[b]
        ia, ja = roads.grid(a)
        ib, jb = roads.grid(b)
        heading = (ib - ia, jb - ja)
        # 85% along the segment, ~8 m to the right of the centre line.
        lat = lat1 + 0.85 * (lat2 - lat1) - heading[0] * 8.0 / M_PER_DEG_LAT
        lon = lon1 + 0.85 * (lon2 - lon1) + heading[1] * 8.0 / (M_PER_DEG_LAT * 0.864)
        area, district = _district(roads, b)
        street = (_EAST_WEST[jb % len(_EAST_WEST)], _NORTH_SOUTH[ib % len(_NORTH_SOUTH)])
        if heading[1]:  # driving north/south: on the north-south street
            street = street[::-1]
        name = f"{district}{street[0]}与{street[1]}口{_DIRECTIONS[heading]}卡口"
        code_type = "132" if rng.random() < 0.8 else "131"
        gb_code = f"{area}0000{code_type}0{index + 1:06d}"
        mac = f"44:19:b6:{(index >> 16) & 0xFF:02x}:{(index >> 8) & 0xFF:02x}:{index & 0xFF:02x}"
        ip = f"10.{int(area[-2:])}.{index // 250}.{index % 250 + 2}"
        serial = f"210235C3EQ{rng.randrange(10**9, 10**10)}"
        skew = 0.0
        if rng.random() < config.skewed_devices:
            skew = rng.choice((-1.0, 1.0)) * rng.uniform(1.0, 4.0)
        habits: dict[str, bool] = {}
        device_id = gb_code
        code: str | None = gb_code
        if source == HIKVISION:
            habits = {"utc_clock": rng.random() < 0.1, "multipart": rng.random() < 0.3}
            if rng.random() < 0.2:  # no GB code configured: the adapter derives one from the MAC
                code = None
                device_id = device_id_from(HIKVISION, None, mac, "1")
        elif source == DAHUA:
            habits = {"real_utc": rng.random() < 0.7}
        elif source == UNIVIEW and rng.random() < 0.2:
            code = None
            device_id = device_id_from(UNIVIEW, serial, 1)
        roll = rng.random()
        coord_system = "wgs84" if roll < 0.8 else "gcj02" if roll < 0.95 else "bd09"
        cameras.append(
            Camera(
                index=index,
                device_id=device_id,
                source=source,
                gb_code=code,
                name=name,
                admin_area=area,
                lat=lat,
                lon=lon,
                edge=(a, b),
                heading=heading,
                faces=rng.random() < config.face_cameras,
                skew=round(skew, 3),
                mac=mac,
                ip=ip,
                serial=serial,
                coord_system=coord_system,
                **habits,
            )
        )
        roads.camera_on[(a, b)] = index
    return cameras


def build_layout(config: CityConfig) -> Layout:
    roads = build_roads(random.Random(f"{config.seed}:roads"), config.cameras, config.spread_km)
    cameras = build_cameras(random.Random(f"{config.seed}:cameras"), config, roads)
    ahead = random.Random(f"{config.seed}:clocks").sample(
        range(len(cameras)), min(config.clock_ahead_cameras, len(cameras))
    )
    for index in ahead:
        cameras[index] = replace(cameras[index], skew=CLOCK_AHEAD_SECONDS)
    return Layout(config=config, roads=roads, cameras=cameras)


REGISTRY_COLUMNS = ("device_id", "name", "vendor", "lat", "lon", "coord_system", "timezone")
_VENDOR_NAMES = {HIKVISION: "hikvision", DAHUA: "dahua", UNIVIEW: "uniview", GAT1400: "gat1400"}


def registry_position(camera: Camera) -> tuple[float, float]:
    """The position as the registry lists it: in the camera's coordinate system, as installers
    copy it from Amap (GCJ-02) or Baidu (BD-09) maps."""
    if camera.coord_system == "gcj02":
        return wgs84_to_gcj02(camera.lat, camera.lon)
    if camera.coord_system == "bd09":
        return wgs84_to_bd09(camera.lat, camera.lon)
    return camera.lat, camera.lon


def write_devices_csv(cameras: list[Camera], path: Path) -> None:
    """The registry in the format ``streams.domain.devices.DeviceRegistry.from_csv`` reads."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(REGISTRY_COLUMNS)
        for camera in cameras:
            lat, lon = registry_position(camera)
            writer.writerow(
                (
                    camera.device_id,
                    camera.name,
                    _VENDOR_NAMES[camera.source],
                    f"{lat:.6f}",
                    f"{lon:.6f}",
                    camera.coord_system,
                    TIMEZONE,
                )
            )
