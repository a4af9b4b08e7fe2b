"""Search request validation and the pure pieces of query building (no warehouse)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from streams.search import (
    KINDS,
    Area,
    AreaSearch,
    CollisionSearch,
    CollisionSet,
    FaceSearch,
    PlateSearch,
    SearchRequest,
    TrajectorySearch,
)
from streams.search.plates import _on_sort_key, exact_plate, plate_condition, wildcard_to_like
from streams.search.sql import Params, rfc3339

T0 = datetime(2026, 3, 1, tzinfo=UTC)
CIRCLE = {"lat": 30.25, "lon": 120.17, "radius_m": 500.0}


def test_every_kind_is_registered_under_its_name() -> None:
    assert set(KINDS) == {
        "plate",
        "trajectory",
        "first-seen",
        "area",
        "collision",
        "cotravel",
        "face",
        "alerts",
        "correlations",
        "device-stats",
    }
    for name, model in KINDS.items():
        assert issubclass(model, SearchRequest)
        assert model.kind == name
        for field_name, info in model.model_fields.items():
            assert info.description, f"{name}.{field_name} has no description"


def test_naive_datetime_is_refused_with_a_clear_message() -> None:
    with pytest.raises(ValidationError, match="must carry a zone"):
        PlateSearch(plate="浙A80015", since=datetime(2026, 3, 1))  # noqa: DTZ001
    with pytest.raises(ValidationError, match="must carry a zone"):
        PlateSearch.model_validate({"plate": "浙A80015", "until": "2026-03-01T08:00:00"})


def test_times_with_an_offset_become_utc() -> None:
    beijing = timezone(timedelta(hours=8))
    request = PlateSearch(plate="浙A80015", since=datetime(2026, 3, 1, 16, tzinfo=beijing))
    assert request.since == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert request.since is not None
    assert request.since.tzinfo == UTC


def test_since_must_be_before_until() -> None:
    with pytest.raises(ValidationError, match="since must be earlier than until"):
        PlateSearch(plate="浙A80015", since=T0, until=T0)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "needs a circle"),
        ({"lat": 30.0, "lon": 120.0}, "needs all of lat, lon and radius_m"),
        ({**CIRCLE, "polygon": [[30, 120], [30.1, 120], [30, 120.1]]}, "not both"),
        ({"polygon": [[30, 120], [30.1, 120]]}, "at least 3 points"),
        ({"lat": 91.0, "lon": 120.0, "radius_m": 10.0}, "less than or equal to 90"),
        ({"lat": 30.0, "lon": 120.0, "radius_m": 0.0}, "greater than 0"),
    ],
)
def test_area_is_exactly_one_valid_shape(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Area.model_validate(data)


def test_area_shapes_and_their_bounding_boxes() -> None:
    circle = Area.model_validate(CIRCLE)
    assert circle.is_circle
    min_lat, max_lat, min_lon, max_lon = circle.bounding_box()
    assert min_lat < 30.25 - 0.0044 < 30.25 + 0.0044 < max_lat  # 500 m is ~0.0045 degrees
    assert min_lon < 120.17 < max_lon
    polygon = Area(polygon=[(30.0, 120.0), (30.1, 120.0), (30.0, 120.2)])
    assert not polygon.is_circle
    assert polygon.bounding_box() == (30.0, 30.1, 120.0, 120.2)


@pytest.mark.parametrize(
    ("pattern", "like"),
    [
        ("浙A8*", "浙A8%"),
        ("*8001?", "%8001_"),
        ("浙?80?15", "浙_80_15"),
        ("A%B", "A\\%B"),
        ("A_B*", "A\\_B%"),
        ("A\\B", "A\\\\B"),
        ("' OR 1=1 --*", "' OR 1=1 --%"),
    ],
)
def test_wildcards_become_an_escaped_like_pattern(pattern: str, like: str) -> None:
    assert wildcard_to_like(pattern) == like


@pytest.mark.parametrize("pattern", ["*", "?", "**??*", ""])
def test_a_pattern_of_wildcards_only_is_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match=r"only wildcards|empty"):
        wildcard_to_like(pattern)


@pytest.mark.parametrize(
    ("query", "on_key"),
    [
        ({"plate": "浙A80015"}, True),
        ({"plate": " 浙a1*"}, True),
        ({"unreadable": True}, True),
        ({"plate": "*1234"}, False),
        ({"plate": "?A1234"}, False),
        ({"plate": "浙A80015", "fuzzy": True}, False),
        ({"devices": ["D1"]}, False),
    ],
)
def test_which_plate_searches_narrow_the_sort_key(query: dict[str, Any], on_key: bool) -> None:
    # A search on the sort key never reads through the by_device projection.
    assert _on_sort_key(PlateSearch.model_validate(query)) is on_key


def test_plate_conditions_bind_their_values() -> None:
    params = Params()
    assert plate_condition(params, "浙a 8o015", fuzzy=False) == "plate_number = {s0:String}"
    assert params.values == {"s0": "浙A80015"}  # canonicalised like the pipeline does
    params = Params()
    assert plate_condition(params, "苏A8D015", fuzzy=True) == "plate_folded = {s0:String}"
    assert params.values == {"s0": "A80015"}
    params = Params()
    assert plate_condition(params, "浙a8O*", fuzzy=True) == "plate_folded LIKE {s0:String}"
    assert params.values == {"s0": "A80%"}
    assert exact_plate("AB-1234") == "AB1234"


def test_plate_request_needs_something_to_narrow_by() -> None:
    with pytest.raises(ValidationError, match="give a plate, unreadable=true, devices or an area"):
        PlateSearch()
    with pytest.raises(ValidationError, match="give no plate"):
        PlateSearch(plate="浙A80015", unreadable=True)
    with pytest.raises(ValidationError, match="fuzzy needs a plate"):
        PlateSearch(fuzzy=True, devices=["d1"])
    assert PlateSearch(unreadable=True).unreadable


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"plate": "浙A80015", "limit": 0}, "greater than or equal to 1"),
        ({"plate": "浙A80015", "limit": 10_001}, "less than or equal to 10000"),
        ({"plate": "浙A80015", "offset": -1}, "greater than or equal to 0"),
        ({"plate": "浙A80015", "colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_paging_limits(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PlateSearch.model_validate(data)
    assert PlateSearch(plate="浙A80015").limit == 100


def test_area_search_range_is_bounded() -> None:
    area = Area.model_validate(CIRCLE)
    ok = AreaSearch(area=area, since=T0, until=T0 + timedelta(days=31))
    assert ok.kinds == ["plate", "face", "alarm"]
    with pytest.raises(ValidationError, match="at most 31 days"):
        AreaSearch(area=area, since=T0, until=T0 + timedelta(days=31, seconds=1))
    with pytest.raises(ValidationError, match="Field required"):
        AreaSearch.model_validate({"area": CIRCLE, "since": "2026-03-01T00:00:00Z"})


def test_collision_sets_and_k() -> None:
    area = Area.model_validate(CIRCLE)
    one = CollisionSet(area=area, since=T0, until=T0 + timedelta(hours=1))
    assert CollisionSearch(sets=[one, one, one]).required_sets == 3
    assert CollisionSearch(sets=[one, one, one], min_sets=2).required_sets == 2
    with pytest.raises(ValidationError, match="at least 2 items"):
        CollisionSearch(sets=[one])
    with pytest.raises(ValidationError, match="min_sets is 3 but only 2 sets"):
        CollisionSearch(sets=[one, one], min_sets=3)


def test_trajectory_and_face_need_exactly_one_subject() -> None:
    with pytest.raises(ValidationError, match="exactly one of plate or track_id"):
        TrajectorySearch(plate="浙A80015", track_id="t1")
    with pytest.raises(ValidationError, match="exactly one of plate or track_id"):
        TrajectorySearch()
    with pytest.raises(ValidationError, match="exactly one of event_id or embedding"):
        FaceSearch()
    with pytest.raises(ValidationError, match="all zeros"):
        FaceSearch(embedding=[0.0, 0.0])
    with pytest.raises(ValidationError, match="less than or equal to 1000"):
        FaceSearch(embedding=[1.0], top_k=1001)


def test_stored_times_print_as_rfc3339_utc_millis_on_both_backends() -> None:
    embedded = "2026-03-01 00:30:15.000"
    server = datetime(2026, 3, 1, 0, 30, 15)  # noqa: DTZ001  (the driver's naive UTC value)
    aware = datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=timezone(timedelta(hours=8)))
    assert rfc3339(embedded) == "2026-03-01T00:30:15.000Z"
    assert rfc3339(server) == "2026-03-01T00:30:15.000Z"
    assert rfc3339(aware) == "2026-03-01T00:30:15.123Z"
    assert rfc3339(None) is None
