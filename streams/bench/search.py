"""Search latency per query kind on a generated city, and face recall against brute force.

``streams bench search`` fills an embedded warehouse under ``--dir`` (see
:mod:`streams.bench.search_data`; data of the same size is reused on the next run), then runs
every query kind ``--repeat`` times with parameters drawn from the data (plates that exist,
areas around real devices, faces of real persons) and prints p50/p99 latency per kind, measured
around :func:`streams.search.run_search` (parsing, SQL, engine, row conversion). Face recall@10
compares the HNSW search with the exact top 10 of the same table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from streams.bench.search_data import (
    DAYS,
    START,
    Sizes,
    ensure_faces,
    ensure_plates,
    generation_seconds,
)
from streams.search import (
    AlertSearch,
    Area,
    AreaSearch,
    CollisionSearch,
    CollisionSet,
    CotravelSearch,
    DeviceStatsSearch,
    FaceSearch,
    FirstSeenSearch,
    PlateSearch,
    SearchRequest,
    TrajectorySearch,
    run_search,
)
from streams.settings import Settings
from streams.warehouse.base import Warehouse

DEFAULT_DIR = Path(".local/bench-search")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir", type=Path, default=DEFAULT_DIR, help="bench warehouse directory (reused)"
    )
    parser.add_argument(
        "--plates", type=int, default=100_000_000, help="plate captures to generate"
    )
    parser.add_argument(
        "--faces", type=int, default=1_000_000, help="face captures (and HNSW vectors)"
    )
    parser.add_argument("--repeat", type=int, default=100, help="timed runs per query kind")
    parser.add_argument("--recall-queries", type=int, default=50, help="face queries for recall@10")
    parser.add_argument("--seed", type=int, default=7, help="seed of the query parameters")
    parser.add_argument(
        "--generate-only", action="store_true", help="generate the data, run no queries"
    )
    parser.add_argument("--json", action="store_true", help="also print the numbers as JSON")


@dataclass
class Samples:
    """Query parameters drawn from the generated data."""

    plates: list[str]
    frequent: list[str]
    positions: list[tuple[float, float]]
    devices: list[str]
    face_ids: list[str]
    embeddings: list[list[float]]
    tracks: list[str] = field(default_factory=list)


def _draw(warehouse: Warehouse, rng: random.Random) -> Samples:
    day = START + timedelta(days=DAYS - 10)
    plates = warehouse.query(
        "SELECT plate_number FROM plate_captures WHERE captured_at >= {a:DateTime64(3, 'UTC')} "
        "AND captured_at < {b:DateTime64(3, 'UTC')} AND plate_number != '' "
        "LIMIT 1 BY plate_number LIMIT 2000",
        {"a": day, "b": day + timedelta(days=1)},
    )
    frequent = warehouse.query(
        "SELECT plate_number, count() AS n FROM plate_captures "
        "WHERE captured_at >= {a:DateTime64(3, 'UTC')} AND captured_at < {b:DateTime64(3, 'UTC')}"
        " AND plate_number != '' GROUP BY plate_number ORDER BY n DESC LIMIT 50",
        {"a": day, "b": day + timedelta(days=1)},
    )
    positions = warehouse.query("SELECT device_id, lat, lon FROM device_positions FINAL")
    faces = warehouse.query(
        "SELECT event_id, embedding, track_id FROM face_captures "
        "WHERE captured_at >= {a:DateTime64(3, 'UTC')} AND captured_at < {b:DateTime64(3, 'UTC')}"
        " LIMIT 500",
        {"a": day, "b": day + timedelta(days=1)},
    )
    rng.shuffle(plates)
    rng.shuffle(faces)
    return Samples(
        plates=[str(r["plate_number"]) for r in plates],
        frequent=[str(r["plate_number"]) for r in frequent],
        positions=[(float(r["lat"]), float(r["lon"])) for r in positions],
        devices=[str(r["device_id"]) for r in positions],
        face_ids=[str(r["event_id"]) for r in faces],
        embeddings=[[float(x) for x in r["embedding"]] for r in faces],
        tracks=[str(r["track_id"]) for r in faces],
    )


def _noisy(rng: random.Random, vector: list[float], scale: float = 0.3) -> list[float]:
    """Another capture of the same person: the stored embedding plus noise, normalised."""
    noisy = [x + rng.uniform(-0.5, 0.5) * scale / math.sqrt(len(vector)) * 2 for x in vector]
    norm = math.sqrt(sum(x * x for x in noisy))
    return [x / norm for x in noisy]


def _moment(rng: random.Random, span: timedelta) -> tuple[datetime, datetime]:
    total = timedelta(days=DAYS) - span
    since = START + timedelta(seconds=rng.randrange(int(total.total_seconds())))
    return since, since + span


def _circle(rng: random.Random, samples: Samples, radius_m: float) -> Area:
    lat, lon = rng.choice(samples.positions)
    return Area(lat=lat, lon=lon, radius_m=radius_m)


def _polygon(rng: random.Random, samples: Samples, half_deg: float) -> Area:
    lat, lon = rng.choice(samples.positions)
    d = half_deg
    return Area(
        polygon=[
            (lat - d, lon - d),
            (lat - d, lon + d),
            (lat + d, lon + d),
            (lat + d, lon - d),
            (lat, lon - 1.5 * d),
        ]
    )


def _tail(plate: str) -> str:
    return "*" + plate[-4:]


def scenarios(rng: random.Random, s: Samples) -> dict[str, Callable[[], SearchRequest]]:
    """Query kind (and variant) -> a factory of requests with fresh parameters."""
    week = timedelta(days=7)
    return {
        "plate exact (90 days)": lambda: PlateSearch(plate=rng.choice(s.plates)),
        "plate exact, frequent vehicle": lambda: PlateSearch(plate=rng.choice(s.frequent)),
        "plate fuzzy (90 days)": lambda: PlateSearch(plate=rng.choice(s.plates), fuzzy=True),
        "plate wildcard prefix 浙A1* (90 days)": lambda: PlateSearch(
            plate=rng.choice(s.plates)[:3] + "*"
        ),
        "plate wildcard *1234 (7 days)": lambda: PlateSearch(
            plate=_tail(rng.choice(s.plates)), since=(w := _moment(rng, week))[0], until=w[1]
        ),
        "plate wildcard *1234 (90 days)": lambda: PlateSearch(plate=_tail(rng.choice(s.plates))),
        "plate wildcard 浙?12?4? (90 days)": lambda: PlateSearch(
            plate=(p := rng.choice(s.plates))[0] + "?" + p[2:4] + "?" + p[5] + "?"
        ),
        "trajectory (plate, 1000 rows)": lambda: TrajectorySearch(
            plate=rng.choice(s.plates), limit=1000
        ),
        "trajectory (face track, 7 days)": lambda: TrajectorySearch(
            track_id=rng.choice(s.tracks), since=(w := _moment(rng, week))[0], until=w[1]
        ),
        "first-seen": lambda: FirstSeenSearch(plate=rng.choice(s.plates)),
        "first-seen in area (3 km)": lambda: FirstSeenSearch(
            plate=rng.choice(s.plates), area=_circle(rng, s, 3000)
        ),
        "area circle 1 km, 1 hour": lambda: AreaSearch(
            area=_circle(rng, s, 1000),
            since=(w := _moment(rng, timedelta(hours=1)))[0],
            until=w[1],
        ),
        "area polygon ~2 km, 1 day": lambda: AreaSearch(
            area=_polygon(rng, s, 0.01),
            since=(w := _moment(rng, timedelta(days=1)))[0],
            until=w[1],
        ),
        "collision plate, 3 sets 1 km x 2 h": lambda: CollisionSearch(
            sets=[
                CollisionSet(area=_circle(rng, s, 1000), since=w[0], until=w[1])
                for w in (_moment(rng, timedelta(hours=2)) for _ in range(3))
            ],
            min_sets=2,
        ),
        "collision face, 2 sets 2 km x 1 day": lambda: CollisionSearch(
            sets=[
                CollisionSet(area=_circle(rng, s, 2000), since=w[0], until=w[1])
                for w in (_moment(rng, timedelta(days=1)) for _ in range(2))
            ],
            target="face",
        ),
        "cotravel (7 days)": lambda: CotravelSearch(
            plate=rng.choice(s.plates),
            since=(w := _moment(rng, week))[0],
            until=w[1],
            min_devices=2,
        ),
        "cotravel (90 days)": lambda: CotravelSearch(plate=rng.choice(s.plates), min_devices=2),
        "face top-10 (HNSW)": lambda: FaceSearch(embedding=_noisy(rng, rng.choice(s.embeddings))),
        "face top-10 by event_id": lambda: FaceSearch(event_id=rng.choice(s.face_ids)),
        "face top-10, 7 days": lambda: FaceSearch(
            embedding=_noisy(rng, rng.choice(s.embeddings)),
            since=(w := _moment(rng, week))[0],
            until=w[1],
        ),
        "face top-10, 3 km area": lambda: FaceSearch(
            embedding=_noisy(rng, rng.choice(s.embeddings)), area=_circle(rng, s, 3000)
        ),
        "alerts (rule, 7 days)": lambda: AlertSearch(
            rules=[rng.choice(["watchlist", "convoy"])],
            since=(w := _moment(rng, week))[0],
            until=w[1],
        ),
        "alerts (plate)": lambda: AlertSearch(plate=rng.choice(s.plates)),
        "device-stats (10 devices, 30 days, day)": lambda: DeviceStatsSearch(
            devices=rng.sample(s.devices, 10),
            since=(w := _moment(rng, timedelta(days=30)))[0],
            until=w[1],
            bucket="day",
        ),
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, math.ceil(q * len(ordered)) - 1)
    return ordered[rank]


def measure(warehouse: Warehouse, make: Callable[[], SearchRequest], repeat: int) -> dict[str, Any]:
    for _ in range(min(3, repeat)):  # warm the caches with other parameters
        run_search(warehouse, make())
    times: list[float] = []
    rows = 0
    for _ in range(repeat):
        request = make()
        started = time.perf_counter()
        result = run_search(warehouse, request)
        times.append((time.perf_counter() - started) * 1000)
        rows += len(result.rows)
    return {
        "p50_ms": round(_percentile(times, 0.5), 1),
        "p99_ms": round(_percentile(times, 0.99), 1),
        "max_ms": round(max(times), 1),
        "mean_rows": round(rows / repeat, 1),
        "runs": repeat,
    }


def measure_warm(
    warehouse: Warehouse, make: Callable[[], SearchRequest], repeat: int
) -> dict[str, Any]:
    """Latency of a request repeated right after a first run (its data in the caches)."""
    times: list[float] = []
    for _ in range(repeat):
        request = make()
        run_search(warehouse, request)
        started = time.perf_counter()
        run_search(warehouse, request)
        times.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": round(_percentile(times, 0.5), 1),
        "p99_ms": round(_percentile(times, 0.99), 1),
        "runs": repeat,
    }


def face_recall(
    warehouse: Warehouse, samples: Samples, rng: random.Random, queries: int, k: int = 10
) -> dict[str, Any]:
    """Mean recall@k of the HNSW search against the exact top k of face_vectors."""
    recalls: list[float] = []
    exact_ms: list[float] = []
    for _ in range(queries):
        query = _noisy(rng, rng.choice(samples.embeddings))
        found = run_search(warehouse, FaceSearch(embedding=query, top_k=k))
        approx = {str(r["event_id"]) for r in found.rows}
        started = time.perf_counter()
        exact = warehouse.query(
            "SELECT event_id FROM face_vectors ORDER BY cosineDistance(embedding, "
            "{q:Array(Float32)}), event_id LIMIT 1 BY event_id LIMIT {k:UInt32} "
            "SETTINGS use_skip_indexes = 0",
            {"q": query, "k": k},
        )
        exact_ms.append((time.perf_counter() - started) * 1000)
        truth = {str(r["event_id"]) for r in exact}
        recalls.append(len(approx & truth) / max(1, len(truth)))
    return {
        "recall_at_10": round(sum(recalls) / len(recalls), 4),
        "min_recall": round(min(recalls), 2),
        "queries": queries,
        "brute_force_p50_ms": round(_percentile(exact_ms, 0.5), 1),
    }


def index_used(warehouse: Warehouse, samples: Samples) -> bool:
    """Whether the plan of an unfiltered face search reads through the HNSW index."""
    plan = warehouse.query(
        "EXPLAIN indexes = 1 SELECT event_id FROM face_vectors "
        "ORDER BY cosineDistance(embedding, {q:Array(Float32)}) LIMIT {k:UInt32}",
        {"q": samples.embeddings[0], "k": 10},
    )
    return any("embedding_hnsw" in str(r.get("explain", "")) for r in plan)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from streams.warehouse.embedded import EmbeddedWarehouse
    from streams.warehouse.migrations import migrate

    del settings  # the benchmark has its own warehouse under --dir
    sizes = Sizes(plates=args.plates, faces=args.faces)
    warehouse = EmbeddedWarehouse(args.dir, "streams")
    try:

        def progress(message: str) -> None:
            print(message, flush=True)

        migrate(warehouse, progress=progress)

        ensure_plates(warehouse, sizes, progress)
        ensure_faces(warehouse, sizes, progress)
        if args.generate_only:
            return 0
        rng = random.Random(args.seed)  # noqa: S311 (query parameters, not secrets)
        samples = _draw(warehouse, rng)
        report: dict[str, Any] = {
            "load_average_at_start": os.getloadavg(),
            "plates": sizes.plates,
            "faces": sizes.faces,
            "generation_seconds": generation_seconds(warehouse),
            "kinds": {},
        }
        print(f"{'query':42} {'p50 ms':>9} {'p99 ms':>9} {'rows':>7}")
        for name, make in scenarios(rng, samples).items():
            numbers = measure(warehouse, make, args.repeat)
            report["kinds"][name] = numbers
            print(
                f"{name:42} {numbers['p50_ms']:>9} {numbers['p99_ms']:>9} "
                f"{numbers['mean_rows']:>7}",
                flush=True,
            )
        for name in ("plate exact (90 days)", "trajectory (plate, 1000 rows)"):
            numbers = measure_warm(warehouse, scenarios(rng, samples)[name], args.repeat)
            report["kinds"][name + ", repeated"] = numbers
            print(
                f"{name + ', repeated':42} {numbers['p50_ms']:>9} {numbers['p99_ms']:>9}",
                flush=True,
            )
        report["hnsw_index_used"] = index_used(warehouse, samples)
        report["face_recall"] = face_recall(warehouse, samples, rng, args.recall_queries)
        recall = report["face_recall"]
        print(
            f"face recall@10 (HNSW vs brute force, {recall['queries']} queries): "
            f"{recall['recall_at_10']} (min {recall['min_recall']}); brute force p50 "
            f"{recall['brute_force_p50_ms']} ms; index used: {report['hnsw_index_used']}"
        )
        report["load_average_at_end"] = os.getloadavg()
        print(f"generation seconds: {report['generation_seconds']}")
        print(
            f"load average (1, 5, 15 min) at start {report['load_average_at_start']}, "
            f"at end {report['load_average_at_end']}"
        )
        if args.json:
            print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0
    finally:
        warehouse.close()
