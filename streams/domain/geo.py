"""Distances, geofences and the China map datums (WGS-84, GCJ-02, BD-09).

Every function takes and returns ``(lat, lon)`` in decimal degrees, in that order. Device
positions are stored in WGS-84; values copied from Amap/Tencent (GCJ-02) or Baidu (BD-09) are
converted once, when the device registry is loaded.

The GCJ-02 forward transform is the published "eviltransform"/coordtransform algorithm
(Krasovsky 1940 ellipsoid). It has no closed-form inverse; :func:`gcj02_to_wgs84` iterates the
forward transform to a fixed point instead, which is accurate to well under a centimetre.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import StrEnum

EARTH_RADIUS_M = 6_371_008.8  # IUGG mean radius

# Krasovsky 1940, as used by the GCJ-02 algorithm.
_KRASOVSKY_A = 6_378_245.0
_KRASOVSKY_EE = 0.00669342162296594323

# eviltransform's box (a little wider than coordtransform's): outside it GCJ-02 == WGS-84.
_CHINA_MIN_LON = 72.004
_CHINA_MAX_LON = 137.8347
_CHINA_MIN_LAT = 0.8293
_CHINA_MAX_LAT = 55.8271

_X_PI = math.pi * 3000.0 / 180.0

# 1e-10 degrees is about 0.01 mm; the fixed-point iteration reaches it in 3-4 steps.
_INVERSE_TOLERANCE_DEG = 1e-10
_INVERSE_MAX_STEPS = 30


class CoordSystem(StrEnum):
    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres on a sphere of the Earth's mean radius."""
    phi1 = math.radians(lat1)
    phi2 = math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    # Rounding can push h a hair above 1 for antipodal points.
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, h)))


def within_radius(
    lat: float, lon: float, center_lat: float, center_lon: float, radius_m: float
) -> bool:
    """True when the point is at most ``radius_m`` metres from the centre (inclusive)."""
    if radius_m < 0:
        raise ValueError(f"radius_m must not be negative, got {radius_m}")
    return haversine_m(lat, lon, center_lat, center_lon) <= radius_m


def point_in_polygon(lat: float, lon: float, polygon: Sequence[tuple[float, float]]) -> bool:
    """Ray casting on the plane of (lon, lat) degrees.

    ``polygon`` is a ring of ``(lat, lon)`` vertices; repeating the first vertex at the end is
    allowed. Points exactly on an edge may fall on either side. Suitable for city-scale
    geofences; rings that cross the antimeridian or enclose a pole are not supported.
    """
    n = len(polygon)
    if n < 3:
        raise ValueError(f"a polygon needs at least 3 vertices, got {n}")
    inside = False
    prev_lat, prev_lon = polygon[-1]
    for cur_lat, cur_lon in polygon:
        # Half-open test (> vs <=) so a ray through a vertex is counted once, not twice.
        if (cur_lat > lat) != (prev_lat > lat):
            cross_lon = cur_lon + (lat - cur_lat) * (prev_lon - cur_lon) / (prev_lat - cur_lat)
            if lon < cross_lon:
                inside = not inside
        prev_lat, prev_lon = cur_lat, cur_lon
    return inside


def out_of_china(lat: float, lon: float) -> bool:
    """True outside the bounding box in which GCJ-02 differs from WGS-84."""
    return not (_CHINA_MIN_LON <= lon <= _CHINA_MAX_LON and _CHINA_MIN_LAT <= lat <= _CHINA_MAX_LAT)


def _gcj_delta(lat: float, lon: float) -> tuple[float, float]:
    """GCJ-02 minus WGS-84 at a WGS-84 point, in degrees (no bounding-box check)."""
    x = lon - 105.0
    y = lat - 35.0
    x_pi = x * math.pi
    y_pi = y * math.pi
    common = (20.0 * math.sin(6.0 * x_pi) + 20.0 * math.sin(2.0 * x_pi)) * 2.0 / 3.0
    sqrt_abs_x = math.sqrt(abs(x))
    d_lat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * sqrt_abs_x
        + common
        + (20.0 * math.sin(y_pi) + 40.0 * math.sin(y_pi / 3.0)) * 2.0 / 3.0
        + (160.0 * math.sin(y_pi / 12.0) + 320.0 * math.sin(y_pi / 30.0)) * 2.0 / 3.0
    )
    d_lon = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * sqrt_abs_x
        + common
        + (20.0 * math.sin(x_pi) + 40.0 * math.sin(x_pi / 3.0)) * 2.0 / 3.0
        + (150.0 * math.sin(x_pi / 12.0) + 300.0 * math.sin(x_pi / 30.0)) * 2.0 / 3.0
    )
    rad_lat = math.radians(lat)
    magic = 1.0 - _KRASOVSKY_EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    meridian_radius = _KRASOVSKY_A * (1.0 - _KRASOVSKY_EE) / (magic * sqrt_magic)
    parallel_radius = _KRASOVSKY_A / sqrt_magic * math.cos(rad_lat)
    d_lat = (d_lat * 180.0) / (meridian_radius * math.pi)
    d_lon = (d_lon * 180.0) / (parallel_radius * math.pi)
    return d_lat, d_lon


def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    if out_of_china(lat, lon):
        return lat, lon
    d_lat, d_lon = _gcj_delta(lat, lon)
    return lat + d_lat, lon + d_lon


def gcj02_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    """Inverse of :func:`wgs84_to_gcj02` by fixed-point iteration.

    The box test is made on the GCJ-02 input; within a few hundred metres of the box edge the
    true WGS-84 point may lie on the other side of it, where no exact inverse exists.
    """
    if out_of_china(lat, lon):
        return lat, lon
    d_lat, d_lon = _gcj_delta(lat, lon)
    w_lat, w_lon = lat - d_lat, lon - d_lon
    for _ in range(_INVERSE_MAX_STEPS):
        d_lat, d_lon = _gcj_delta(w_lat, w_lon)
        err_lat = w_lat + d_lat - lat
        err_lon = w_lon + d_lon - lon
        w_lat -= err_lat
        w_lon -= err_lon
        if abs(err_lat) < _INVERSE_TOLERANCE_DEG and abs(err_lon) < _INVERSE_TOLERANCE_DEG:
            break
    return w_lat, w_lon


def gcj02_to_bd09(lat: float, lon: float) -> tuple[float, float]:
    z = math.hypot(lon, lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _X_PI)
    return z * math.sin(theta) + 0.006, z * math.cos(theta) + 0.0065


def bd09_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    """The published BD-09 inverse; its round trip error stays under 0.25 m in China."""
    x = lon - 0.0065
    y = lat - 0.006
    z = math.hypot(x, y) - 0.00002 * math.sin(y * _X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _X_PI)
    return z * math.sin(theta), z * math.cos(theta)


def wgs84_to_bd09(lat: float, lon: float) -> tuple[float, float]:
    return gcj02_to_bd09(*wgs84_to_gcj02(lat, lon))


def bd09_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    return gcj02_to_wgs84(*bd09_to_gcj02(lat, lon))


def to_wgs84(lat: float, lon: float, system: CoordSystem | str) -> tuple[float, float]:
    """Convert a point given in ``system`` to WGS-84 (CGCS2000 is treated as WGS-84)."""
    match CoordSystem(system):
        case CoordSystem.WGS84:
            return lat, lon
        case CoordSystem.GCJ02:
            return gcj02_to_wgs84(lat, lon)
        case CoordSystem.BD09:
            return bd09_to_wgs84(lat, lon)
