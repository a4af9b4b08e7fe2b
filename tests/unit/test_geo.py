from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from streams.domain.geo import (
    CoordSystem,
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    haversine_m,
    out_of_china,
    point_in_polygon,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
    within_radius,
)

BEIJING = (39.9042, 116.4074)
SHANGHAI = (31.2304, 121.4737)

# (WGS-84, GCJ-02) pairs published with the eviltransform ports (googollee/eviltransform).
EVILTRANSFORM_PAIRS = [
    ((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215)),  # Shanghai
    ((22.543847, 113.912316), (22.540796131694766, 113.9171764808363)),  # Shenzhen
    ((39.911954, 116.377817), (39.91334545536069, 116.38404722455657)),  # Beijing
]

# WGS-84 points spread over China, from Mohe to Sanya and Kashgar to Fuyuan.
CHINA_POINTS = [
    (52.97, 122.54),  # Mohe
    (45.80, 126.53),  # Harbin
    (43.83, 87.62),  # Urumqi
    (39.47, 75.99),  # Kashgar
    (29.65, 91.13),  # Lhasa
    (30.57, 104.07),  # Chengdu
    (36.06, 103.83),  # Lanzhou
    (34.26, 108.94),  # Xi'an
    (23.13, 113.26),  # Guangzhou
    (18.25, 109.51),  # Sanya
    (48.36, 134.29),  # Fuyuan
    (22.32, 114.17),  # Hong Kong
]


def test_haversine_beijing_shanghai_is_about_1067_km() -> None:
    d = haversine_m(*BEIJING, *SHANGHAI)
    assert d == pytest.approx(1_067_000, rel=0.01)


def test_haversine_one_degree_of_latitude_and_zero() -> None:
    assert haversine_m(30.0, 120.0, 31.0, 120.0) == pytest.approx(111_195, rel=0.001)
    assert haversine_m(*BEIJING, *BEIJING) == 0.0
    assert haversine_m(*BEIJING, *SHANGHAI) == pytest.approx(haversine_m(*SHANGHAI, *BEIJING))


def test_haversine_antipodes_do_not_fail() -> None:
    assert haversine_m(0.0, 0.0, 0.0, 180.0) == pytest.approx(20_015_114, rel=0.001)


def test_within_radius_is_inclusive_and_rejects_negative_radius() -> None:
    # About 111 m north of the centre.
    assert within_radius(30.001, 120.0, 30.0, 120.0, 112.0)
    assert not within_radius(30.001, 120.0, 30.0, 120.0, 110.0)
    assert within_radius(30.0, 120.0, 30.0, 120.0, 0.0)
    with pytest.raises(ValueError, match="negative"):
        within_radius(30.0, 120.0, 30.0, 120.0, -1.0)


@pytest.mark.parametrize(("wgs", "gcj"), EVILTRANSFORM_PAIRS)
def test_wgs84_to_gcj02_matches_published_values(
    wgs: tuple[float, float], gcj: tuple[float, float]
) -> None:
    got = wgs84_to_gcj02(*wgs)
    assert got == pytest.approx(gcj, abs=1e-9)


@pytest.mark.parametrize(("wgs", "gcj"), EVILTRANSFORM_PAIRS)
def test_gcj02_to_wgs84_recovers_published_points(
    wgs: tuple[float, float], gcj: tuple[float, float]
) -> None:
    assert haversine_m(*gcj02_to_wgs84(*gcj), *wgs) < 0.01


def test_wgs84_to_gcj02_coordtransform_value() -> None:
    # wandergis/coordtransform test value (lon 116.404, lat 39.915).
    assert wgs84_to_gcj02(39.915, 116.404) == pytest.approx(
        (39.91640428150164, 116.41024449916938), abs=1e-9
    )


@pytest.mark.parametrize("wgs", CHINA_POINTS)
def test_gcj02_round_trip_under_half_a_metre_across_china(wgs: tuple[float, float]) -> None:
    gcj = wgs84_to_gcj02(*wgs)
    # The offset is real (tens to hundreds of metres), so the round trip is not trivial.
    assert haversine_m(*wgs, *gcj) > 10
    assert haversine_m(*wgs, *gcj02_to_wgs84(*gcj)) < 0.5


@pytest.mark.parametrize(
    "point",
    [
        (51.5074, -0.1278),  # London
        (35.6762, 139.6503),  # Tokyo: east of the box
        (-33.8688, 151.2093),  # Sydney
        (60.0, 100.0),  # Siberia: north of the box
        (40.7128, -74.0060),  # New York
    ],
)
def test_outside_china_is_identity(point: tuple[float, float]) -> None:
    assert out_of_china(*point)
    assert wgs84_to_gcj02(*point) == point
    assert gcj02_to_wgs84(*point) == point
    assert to_wgs84(*point, CoordSystem.GCJ02) == point


def test_bd09_known_conversions() -> None:
    # wandergis/coordtransform test values for the input lon 116.404, lat 39.915.
    assert bd09_to_gcj02(39.915, 116.404) == pytest.approx(
        (39.90865673957631, 116.39762729119315), abs=1e-9
    )
    assert gcj02_to_bd09(39.915, 116.404) == pytest.approx(
        (39.92133699351021, 116.41036949371029), abs=1e-9
    )


def test_bd09_to_wgs84_goes_through_gcj02() -> None:
    bd = (39.915, 116.404)
    assert bd09_to_wgs84(*bd) == pytest.approx(gcj02_to_wgs84(*bd09_to_gcj02(*bd)), abs=1e-12)
    # Baidu's offset plus the GCJ offset: several hundred metres from the input.
    assert 500 < haversine_m(*bd, *bd09_to_wgs84(*bd)) < 1500


@pytest.mark.parametrize("wgs", CHINA_POINTS)
def test_bd09_round_trip(wgs: tuple[float, float]) -> None:
    assert haversine_m(*wgs, *bd09_to_wgs84(*wgs84_to_bd09(*wgs))) < 0.5


def test_to_wgs84_dispatches_on_system_and_accepts_strings() -> None:
    gcj = EVILTRANSFORM_PAIRS[2][1]
    assert to_wgs84(*gcj, CoordSystem.WGS84) == gcj
    assert to_wgs84(*gcj, "gcj02") == gcj02_to_wgs84(*gcj)
    assert to_wgs84(*gcj, CoordSystem.BD09) == bd09_to_wgs84(*gcj)
    with pytest.raises(ValueError, match="utm"):
        to_wgs84(*gcj, "utm")


def test_coord_system_values() -> None:
    assert [c.value for c in CoordSystem] == ["wgs84", "gcj02", "bd09"]


SQUARE = [(0.0, 0.0), (0.0, 10.0), (10.0, 10.0), (10.0, 0.0)]
# A "U" open to the north: the notch 3<lon<7, lat>3 is outside.
U_SHAPE = [
    (0.0, 0.0),
    (0.0, 10.0),
    (10.0, 10.0),
    (10.0, 7.0),
    (3.0, 7.0),
    (3.0, 3.0),
    (10.0, 3.0),
    (10.0, 0.0),
]


@pytest.mark.parametrize(
    ("polygon", "point", "inside"),
    [
        (SQUARE, (5.0, 5.0), True),
        (SQUARE, (11.0, 5.0), False),
        (SQUARE, (5.0, -0.1), False),
        (SQUARE, (-5.0, -5.0), False),
        ([*SQUARE, SQUARE[0]], (5.0, 5.0), True),  # closed ring
        (U_SHAPE, (1.5, 5.0), True),  # bottom of the U
        (U_SHAPE, (6.0, 1.5), True),  # left arm
        (U_SHAPE, (6.0, 8.5), True),  # right arm
        (U_SHAPE, (6.0, 5.0), False),  # in the notch
        (U_SHAPE, (3.0, -1.0), False),  # ray runs through both notch-bottom vertices
        (U_SHAPE, (3.0, 1.5), True),  # same ray, starting inside the left arm
        (U_SHAPE, (10.0, 5.0), False),  # level with the top vertices
    ],
)
def test_point_in_polygon(
    polygon: list[tuple[float, float]], point: tuple[float, float], inside: bool
) -> None:
    assert point_in_polygon(*point, polygon) is inside


def test_point_in_polygon_real_geofence() -> None:
    # Rough ring around Tiananmen Square (lat, lon).
    fence = [(39.9087, 116.3912), (39.9087, 116.3995), (39.8990, 116.3995), (39.8990, 116.3912)]
    assert point_in_polygon(39.9035, 116.3976, fence)  # Monument to the People's Heroes
    assert not point_in_polygon(39.9163, 116.3972, fence)  # Forbidden City, to the north


def test_point_in_polygon_needs_three_vertices() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        point_in_polygon(0.0, 0.0, [(0.0, 0.0), (1.0, 1.0)])


@settings(max_examples=300, deadline=None)
@given(
    # The box of out_of_china, shrunk by 0.05 degrees so GCJ points stay inside it.
    lat=st.floats(min_value=0.88, max_value=55.77),
    lon=st.floats(min_value=72.06, max_value=137.78),
)
def test_gcj02_round_trip_property(lat: float, lon: float) -> None:
    assert haversine_m(lat, lon, *gcj02_to_wgs84(*wgs84_to_gcj02(lat, lon))) < 0.5


@settings(max_examples=200, deadline=None)
@given(
    lat=st.floats(min_value=-10.0, max_value=20.0),
    lon=st.floats(min_value=-10.0, max_value=20.0),
)
def test_point_in_square_property(lat: float, lon: float) -> None:
    assume(lat not in (0.0, 10.0) and lon not in (0.0, 10.0))  # edges may go either way
    expected = 0.0 < lat < 10.0 and 0.0 < lon < 10.0
    assert point_in_polygon(lat, lon, SQUARE) is expected
