"""Every search kind against the real embedded engine, on a small hand-built scenario.

Devices (WGS-84):           D1 (30.2500, 120.1700)   D2 ~290 m north-east of D1
                            D3 (30.3000, 120.2000)   D4 (30.2600, 120.1800)   D5 (no position)
The target 浙A80015 passes D1 +10 min, D2 +20, D3 +40, D4 +60 (after T0). 浙B12345 follows it
within 20 s at D1, D2, D3; 浙C11111 within 20 s at D1, D2; 浙D22222 45 s behind at D1, D2, D3.
Misreads of the target: 浙A8D015 (D3), 苏A80015 (D4), 浙A8O015 (D2). Every plate row is then
inserted a second time (a redelivery), so a query that shows a duplicate fails.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import streams.search.faces as faces_module
from streams.canonical import (
    Alarm,
    FaceCapture,
    GeoPoint,
    ImageKind,
    ImageRef,
    PlateCapture,
    TimeProvenance,
)
from streams.correlate.records import Alert, Correlation
from streams.search import (
    AlertSearch,
    Area,
    AreaSearch,
    CollisionSearch,
    CollisionSet,
    CorrelationSearch,
    CotravelSearch,
    DeviceStatsSearch,
    FaceSearch,
    FirstSeenSearch,
    PlateSearch,
    TrajectorySearch,
    run_search,
)
from streams.search.faces import nearest_sql, query_embedding
from streams.search.sql import Params, distinct_page
from streams.warehouse.embedded import EmbeddedWarehouse
from streams.warehouse.migrations import migrate
from streams.warehouse.rows import FACE_TABLE, FACE_VECTOR_TABLE, PLATE_TABLE, rows_by_table

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
POS = {
    "D1": GeoPoint(lat=30.2500, lon=120.1700),
    "D2": GeoPoint(lat=30.2520, lon=120.1720),
    "D3": GeoPoint(lat=30.3000, lon=120.2000),
    "D4": GeoPoint(lat=30.2600, lon=120.1800),
}
HOSTILE = "' OR 1=1 --"


def _m(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _plate(
    event_id: str, plate: str | None, device: str, at: datetime, **extra: Any
) -> PlateCapture:
    return PlateCapture(
        event_id=event_id,
        source="hikvision-isapi",
        device_id=device,
        captured_at=at,
        received_at=at + timedelta(seconds=1),
        time_source=TimeProvenance.SOURCE_OFFSET,
        position=POS.get(device),
        plate_number=plate,
        plate_raw=plate or "无车牌",
        images=[ImageRef(kind=ImageKind.PLATE, url=f"https://img.example/{event_id}.jpg")],
        **extra,
    )


def _face(
    event_id: str, device: str, at: datetime, embedding: list[float], track: str
) -> FaceCapture:
    return FaceCapture(
        event_id=event_id,
        source="dahua-cgi",
        device_id=device,
        captured_at=at,
        received_at=at,
        time_source=TimeProvenance.SOURCE_OFFSET,
        position=POS.get(device),
        track_id=track,
        embedding=embedding,
        images=[ImageRef(kind=ImageKind.FACE, url=f"https://img.example/{event_id}.jpg")],
    )


def _unit(rng: random.Random, dim: int) -> list[float]:
    v = [rng.gauss(0, 1) for _ in range(dim)]
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def _near(rng: random.Random, base: list[float], noise: float) -> list[float]:
    v = [x + rng.gauss(0, noise) for x in base]
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def _plates() -> list[PlateCapture]:
    s = 1 / 60  # one second in minutes
    rows = [
        _plate("t1", "浙A80015", "D1", _m(10), vehicle_color="white", vehicle_type="suv"),
        _plate("t2", "浙A80015", "D2", _m(20), vehicle_color="white", vehicle_type="suv"),
        _plate("t3", "浙A80015", "D3", _m(40), vehicle_color="white", vehicle_type="suv"),
        _plate("t4", "浙A80015", "D4", _m(60), vehicle_color="white", vehicle_type="suv"),
        _plate("b1", "浙B12345", "D1", _m(10 + 5 * s)),
        _plate("b2", "浙B12345", "D2", _m(20 + 10 * s)),
        _plate("b3", "浙B12345", "D3", _m(40 + 20 * s)),
        _plate("b4", "浙B12345", "D3", _m(40 + 25 * s)),  # a second snapshot of one pass
        _plate("c1", "浙C11111", "D1", _m(10 + 15 * s)),
        _plate("c2", "浙C11111", "D2", _m(20 - 20 * s)),
        _plate("d1", "浙D22222", "D1", _m(10 + 45 * s)),
        _plate("d2", "浙D22222", "D2", _m(20 + 45 * s)),
        _plate("d3", "浙D22222", "D3", _m(40 + 45 * s)),
        _plate("f1", "浙A8D015", "D3", _m(90)),
        _plate("f2", "苏A80015", "D4", _m(100)),
        _plate("f3", "浙A8O015", "D2", _m(110)),
        _plate("f4", "浙A80016", "D1", _m(120)),
        _plate("u1", None, "D2", _m(30), vehicle_color="red"),
        _plate("e1", "X%Y1", "D5", _m(5)),
        _plate("e2", "XAY1", "D5", _m(6)),
        _plate("e3", "X_Y2", "D5", _m(7)),
        _plate("n1", "浙A80015", "D1", _m(-24 * 60)),  # the day before
    ]
    return rows


def _faces() -> tuple[list[FaceCapture], list[float]]:
    rng = random.Random(5)
    person = _unit(rng, 128)
    faces = [
        _face("p1", "D1", _m(12), _near(rng, person, 0.02), "trk-p"),
        _face("p2", "D3", _m(41), _near(rng, person, 0.02), "trk-q"),
        _face("p3", "D4", _m(61), _near(rng, person, 0.02), "trk-r"),
        _face("s1", "D1", _m(13), _unit(rng, 8), "trk-s"),
        _face("s2", "D2", _m(14), _unit(rng, 8), "trk-s"),
    ]
    devices = ["D1", "D2", "D3", "D4"]
    for i in range(40):
        faces.append(_face(f"r{i}", devices[i % 4], _m(5 + i * 3), _unit(rng, 128), f"trk-{i}"))
    return faces, person


def _records() -> list[Any]:
    alarm = Alarm(
        event_id="a1",
        source="hikvision-isapi",
        device_id="D1",
        captured_at=_m(5),
        received_at=_m(5),
        time_source=TimeProvenance.SOURCE_OFFSET,
        position=POS["D1"],
        vendor_event_type="VMD",
    )
    alerts = [
        Alert(
            alert_id="al1",
            rule="watchlist",
            priority=1,
            subject="浙A80015",
            occurred_at=_m(10),
            raised_at=_m(10),
            plate_numbers=["浙A80015"],
            device_ids=["D1"],
            event_ids=["t1"],
        ),
        Alert(
            alert_id="al2",
            rule="convoy",
            priority=2,
            subject="浙B12345",
            occurred_at=_m(40),
            raised_at=_m(41),
            plate_numbers=["浙A80015", "浙B12345"],
            device_ids=["D1", "D2", "D3"],
        ),
        Alert(
            alert_id="al3",
            rule="cloned_plate",
            priority=1,
            subject="浙C11111",
            occurred_at=_m(50),
            raised_at=_m(50),
            plate_numbers=["浙C11111"],
            device_ids=["D2"],
        ),
    ]
    correlation = Correlation(
        correlation_id="co1",
        relation="person_vehicle",
        subject="浙A80015",
        occurred_at=_m(10),
        plate_numbers=["浙A80015"],
        device_ids=["D1"],
        event_ids=["t1", "p1"],
    )
    return [alarm, *alerts, correlation]


@pytest.fixture(scope="module")
def scenario(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[EmbeddedWarehouse, list[float]]]:
    wh = EmbeddedWarehouse(Path(tmp_path_factory.mktemp("search")) / "wh", "streams")
    migrate(wh)
    faces, person = _faces()
    plates = _plates()
    for table, rows in rows_by_table([*plates, *faces, *_records()]).items():
        wh.insert(table, rows)
    # The redelivery: the same plate rows in another order (another block, so the insert
    # deduplication does not drop it) end up stored twice until a merge.
    wh.insert(PLATE_TABLE, list(reversed(rows_by_table(plates)[PLATE_TABLE])))
    yield wh, person
    wh.close()


def _ids(result: Any, column: str = "event_id") -> list[Any]:
    return [row[column] for row in result.rows]


def test_the_redelivery_is_stored_twice(scenario: tuple[EmbeddedWarehouse, list[float]]) -> None:
    wh, _ = scenario
    stored = wh.query("SELECT count() AS n FROM plate_captures WHERE plate_number = '浙A80015'")
    assert stored == [{"n": 10}]  # 5 reads, twice: the searches below must show 5


def test_exact_plate_newest_first_without_duplicates(
    scenario: tuple[EmbeddedWarehouse, list[float]],
) -> None:
    wh, _ = scenario
    result = run_search(wh, PlateSearch(plate="浙a 80015"))
    assert result.kind == "plate"
    assert _ids(result) == ["t4", "t3", "t2", "t1", "n1"]
    first = result.rows[0]
    assert list(first) == result.columns
    assert first["captured_at"] == "2026-03-01T01:00:00.000Z"
    assert first["images"] == [{"kind": "plate", "url": "https://img.example/t4.jpg"}]
    assert first["vehicle_color"] == "white"


def test_plate_paging_and_filters(scenario: tuple[EmbeddedWarehouse, list[float]]) -> None:
    wh, _ = scenario
    page = run_search(wh, PlateSearch(plate="浙A80015", limit=2, offset=1))
    assert _ids(page) == ["t3", "t2"]
    ranged = run_search(wh, PlateSearch(plate="浙A80015", since=_m(15), until=_m(60)))
    assert _ids(ranged) == ["t3", "t2"]  # until is exclusive
    devices = run_search(wh, PlateSearch(plate="浙A80015", devices=["D1", "D4"]))
    assert _ids(devices) == ["t4", "t1", "n1"]
    colour = run_search(wh, PlateSearch(devices=["D2"], vehicle_color="red"))
    assert _ids(colour) == ["u1"]


def test_fuzzy_plate_matches_ocr_confusions_and_province(
    scenario: tuple[EmbeddedWarehouse, list[float]],
) -> None:
    wh, _ = scenario
    result = run_search(wh, PlateSearch(plate="浙A80015", fuzzy=True, since=T0))
    plates = {row["plate_number"] for row in result.rows}
    assert plates == {"浙A80015", "浙A8D015", "苏A80015", "浙A8O015"}
    assert "浙A80016" not in plates
    assert len(_ids(result)) == len(set(_ids(result))) == 7
    from_misread = run_search(wh, PlateSearch(plate="苏A80015", fuzzy=True, since=T0))
    assert {r["plate_number"] for r in from_misread.rows} == plates


def test_wildcard_plates(scenario: tuple[EmbeddedWarehouse, list[float]]) -> None:
    wh, _ = scenario
    prefix = run_search(wh, PlateSearch(plate="浙A8*", since=T0))
    assert {r["plate_number"] for r in prefix.rows} == {
        "浙A80015",
        "浙A8D015",
        "浙A8O015",
        "浙A80016",
    }
    one = run_search(wh, PlateSearch(plate="?A80015"))
    assert {r["plate_number"] for r in one.rows} == {"浙A80015", "苏A80015"}
    assert len(_ids(one)) == 6  # 5 target reads + 1, no duplicates
    # Paging through the newest-first windows of a pattern (a day, a week, everything).
    assert _ids(run_search(wh, PlateSearch(plate="?A80015", limit=2))) == ["f2", "t4"]
    assert _ids(run_search(wh, PlateSearch(plate="?A80015", limit=1, offset=5))) == ["n1"]
    assert _ids(run_search(wh, PlateSearch(plate="?A80015", limit=5, offset=3))) == [
        "t2",
        "t1",
        "n1",
    ]
    # LIKE's own metacharacters in the input match only themselves.
    assert _ids(run_search(wh, PlateSearch(plate="X%Y*"))) == ["e1"]
    assert _ids(run_search(wh, PlateSearch(plate="X_Y*"))) == ["e3"]
    with pytest.raises(ValueError, match="only wildcards"):
        run_search(wh, PlateSearch(plate="**?"))


def test_unreadable_plates(scenario: tuple[EmbeddedWarehouse, list[float]]) -> None:
    wh, _ = scenario
    assert _ids(run_search(wh, PlateSearch(unreadable=True))) == ["u1"]


def test_plate_search_in_circle_and_polygon(
    scenario: tuple[EmbeddedWarehouse, list[float]],
) -> None:
    wh, _ = scenario
    circle = Area(lat=30.25, lon=120.17, radius_m=500)  # D1 and D2 (290 m), not D4 (1.4 km)
    result = run_search(wh, PlateSearch(plate="浙A80015", area=circle))
    assert _ids(result) == ["t2", "t1", "n1"]
    polygon = Area(
        polygon=[(30.255, 120.175), (30.305, 120.175), (30.305, 120.205), (30.255, 120.205)]
    )  # D3 and D4 only
    assert _ids(run_search(wh, PlateSearch(plate="浙A80015", area=polygon))) == ["t4", "t3"]
    nowhere = Area(lat=0.0, lon=0.0, radius_m=1000)
    assert run_search(wh, PlateSearch(plate="浙A80015", area=nowhere)).rows == []


def test_trajectory_of_a_plate_and_of_a_face_track(
    scenario: tuple[EmbeddedWarehouse, list[float]],
) -> None:
    wh, _ = scenario
    result = run_search(wh, TrajectorySearch(plate="浙A80015", since=T0))
    assert _ids(result) == ["t1", "t2", "t3", "t4"]
    assert [r["device_id"] for r in result.rows] == ["D1", "D2", "D3", "D4"]
    assert result.rows[2]["lat"] == pytest.approx(30.3)
    track = run_search(wh, TrajectorySearch(track_id="trk-s"))
    assert _ids(track) == ["s1", "s2"]


def test_first_seen_overall_and_in_an_area(scenario: tuple[EmbeddedWarehouse, list[float]]) -> None:
    wh, _ = scenario
    [row] = run_search(wh, FirstSeenSearch(plate="浙A80015")).rows
    assert row["first_seen"] == "2026-02-28T00:00:00.000Z"
    assert row["last_seen"] == "2026-03-01T01:00:00.000Z"
    assert (row["last_device_id"], row["sightings"], row["devices"]) == ("D4", 5, 4)
    polygon = Area(
        polygon=[(30.255, 120.175), (30.305, 120.175), (30.305, 120.205), (30.255, 120.205)]
    )
    [inside] = run_search(wh, FirstSeenSearch(plate="浙A80015", area=polygon)).rows
    assert (inside["first_device_id"], inside["first_seen"]) == ("D3", "2026-03-01T00:40:00.000Z")
    assert inside["first_lat"] == pytest.approx(30.3)
    assert run_search(wh, FirstSeenSearch(plate="浙Z99999")).rows == []


def test_area_search_finds_every_kind_in_range(
    scenario: tuple[EmbeddedWarehouse, list[float]],
) -> None:
    wh, _ = scenario
    circle = Area(lat=30.25, lon=120.17, radius_m=500)
    result = run_search(wh, AreaSearch(area=circle, since=T0, until=_m(16), limit=1000))
    kinds = [(r["kind"], r["event_id"]) for r in result.rows]
    assert ("alarm", "a1") in kinds
    assert ("face", "p1") in kinds
    assert ("face", "s2") in kinds
    assert ("plate", "t1") in kinds
    assert ("plate", "c1") in kinds
    assert not any(r["device_id"] in ("D3", "D4") for r in result.rows)
    assert len(kinds) == len(set(kinds))
    times = [r["captured_at"] for r in result.rows]
    assert times == sorted(times, reverse=True)
    plates_only = run_search(
        wh, AreaSearch(area=circle, since=T0, until=_m(16), kinds=["plate"], limit=2)
    )
    assert [r["kind"] for r in plates_only.rows] == ["plate", "plate"]
    assert _ids(plates_only) == ["d1", "c1"]


def _sets(k_shift: float = 0) -> list[CollisionSet]:
    return [
        CollisionSet(area=Area(lat=30.25, lon=120.17, radius_m=100), since=T0, until=_m(15)),
        CollisionSet(area=Area(lat=30.30, lon=120.20, radius_m=100), since=_m(30), until=_m(50)),
        CollisionSet(
            area=Area(
                polygon=[(30.259, 120.179), (30.261, 120.179), (30.261, 120.181), (30.259, 120.181)]
            ),
            since=_m(50),
            until=_m(70 + k_shift),
        ),
    ]


def test_plate_collision_with_k(scenario: tuple[EmbeddedWarehouse, list[float]]) -> None:
    wh, _ = scenario
    everywhere = run_search(wh, CollisionSearch(sets=_sets()))
    assert _ids(everywhere, "plate_number") == ["浙A80015"]
    row = everywhere.rows[0]
    assert row["sets_matched"] == 3
    assert [(s["set"], s["first_seen"], s["device_id"]) for s in row["sets"]] == [
        (0, "2026-03-01T00:10:00.000Z", "D1"),
        (1, "2026-03-01T00:40:00.000Z", "D3"),
        (2, "2026-03-01T01:00:00.000Z", "D4"),
    ]
    two = run_search(wh, CollisionSearch(sets=_sets(), min_sets=2))
    assert [(r["plate_number"], r["sets_matched"], r["sightings"]) for r in two.rows] == [
        ("浙A80015", 3, 3),
        ("浙B12345", 2, 3),  # two snapshots at D3 count as two sightings
        ("浙D22222", 2, 2),
    ]


def test_face_collision_by_similarity(scenario: tuple[EmbeddedWarehouse, list[float]]) -> None:
    wh, _ = scenario
    result = run_search(wh, CollisionSearch(sets=_sets(), target="face", face_threshold=0.2))
    assert sorted(_ids(result)) == ["p1", "p2", "p3"]
    for row in result.rows:
        assert row["sets_matched"] == 3
        assert [s["event_id"] for s in row["sets"]] == ["p1", "p2", "p3"]
    strict = run_search(wh, CollisionSearch(sets=_sets(), target="face", face_threshold=0.0001))
    assert strict.rows == []


def test_cotravel_ranking(scenario: tuple[EmbeddedWarehouse, list[float]]) -> None:
    wh, _ = scenario
    three = run_search(wh, CotravelSearch(plate="浙A80015", since=T0))
    assert [(r["plate_number"], r["shared_devices"], r["co_passes"]) for r in three.rows] == [
        ("浙B12345", 3, 4)
    ]
    assert three.rows[0]["first_co_pass"] == "2026-03-01T00:10:05.000Z"
    assert three.rows[0]["device_ids"] == ["D1", "D2", "D3"]
    two = run_search(wh, CotravelSearch(plate="浙A80015", since=T0, min_devices=2))
    assert _ids(two, "plate_number") == ["浙B12345", "浙C11111"]
    wide = run_search(wh, CotravelSearch(plate="浙A80015", since=T0, gap_seconds=60))
    assert _ids(wide, "plate_number") == ["浙B12345", "浙D22222"]  # 3 devices, then 4 > 3 passes


def _brute_force(
    wh: EmbeddedWarehouse, query: list[float], k: int, skip: str = "", device: str | None = None
) -> list[str]:
    rows = wh.query(
        "SELECT event_id, embedding FROM face_vectors "
        "WHERE {device:Nullable(String)} IS NULL OR device_id = {device:Nullable(String)}",
        {"device": device},
    )
    norm_q = math.sqrt(sum(x * x for x in query))
    scored = []
    for row in rows:
        if row["event_id"] == skip:
            continue
        e = row["embedding"]
        dot = sum(a * b for a, b in zip(query, e, strict=True))
        scored.append((1 - dot / (norm_q * math.sqrt(sum(x * x for x in e))), row["event_id"]))
    return [eid for _, eid in sorted(scored)[:k]]


def test_face_top_k_equals_brute_force(scenario: tuple[EmbeddedWarehouse, list[float]]) -> None:
    wh, person = scenario
    result = run_search(wh, FaceSearch(embedding=person, top_k=5))
    assert _ids(result) == _brute_force(wh, person, 5)
    assert set(_ids(result)[:3]) == {"p1", "p2", "p3"}
    distances = [r["distance"] for r in result.rows]
    assert distances == sorted(distances)
    details = {r["event_id"]: (r["track_id"], r["images"]) for r in result.rows}
    assert details["p1"] == ("trk-p", [{"kind": "face", "url": "https://img.example/p1.jpg"}])
    assert result.rows[0]["captured_at"].endswith("Z")
    rng = random.Random(11)
    for _ in range(5):
        query = _unit(rng, 128)
        assert _ids(run_search(wh, FaceSearch(embedding=query, top_k=10))) == _brute_force(
            wh, query, 10
        )


def test_face_search_by_event_id_and_filters(
    scenario: tuple[EmbeddedWarehouse, list[float]],
) -> None:
    wh, _ = scenario
    by_id = run_search(wh, FaceSearch(event_id="p1", top_k=3))
    stored = query_embedding(wh, FaceSearch(event_id="p1"))
    assert _ids(by_id) == _brute_force(wh, stored, 3, skip="p1")
    assert set(_ids(by_id)[:2]) == {"p2", "p3"}
    in_range = run_search(wh, FaceSearch(event_id="p1", since=_m(50), until=_m(70)))
    assert "p3" in _ids(in_range)
    assert "p2" not in _ids(in_range)
    assert in_range.rows
    for row in in_range.rows:
        assert "2026-03-01T00:50:00.000Z" <= row["captured_at"] < "2026-03-01T01:10:00.000Z"
    near_d3 = run_search(
        wh, FaceSearch(event_id="p1", area=Area(lat=30.3, lon=120.2, radius_m=100))
    )
    assert _ids(near_d3)[0] == "p2"
    assert {r["device_id"] for r in near_d3.rows} == {"D3"}
    with pytest.raises(ValueError, match="no face capture"):
        run_search(wh, FaceSearch(event_id=HOSTILE))


def test_a_filtered_face_search_goes_the_way_its_costs_choose(
    scenario: tuple[EmbeddedWarehouse, list[float]], monkeypatch: pytest.MonkeyPatch
) -> None:
    wh, _ = scenario
    request = FaceSearch(event_id="p1", devices=["D3"], top_k=5)
    expected = _brute_force(wh, query_embedding(wh, request), 5, skip="p1", device="D3")
    taken: list[tuple[str, str]] = []
    nearest = faces_module._nearest

    def recorded(*args: Any) -> list[dict[str, Any]]:
        taken.append((args[4], args[5]))  # the table and the settings
        return nearest(*args)

    monkeypatch.setattr(faces_module, "_nearest", recorded)
    # Few rows to read: exact, through face_captures (sorted by device).
    assert _ids(run_search(wh, request)) == expected
    assert taken == [(FACE_TABLE, "")]
    # Too many rows to read: the index, asked for 4 times the neighbours that hold 5 of D3's
    # faces (11 of the 43 indexed faces pass), over the 21 rows the query fetches; here that is
    # every face, so the index finds the exact answer.
    monkeypatch.setattr(faces_module, "EXACT_MAX_ROWS", 0)
    taken.clear()
    assert _ids(run_search(wh, request)) == expected
    assert [table for table, _ in taken] == [FACE_VECTOR_TABLE]
    assert "'postfilter'" in taken[0][1]
    multiplier = float(taken[0][1].rsplit("vector_search_index_fetch_multiplier = ", 1)[1])
    assert multiplier == pytest.approx(4 * 5 / (11 / 43) / 21, abs=0.1)
    # Too few pass for the index to find them: exact again.
    monkeypatch.setattr(faces_module, "MIN_INDEX_SHARE", 12 / 43)
    taken.clear()
    assert _ids(run_search(wh, request)) == expected
    assert taken == [(FACE_TABLE, "")]


def test_rows_to_read_are_what_the_partitions_and_sort_key_leave(
    scenario: tuple[EmbeddedWarehouse, list[float]],
) -> None:
    wh, _ = scenario
    everything = wh.query(f"SELECT count() AS n FROM {FACE_VECTOR_TABLE}")  # noqa: S608
    assert faces_module._rows_to_read(wh, FACE_VECTOR_TABLE, lambda _: []) == everything[0]["n"]
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)

    def before_any_face(params: Params) -> list[str]:
        return [f"captured_at < {params.time(long_ago)}"]

    assert faces_module._rows_to_read(wh, FACE_VECTOR_TABLE, before_any_face) == 0


def test_face_search_of_another_embedding_length_is_exact(
    scenario: tuple[EmbeddedWarehouse, list[float]],
) -> None:
    wh, _ = scenario
    stored = query_embedding(wh, FaceSearch(event_id="s1"))
    result = run_search(wh, FaceSearch(embedding=stored, top_k=5))
    assert _ids(result) == ["s1", "s2"]  # only the two 8-float faces are comparable
    assert result.rows[0]["distance"] == pytest.approx(0.0, abs=1e-6)


def test_alerts_and_correlations(scenario: tuple[EmbeddedWarehouse, list[float]]) -> None:
    wh, _ = scenario
    assert _ids(run_search(wh, AlertSearch()), "alert_id") == ["al3", "al2", "al1"]
    assert _ids(run_search(wh, AlertSearch(plate="浙A80015")), "alert_id") == ["al2", "al1"]
    assert _ids(run_search(wh, AlertSearch(rules=["cloned_plate"])), "alert_id") == ["al3"]
    assert _ids(run_search(wh, AlertSearch(device_id="D3")), "alert_id") == ["al2"]
    ranged = run_search(wh, AlertSearch(since=_m(40), until=_m(50)))
    assert _ids(ranged, "alert_id") == ["al2"]
    assert ranged.rows[0]["raised_at"] == "2026-03-01T00:41:00.000Z"
    assert ranged.rows[0]["evidence"] == []
    corr = run_search(wh, CorrelationSearch(plate="浙A80015"))
    assert _ids(corr, "correlation_id") == ["co1"]
    assert run_search(wh, CorrelationSearch(relations=["other"])).rows == []


def test_device_stats_count_inserted_rows(scenario: tuple[EmbeddedWarehouse, list[float]]) -> None:
    wh, _ = scenario
    result = run_search(wh, DeviceStatsSearch(devices=["D1"], since=T0, until=T0 + HOUR))
    by_kind = {r["kind"]: r for r in result.rows}
    # D1 in the first hour: 5 plate reads (t1 b1 c1 d1; f4 is later), each inserted twice.
    assert by_kind["plate"]["events"] == 8
    assert by_kind["plate"]["bucket"] == "2026-03-01T00:00:00.000Z"
    assert by_kind["alarm"]["events"] == 1
    daily = run_search(wh, DeviceStatsSearch(devices=["D1"], since=T0 - 2 * HOUR, bucket="day"))
    assert {r["bucket"] for r in daily.rows} == {"2026-03-01T00:00:00.000Z"}
    assert {r["kind"]: r["events"] for r in daily.rows}["plate"] == 10  # with f4 at 02:00


def test_hostile_strings_are_only_values(scenario: tuple[EmbeddedWarehouse, list[float]]) -> None:
    wh, _ = scenario
    assert run_search(wh, PlateSearch(plate=HOSTILE)).rows == []
    assert run_search(wh, PlateSearch(plate=HOSTILE + "*")).rows == []
    assert run_search(wh, PlateSearch(plate="浙A80015", fuzzy=True, devices=[HOSTILE])).rows == []
    assert run_search(wh, TrajectorySearch(track_id="'; DROP TABLE face_captures; --")).rows == []
    assert run_search(wh, AlertSearch(rules=[HOSTILE], plate=HOSTILE)).rows == []
    assert run_search(wh, DeviceStatsSearch(devices=[HOSTILE])).rows == []
    assert run_search(wh, CotravelSearch(plate=HOSTILE)).rows == []
    assert wh.query("SELECT count() AS n FROM face_captures") == [{"n": 45}]


def test_unfiltered_face_search_reads_through_the_hnsw_index(
    scenario: tuple[EmbeddedWarehouse, list[float]],
) -> None:
    wh, person = scenario
    params = Params()
    sql = nearest_sql(FACE_VECTOR_TABLE, params, person, [], params.count(10))
    plan = "\n".join(
        str(r["explain"]) for r in wh.query("EXPLAIN indexes = 1 " + sql, params.values)
    )
    assert "embedding_hnsw" in plan


def test_a_page_stays_full_when_duplicates_exceed_the_slack(
    scenario: tuple[EmbeddedWarehouse, list[float]],
) -> None:
    wh, _ = scenario
    wh.command("CREATE TABLE IF NOT EXISTS dup_probe (event_id String, n UInt32) ENGINE = Memory")
    wh.insert("dup_probe", [{"event_id": "a", "n": 0}] * 40)
    wh.insert("dup_probe", [{"event_id": e, "n": i} for i, e in enumerate("bcd", start=1)])
    params = Params()
    fetch, slot = params.slot()
    sql = f"SELECT event_id FROM dup_probe ORDER BY n, event_id LIMIT {fetch}"  # noqa: S608
    page = distinct_page(wh, sql, params, slot, limit=2, offset=1)
    assert [r["event_id"] for r in page] == ["b", "c"]
    assert params.values[slot] > 40  # the first fetch (19 rows) held only "a": it fetched again
