"""Synthetic city data for the search benchmark, generated on the engine itself.

Every table is filled by ``INSERT ... SELECT ... FROM numbers(n)`` (no rows cross Python), one
insert per day of plates and one per month of faces, each squashed into a single part: the
ReplacingMergeTree then has nothing to merge, and the face_vectors HNSW index is built once per
part instead of being rebuilt by merges.

The city: ``DEVICES`` checkpoints at fixed positions in a 33 x 34 km box around Hangzhou. Plate
reads come from three vehicle tiers (buses and taxis, commuters, occasional vehicles) so a few
plates have thousands of reads and most have a handful; each vehicle keeps to a few devices (its
routes). Faces belong to persons; a person's embeddings are noisy copies of a random unit
centroid, so a capture's true nearest neighbours are mostly the same person's other captures and
recall against brute force is meaningful. Everything derives from hashes of the row number and a
seed: the same sizes always give the same data.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from streams.warehouse.base import Warehouse

DEVICES = 5_000
DAYS = 90
START = datetime(2026, 1, 1, tzinfo=UTC)
SEED = 20260301
# Redeliveries: on the most recent days a share of rows is inserted a second time, as the sinks
# do after a retry that escaped insert deduplication; searches must not show them twice.
DUPLICATE_DAYS = 3
DUPLICATE_SHARE = 0.01
META_TABLE = "bench_search_meta"

# Noise scale of a face embedding around its person's centroid (per coordinate, relative).
FACE_NOISE = 0.6
FACES_PER_PERSON = 20

_HASH_MAX = "18446744073709551615.0"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Sizes:
    plates: int
    faces: int

    @property
    def plates_per_day(self) -> int:
        return max(1, self.plates // DAYS)

    @property
    def persons(self) -> int:
        return max(100, self.faces // FACES_PER_PERSON)


def device_id_sql(index: str) -> str:
    """GB/T 28181-style 20-digit device code of a device index expression."""
    return f"concat('33010000001320', leftPad(toString({index}), 6, '0'))"


def device_lat_sql(index: str) -> str:
    return f"30.10 + (cityHash64({index}, 'lat') % 1000000) / 1000000.0 * 0.30"


def device_lon_sql(index: str) -> str:
    return f"120.00 + (cityHash64({index}, 'lon') % 1000000) / 1000000.0 * 0.35"


def _unit(expr: str) -> str:
    """A hash expression scaled to [0, 1)."""
    return f"(({expr}) / {_HASH_MAX})"


def _plate_sql(vehicle: str) -> str:
    """A Chinese plate for a vehicle key: 70% local (浙), 10% new-energy, serials mostly digits."""
    vh = f"cityHash64({vehicle}, 'plate')"
    province = (
        f"if({vh} % 10 < 7, '浙', "
        f"arrayElement(['沪', '苏', '皖', '赣', '闽', '京', '粤', '鲁'], {vh} % 8 + 1))"
    )
    letter = f"substring('ABCDEFGHJK', intDiv({vh}, 256) % 10 + 1, 1)"
    serial_char = (
        f"if(cityHash64({vehicle}, i, 's') % 100 < 85, "
        f"toString(cityHash64({vehicle}, i, 'c') % 10), "
        f"substring('ABCDEFGHJKLMNPQRSTUVWXYZ', cityHash64({vehicle}, i, 'c') % 24 + 1, 1))"
    )
    standard = f"arrayStringConcat(arrayMap(i -> {serial_char}, range(5)))"
    energy = f"concat('D', leftPad(toString(cityHash64({vehicle}, 'e') % 100000), 5, '0'))"
    return f"concat({province}, {letter}, if(intDiv({vh}, 65536) % 10 = 9, {energy}, {standard}))"


def _fold_sql(plate: str) -> str:
    """``streams.domain.plates.fold_plate`` for generated plates (all start with a province)."""
    return f"translate(substringUTF8({plate}, 2), 'ODIBZSG', '0018256')"


def plate_insert_sql(sizes: Sizes, day: int) -> str:
    """One day of plate reads; day ``d`` holds rows ``d * per_day .. (d + 1) * per_day - 1``."""
    per_day = sizes.plates_per_day
    tier0 = max(50, sizes.plates // 50_000)  # buses and taxis: thousands of reads each
    tier1 = max(500, sizes.plates // 1_000)  # commuters: a few reads a day
    tier2 = max(5_000, sizes.plates // 20)  # occasional vehicles
    day_start = int((START + timedelta(days=day)).timestamp())
    g = f"(number + {day * per_day})"
    return f"""
INSERT INTO plate_captures (* EXCEPT (landed_at))
SELECT
    lower(hex(MD5(concat('p', toString(g), '{SEED}')))) AS event_id,
    arrayElement(['hikvision-isapi', 'dahua-cgi', 'uniview-lapi', 'gat1400'], dev % 4 + 1),
    toString(g), {device_id_sql("dev")}, 1,
    toDateTime64({day_start} + (h % 86400000) / 1000.0, 3, 'UTC') AS at,
    at + toIntervalMillisecond(200 + h % 3000), 'source_offset',
    {device_lat_sql("dev")}, {device_lon_sql("dev")}, 0.9,
    if(unreadable, '', plate) AS plate_number,
    if(unreadable, '', {_fold_sql("plate")}),
    if(unreadable, '无车牌', plate),
    if(unreadable, 'unknown',
       if(lengthUTF8(plate) = 8, 'green', if(vk % 13 = 0, 'yellow', 'blue'))),
    if(lengthUTF8(plate) = 8, 'new_energy', 'standard'),
    arrayElement(['white', 'black', 'silver', 'grey', 'red', 'blue'], vk % 6 + 1),
    arrayElement(['car', 'car', 'car', 'suv', 'van', 'bus', 'truck'], intDiv(vk, 16) % 7 + 1),
    arrayElement(['vw', 'toyota', 'byd', 'honda', 'geely', 'buick'], intDiv(vk, 256) % 6 + 1),
    toInt32(h % 4), 'in', toFloat32(20 + h % 60), false, [],
    concat('[{{"kind":"plate","url":"https://img.city.example/p/', event_id, '.jpg"}}]'),
    map()
FROM
(
    SELECT
        {g} AS g,
        cityHash64(g, {SEED}) AS h,
        {_unit(f"cityHash64(g, {SEED}, 'tier')")} AS r,
        multiIf(r < 0.10, 0, r < 0.40, 1, 2) AS tier,
        tier * 1000000000 + cityHash64(g, {SEED}, 'v')
            % multiIf(tier = 0, {tier0}, tier = 1, {tier1}, {tier2}) AS vk,
        cityHash64(vk, 'dev', cityHash64(g, 'route') % multiIf(tier = 0, 40, tier = 1, 6, 4))
            % {DEVICES} AS dev,
        {_plate_sql("vk")} AS plate,
        cityHash64(g, 'unreadable') % 200 = 0 AS unreadable
    FROM numbers({per_day})
)
SETTINGS min_insert_block_size_rows = {per_day + 1},
         min_insert_block_size_bytes = 68719476736,
         max_insert_threads = 1
"""  # noqa: S608  (generated from constants and numbers)


def duplicate_insert_sql(sizes: Sizes, day: int) -> str:
    """Re-insert a share of one day's rows unchanged (a redelivered batch)."""
    day_start = START + timedelta(days=day)
    modulo = round(1 / DUPLICATE_SHARE)
    return f"""
INSERT INTO plate_captures
SELECT * FROM plate_captures
WHERE captured_at >= toDateTime64('{day_start:%Y-%m-%d %H:%M:%S}', 3, 'UTC')
  AND captured_at < toDateTime64('{day_start:%Y-%m-%d %H:%M:%S}', 3, 'UTC') + INTERVAL 1 DAY
  AND cityHash64(event_id) % {modulo} = 0
"""  # noqa: S608  (generated from constants and numbers)


def face_insert_sql(sizes: Sizes, month_first_day: int, month_days: int) -> str:
    """The faces captured in ``month_days`` days from ``month_first_day`` (one partition)."""
    per_day = max(1, sizes.faces // DAYS)
    rows = per_day * month_days
    first = month_first_day * per_day
    start = int((START + timedelta(days=month_first_day)).timestamp())
    noise = (
        f"arrayMap(j -> {_unit('cityHash64(person, j)')} - 0.5 "
        f"+ {FACE_NOISE} * ({_unit('cityHash64(g, j, 1)')} - 0.5), range(128))"
    )
    return f"""
INSERT INTO face_captures (* EXCEPT (landed_at))
SELECT
    lower(hex(MD5(concat('f', toString(g), '{SEED}')))) AS event_id,
    arrayElement(['hikvision-isapi', 'dahua-cgi', 'uniview-lapi', 'gat1400'], dev % 4 + 1),
    toString(g), {device_id_sql("dev")}, 1,
    toDateTime64({start} + (g - {first}) * ({month_days} * 86400 / {rows})
        + (h % 1000) / 1000.0, 3, 'UTC') AS at,
    at + toIntervalMillisecond(300 + h % 2000), 'source_offset',
    {device_lat_sql("dev")}, {device_lon_sql("dev")}, 0.9,
    concat('trk-', toString(intDiv(g, 2))), toFloat32(0.5 + (h % 50) / 100.0),
    arrayElement(['male', 'female'], person % 2 + 1), 20, 40, 'no', 'no',
    arrayMap(x -> toFloat32(x / sqrt(arraySum(arrayMap(y -> y * y, v)))), v),
    at, at + toIntervalSecond(2), false, [],
    concat('[{{"kind":"face","url":"https://img.city.example/f/', event_id, '.jpg"}}]'),
    map()
FROM
(
    SELECT
        number + {first} AS g,
        cityHash64(g, {SEED}) AS h,
        cityHash64(g, {SEED}, 'person') % {sizes.persons} AS person,
        cityHash64(person, 'dev', g % 5) % {DEVICES} AS dev,
        {noise} AS v
    FROM numbers({rows})
)
SETTINGS min_insert_block_size_rows = {rows + 1},
         min_insert_block_size_bytes = 68719476736
"""  # noqa: S608  (generated from constants and numbers)


def face_vectors_sql(month_first_day: int, month_days: int) -> str:
    start = START + timedelta(days=month_first_day)
    end = start + timedelta(days=month_days)
    return f"""
INSERT INTO face_vectors
SELECT event_id, device_id, captured_at, lat, lon, embedding
FROM face_captures
WHERE captured_at >= toDateTime64('{start:%Y-%m-%d %H:%M:%S}', 3, 'UTC')
  AND captured_at < toDateTime64('{end:%Y-%m-%d %H:%M:%S}', 3, 'UTC')
SETTINGS min_insert_block_size_rows = 1000000000,
         min_insert_block_size_bytes = 68719476736
"""  # noqa: S608  (generated from constants and numbers)


def _months() -> list[tuple[int, int]]:
    """(first day index, number of days) of each calendar month in the benchmark's range."""
    spans: list[tuple[int, int]] = []
    day = 0
    while day < DAYS:
        first = START + timedelta(days=day)
        following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
        length = min((following - first).days, DAYS - day)
        spans.append((day, length))
        day += length
    return spans


def _meta(warehouse: Warehouse) -> dict[str, int]:
    warehouse.command(
        f"CREATE TABLE IF NOT EXISTS {META_TABLE} (dataset String, size UInt64, seconds Float64)"
        " ENGINE = ReplacingMergeTree ORDER BY dataset"
    )
    rows = warehouse.query(f"SELECT dataset, size FROM {META_TABLE} FINAL")  # noqa: S608
    return {str(r["dataset"]): int(r["size"]) for r in rows}


def generation_seconds(warehouse: Warehouse) -> dict[str, float]:
    """Seconds each dataset took to generate (as recorded when it was generated)."""
    rows = warehouse.query(f"SELECT dataset, seconds FROM {META_TABLE} FINAL")  # noqa: S608
    return {str(r["dataset"]): float(r["seconds"]) for r in rows}


def _record(warehouse: Warehouse, dataset: str, size: int, seconds: float) -> None:
    warehouse.insert(META_TABLE, [{"dataset": dataset, "size": size, "seconds": seconds}])


def ensure_plates(warehouse: Warehouse, sizes: Sizes, progress: Progress) -> bool:
    """Generate the plate reads unless data of this size is there; True when generated now."""
    if _meta(warehouse).get("plates") == sizes.plates:
        return False
    warehouse.command(f"DELETE FROM {META_TABLE} WHERE dataset IN ('plates', 'aux')")  # noqa: S608
    for table in ("plate_captures", "device_positions", "alerts", "correlations", "alarms"):
        warehouse.command(f"TRUNCATE TABLE {table}")
    warehouse.command(
        "ALTER TABLE device_hourly DELETE WHERE kind != 'face' SETTINGS mutations_sync = 1"
    )
    started = time.monotonic()
    for day in range(DAYS):
        warehouse.command(plate_insert_sql(sizes, day))
        if day % 10 == 9 or day == DAYS - 1:
            elapsed = time.monotonic() - started
            progress(f"plates: day {day + 1}/{DAYS}, {elapsed:.0f} s")
    for day in range(DAYS - DUPLICATE_DAYS, DAYS):
        warehouse.command(duplicate_insert_sql(sizes, day))
    _fill_aux(warehouse, sizes)
    seconds = time.monotonic() - started
    _record(warehouse, "plates", sizes.plates, seconds)
    progress(f"plates: {sizes.plates:,} rows in {seconds:.0f} s")
    return True


def ensure_faces(warehouse: Warehouse, sizes: Sizes, progress: Progress) -> bool:
    """Generate faces and their HNSW-indexed vectors unless data of this size is there."""
    if _meta(warehouse).get("faces") == sizes.faces:
        return False
    warehouse.command(f"DELETE FROM {META_TABLE} WHERE dataset = 'faces'")  # noqa: S608
    warehouse.command("TRUNCATE TABLE face_captures")
    warehouse.command("TRUNCATE TABLE face_vectors")
    warehouse.command(
        "ALTER TABLE device_hourly DELETE WHERE kind = 'face' SETTINGS mutations_sync = 1"
    )
    started = time.monotonic()
    for first, length in _months():
        warehouse.command(face_insert_sql(sizes, first, length))
    captures = time.monotonic() - started
    progress(f"faces: {sizes.faces:,} captures in {captures:.0f} s; building the HNSW index")
    for first, length in _months():
        step = time.monotonic()
        warehouse.command(face_vectors_sql(first, length))
        progress(
            f"faces: vectors of days {first}-{first + length - 1} indexed in "
            f"{time.monotonic() - step:.0f} s"
        )
    seconds = time.monotonic() - started
    _record(warehouse, "faces", sizes.faces, seconds)
    progress(f"faces: {sizes.faces:,} vectors in {seconds:.0f} s")
    return True


def _fill_aux(warehouse: Warehouse, sizes: Sizes) -> None:
    """Alerts, correlations and alarms in proportion to the plate reads."""
    alerts = max(1_000, sizes.plates // 100)
    span_ms = DAYS * 86_400_000
    start = int(START.timestamp())
    warehouse.command(f"""
INSERT INTO alerts (* EXCEPT (landed_at))
SELECT
    lower(hex(MD5(concat('a', toString(number))))) AS alert_id,
    arrayElement(['watchlist', 'cloned_plate', 'convoy', 'alarm_context'], number % 4 + 1),
    toInt32(1 + number % 5), plate,
    toDateTime64({start} + (cityHash64(number, 'at') % {span_ms}) / 1000.0, 3, 'UTC') AS at,
    at + toIntervalMillisecond(300), false, [plate], [{device_id_sql("dev")}],
    [lower(hex(MD5(toString(number))))],
    concat('[{{"event_id":"', lower(hex(MD5(toString(number)))), '","kind":"plate"}}]'),
    '', 'bench', '', map()
FROM (SELECT number, cityHash64(number, 'dev') % {DEVICES} AS dev,
             {_plate_sql("cityHash64(number, 'v') % 100000")} AS plate
      FROM numbers({alerts}))
""")  # noqa: S608  (constants and numbers)
    warehouse.command(f"""
INSERT INTO correlations
SELECT
    lower(hex(MD5(concat('c', toString(number))))), 'person_vehicle', plate,
    toDateTime64({start} + (cityHash64(number, 'at') % {span_ms}) / 1000.0, 3, 'UTC'),
    [plate], [{device_id_sql("dev")}], [], '[]', map()
FROM (SELECT number, cityHash64(number, 'dev') % {DEVICES} AS dev,
             {_plate_sql("cityHash64(number, 'v') % 100000")} AS plate
      FROM numbers({alerts // 10}))
""")  # noqa: S608  (constants and numbers)
    warehouse.command(f"""
INSERT INTO alarms (* EXCEPT (landed_at))
SELECT
    lower(hex(MD5(concat('al', toString(number))))), 'hikvision-isapi', '', {device_id_sql("dev")},
    1, toDateTime64({start} + (cityHash64(number, 'at') % {span_ms}) / 1000.0, 3, 'UTC') AS at,
    at, 'source_offset', {device_lat_sql("dev")}, {device_lon_sql("dev")}, 0.9,
    arrayElement(['intrusion', 'line_crossing', 'tamper', 'video_loss'], number % 4 + 1),
    'pulse', 'VMD', '', '', false, [], '[]', map()
FROM (SELECT number, cityHash64(number, 'dev') % {DEVICES} AS dev FROM numbers({alerts // 10}))
""")  # noqa: S608  (constants and numbers)
