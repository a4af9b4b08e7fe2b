"""Plate patterns through plate_days and plate_names: the backfills of migrations 0004 and 0006,
the views that keep them, and pages equal to those of a plain scan of plate_captures for every
path of the search (all pairs, the newest pairs with the oldest day read whole, more pairs asked
for, the whole range), whichever table the pairs come from."""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import streams.search.plates as plates_module
from streams.canonical import PlateCapture
from streams.domain.plates import fold_plate
from streams.search import PlateSearch, run_search
from streams.search.plates import plate_search
from streams.warehouse.embedded import EmbeddedWarehouse
from streams.warehouse.migrations import MIGRATIONS_DIR, migrate
from streams.warehouse.rows import PLATE_DAYS_TABLE, PLATE_NAMES_TABLE, PLATE_TABLE, rows_by_table
from tests.integration.test_search_queries import _plate

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, tzinfo=UTC)
DAYS = 12
# A day retention has dropped from plate_days that a plate's set in plate_names still lists.
DROPPED_DAY = "2025-12-01"
DEVICES = ["D1", "D2", "D3"]


def _passes(first_day: int, days: int, seed: int) -> list[PlateCapture]:
    """Plates ending in 1234 and 1284 (both match *12?4) and others, over ``days`` days; a few
    passes share a millisecond."""
    rng = random.Random(seed)
    plates = [f"浙A{n:01d}{tail}" for n in range(6) for tail in ("1234", "1284", "5678")]
    out = []
    for day in range(first_day, first_day + days):
        for i in range(14):
            plate = rng.choice(plates)
            at = T0 + timedelta(days=day, minutes=rng.randrange(0, 24 * 60, 7))
            out.append(_plate(f"d{day}-{i}-{seed}", plate, rng.choice(DEVICES), at))
    return out


def _burst() -> list[PlateCapture]:
    """60 plates ending in 4321 on the day before the last, one pass each: more (plate, day)
    pairs on one day than a small page asks plate_days for. The newest of them is the middle
    plate's, neither among the first nor the last 20 in plate order. Three passes of one more
    such plate on the last day."""
    day = T0 + timedelta(days=DAYS - 2, hours=12)
    burst = [
        _plate(f"burst-{i}", f"浙B{i:02d}4321", "D1", day - timedelta(minutes=abs(i - 30)))
        for i in range(60)
    ]
    next_day = day + timedelta(days=1)
    last = [_plate(f"last-{i}", "浙C004321", "D2", next_day + timedelta(hours=i)) for i in range(3)]
    return burst + last


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedWarehouse]:
    root = Path(tmp_path_factory.mktemp("patterns"))
    before = root / "before_0004"
    before.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob("000[1-3]_*.sql")):
        shutil.copy(path, before / path.name)
    wh = EmbeddedWarehouse(root / "wh", "streams")
    migrate(wh, before)
    old = rows_by_table(_passes(0, DAYS // 2, seed=1))[PLATE_TABLE]
    wh.insert(PLATE_TABLE, old)
    wh.insert(PLATE_TABLE, list(reversed(old)))  # a redelivery stored twice until a merge
    applied = [m.version for m in migrate(wh)]
    assert {4, 6} <= set(applied)  # the backfills of the rows above
    wh.insert(PLATE_TABLE, rows_by_table(_passes(DAYS // 2, DAYS - DAYS // 2, seed=2))[PLATE_TABLE])
    wh.insert(PLATE_TABLE, rows_by_table(_burst())[PLATE_TABLE])
    wh.command(
        f"INSERT INTO {PLATE_NAMES_TABLE} VALUES "  # noqa: S608
        f"('浙A01234', '{fold_plate('浙A01234')}', ['{DROPPED_DAY}'], '{DROPPED_DAY}')"
    )
    yield wh
    wh.close()


@pytest.fixture(params=["plate_days", "plate_names"])
def pairs_from(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Where the search looks up the (plate, day) pairs, whatever the range."""
    monkeypatch.setattr(plates_module, "_long_range", lambda _: request.param == "plate_names")
    return str(request.param)


def _plain_scan(wh: EmbeddedWarehouse, request: PlateSearch) -> list[dict[str, object]]:
    """The page as a scan of plate_captures over the whole range gives it (no plate_days)."""
    saved = plates_module.MAX_PAIRS
    plates_module.MAX_PAIRS = 0
    try:
        return plate_search(wh, request)
    finally:
        plates_module.MAX_PAIRS = saved


def test_plate_days_lists_every_readable_plate_and_day(warehouse: EmbeddedWarehouse) -> None:
    stored = warehouse.query(
        f"SELECT DISTINCT plate_number, toString(toDate(captured_at)) AS d FROM {PLATE_TABLE} "  # noqa: S608
        "ORDER BY plate_number, d"
    )
    listed = warehouse.query(
        f"SELECT DISTINCT plate_number, toString(day) AS d FROM {PLATE_DAYS_TABLE} "  # noqa: S608
        "ORDER BY plate_number, d"
    )
    assert listed == stored
    assert len({r["d"] for r in listed}) == DAYS  # days before and after the migration


def test_plate_names_lists_every_readable_plate_once_with_its_days(
    warehouse: EmbeddedWarehouse,
) -> None:
    stored = warehouse.query(
        "SELECT plate_number, arraySort(groupUniqArray(toString(toDate(captured_at)))) AS d, "  # noqa: S608
        f"any(plate_folded) AS folded FROM {PLATE_TABLE} "
        "GROUP BY plate_number ORDER BY plate_number"
    )
    for row in stored:
        if row["plate_number"] == "浙A01234":
            row["d"] = [DROPPED_DAY, *row["d"]]
    # Rows inserted twice (the redelivery, the backfill beside the view) are still one set.
    listed = warehouse.query(
        "SELECT plate_number, arraySort(arrayMap(x -> toString(x), groupUniqArrayArray(days))) "  # noqa: S608
        f"AS d, any(plate_folded) AS folded FROM {PLATE_NAMES_TABLE} "
        "GROUP BY plate_number ORDER BY plate_number"
    )
    assert listed == stored


def test_pairs_by_name_leave_out_days_plate_days_no_longer_holds(
    warehouse: EmbeddedWarehouse,
) -> None:
    request = PlateSearch(plate="*01234", limit=1000)
    pairs = plates_module._pairs_by_name(warehouse, request, None)
    days = {day for plate, day in pairs if plate == "浙A01234"}
    assert DROPPED_DAY not in days
    assert len(days) > 1
    listed = warehouse.query(
        f"SELECT DISTINCT plate_number, toString(day) AS d FROM {PLATE_DAYS_TABLE} "  # noqa: S608
        "WHERE plate_number LIKE '%01234'"
    )
    assert sorted(pairs) == sorted((r["plate_number"], r["d"]) for r in listed)
    assert [day for _, day in pairs] == sorted((day for _, day in pairs), reverse=True)


@pytest.mark.parametrize("pattern", ["*12?4", "*1234", "浙A?1*", "*5678", "*4321", "*99999"])
@pytest.mark.parametrize(("limit", "offset"), [(1, 0), (3, 4), (10, 0), (25, 10), (500, 0)])
def test_pattern_pages_equal_a_plain_scan(
    warehouse: EmbeddedWarehouse, pairs_from: str, pattern: str, limit: int, offset: int
) -> None:
    request = PlateSearch(plate=pattern, limit=limit, offset=offset)
    page = plate_search(warehouse, request)
    assert page == _plain_scan(warehouse, request)
    if pattern != "*99999":
        assert page, pattern


def test_a_day_cut_short_by_the_pairs_is_completed(
    warehouse: EmbeddedWarehouse, pairs_from: str
) -> None:
    # A page of 4 asks for 20 pairs: the last day's one and 19 of the burst's 60 plates. The
    # fourth row is the burst's newest pass, whichever 19 plates came.
    page = plate_search(warehouse, PlateSearch(plate="*4321", limit=4))
    assert [row["event_id"] for row in page] == ["last-2", "last-1", "last-0", "burst-30"]


def test_a_page_past_the_first_pairs_asks_for_more(
    warehouse: EmbeddedWarehouse, pairs_from: str
) -> None:
    # One device and a colour no pass has beside it: the newest pairs never fill the page, so
    # the search asks for more pairs until plate_days has no more to give.
    for request in (
        PlateSearch(plate="*12?4", devices=["D2"], limit=5),
        PlateSearch(plate="*12?4", devices=["D2"], limit=5, since=T0 + timedelta(days=3)),
        PlateSearch(plate="*12?4", vehicle_color="purple", limit=5),
    ):
        assert plate_search(warehouse, request) == _plain_scan(warehouse, request)


def test_fuzzy_patterns_and_time_ranges(warehouse: EmbeddedWarehouse, pairs_from: str) -> None:
    since, until = T0 + timedelta(days=2, hours=5), T0 + timedelta(days=9, hours=7)
    for request in (
        PlateSearch(plate="*I2?4", fuzzy=True, limit=7),
        PlateSearch(plate="*12?4", since=since, until=until, limit=6, offset=3),
        PlateSearch(plate="*12?4", until=T0 + timedelta(days=1), limit=50),
    ):
        page = plate_search(warehouse, request)
        assert page
        assert page == _plain_scan(warehouse, request)
        if request.since is not None and request.until is not None:
            times = [datetime.fromisoformat(str(row["captured_at"])) for row in page]
            assert all(since <= at < until for at in times)


def test_run_search_answers_a_pattern_newest_first(warehouse: EmbeddedWarehouse) -> None:
    result = run_search(warehouse, PlateSearch(plate="*1234", limit=4))
    assert [row["plate_number"][-4:] for row in result.rows] == ["1234"] * 4
    times = [row["captured_at"] for row in result.rows]
    assert times == sorted(times, reverse=True)


def test_past_the_pair_cap_the_whole_range_is_scanned(
    warehouse: EmbeddedWarehouse, pairs_from: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A page of 20 asks for 36 pairs; one device's rows among them do not fill it, and the
    # next ask (144) is past the cap: the page comes from a scan of the whole range.
    monkeypatch.setattr(plates_module, "MAX_PAIRS", 40)
    asked: list[int | None] = []
    matching = plates_module._matching_pairs

    def counted(*args: object, **kwargs: object) -> list[tuple[str, str]]:
        asked.append(args[2])  # type: ignore[arg-type]
        return matching(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(plates_module, "_matching_pairs", counted)
    request = PlateSearch(plate="*12?4", devices=["D2"], limit=20)
    page = plate_search(warehouse, request)
    assert asked[0] == 36
    assert 144 not in asked
    assert len(page) == 20
    monkeypatch.undo()
    assert page == _plain_scan(warehouse, request)


def test_the_range_chooses_where_the_pairs_come_from() -> None:
    now = datetime.now(UTC)
    long_range = plates_module.NAMES_AFTER + timedelta(hours=1)
    assert plates_module._long_range(PlateSearch(plate="*1234"))
    assert plates_module._long_range(PlateSearch(plate="*1234", until=now))
    assert plates_module._long_range(PlateSearch(plate="*1234", since=now - long_range))
    assert not plates_module._long_range(PlateSearch(plate="*1234", since=now - timedelta(days=7)))
    assert not plates_module._long_range(
        PlateSearch(plate="*1234", since=T0, until=T0 + plates_module.NAMES_AFTER)
    )
