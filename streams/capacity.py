"""The capacity plan: partitions, workers, gateway replicas and ClickHouse shards per deployment
size, computed from the throughput the benchmarks measured (docs/benchmarks.md, docs/search.md,
docs/loadtest.md). ``python -m streams.capacity`` prints it; ``--write docs/capacity.md``
refreshes the tables in that page, and a test keeps the page equal to this module's output.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# --- measured, per core of the development machine (lowest figure of the measured range) ----
GATEWAY_PAYLOADS_PER_CORE = 3_700  # `streams bench gateway`: payloads per gateway CPU-second
WORKER_PAYLOADS_PER_CORE = 1_370  # `streams bench side-by-side`: normalize + dedup via Kafka
INSERT_ROWS_PER_CORE = 42_400  # `streams bench sink`: the engine's insert path
SCAN_ROWS_PER_CORE_SECOND = 170_000_000  # `*1234` over 100 M plate rows: 289 ms on 2 cores
BYTES_PER_PLATE_ROW = 134  # 12.4 GiB for 100 M plate rows (migration 0005), `by_device` included
BYTES_PER_FACE_ROW = 1_500  # face vector 1,033 B with its HNSW index, plus the capture row
PAYLOAD_BYTES = 1_715  # `streams bench gateway`: 34.3 MB for 20,000 generated city payloads
# --- measured in the default load test (120,256 payloads) ---------------------------------------
ROWS_PER_PAYLOAD = 0.61  # 73,231 unique events landed per 120,256 payloads
PLATE_SHARE, FACE_SHARE = 0.918, 0.071  # of the landed events; alarms are the rest
# --- assumptions, stated ----------------------------------------------------------------------
PAYLOADS_PER_PLATE_READ = 1.3  # faces and alarms add 30 % to the plate pushes
PEAK_FACTOR = 10  # rush hour against the daily average
UTILISATION = 0.7  # headroom: planned load per core
BACKLOG_FACTOR = 3  # KEDA may scale workers to 3x the peak need to drain a backlog
NODE_CORES = 16  # one ClickHouse replica
NODE_STORAGE_TB = 4.0
REPLICAS = 2  # ClickHouse copies of each shard
RAW_RETENTION_HOURS = 72  # raw.<source> topics (streams/topics.py)
KAFKA_COPIES = 3  # replication factor
WILDCARD_SECONDS = 1.0  # the slowest planned search (a `*1234` scan over the live plates)
PARTITION_STEPS = (6, 12, 24, 48, 96, 192)


@dataclass(frozen=True)
class Size:
    name: str
    cameras: int
    plate_reads_per_day: float
    retention_days: int


CITY_READS_PER_CAMERA_DAY = 50_000_000 / 60_000
SIZES = (
    Size("district", 4_500, 4_500 * CITY_READS_PER_CAMERA_DAY, 90),
    Size("city", 60_000, 50_000_000, 90),
    # 20 billion landed rows a year, kept a year.
    Size(
        "province",
        round(20e9 / 365 / ROWS_PER_PAYLOAD / PAYLOADS_PER_PLATE_READ / CITY_READS_PER_CAMERA_DAY),
        20e9 / 365 / ROWS_PER_PAYLOAD / PAYLOADS_PER_PLATE_READ,
        365,
    ),
)


@dataclass(frozen=True)
class Plan:
    size: Size
    peak_payloads: float
    gateway_replicas: int
    workers: int
    workers_max: int
    partitions: int
    rows_per_day: float
    live_rows: float
    storage_tb: float
    scan_cores: int
    shards: int
    kafka_raw_tb: float


def plan(size: Size) -> Plan:
    payloads_per_day = size.plate_reads_per_day * PAYLOADS_PER_PLATE_READ
    peak = payloads_per_day / 86_400 * PEAK_FACTOR
    gateways = max(2, math.ceil(peak / (GATEWAY_PAYLOADS_PER_CORE * UTILISATION)))
    workers = max(2, math.ceil(peak / (WORKER_PAYLOADS_PER_CORE * UTILISATION)))
    workers_max = workers * BACKLOG_FACTOR
    partitions = next(p for p in PARTITION_STEPS if p >= workers_max)
    rows_per_day = payloads_per_day * ROWS_PER_PAYLOAD
    live = rows_per_day * size.retention_days
    row_bytes = PLATE_SHARE * BYTES_PER_PLATE_ROW + FACE_SHARE * BYTES_PER_FACE_ROW
    storage_tb = live * row_bytes / 1e12
    scan_cores = math.ceil(live * PLATE_SHARE / SCAN_ROWS_PER_CORE_SECOND / WILDCARD_SECONDS)
    insert_cores = math.ceil(peak * ROWS_PER_PAYLOAD / (INSERT_ROWS_PER_CORE * UTILISATION))
    shards = max(
        math.ceil(scan_cores / NODE_CORES),
        math.ceil(storage_tb / (NODE_STORAGE_TB * UTILISATION)),
        math.ceil(insert_cores / NODE_CORES),
        1,
    )
    raw_days = RAW_RETENTION_HOURS / 24
    kafka_raw_tb = payloads_per_day * raw_days * PAYLOAD_BYTES * KAFKA_COPIES / 1e12
    return Plan(
        size, peak, gateways, workers, workers_max, partitions, rows_per_day, live, storage_tb,
        scan_cores, shards, kafka_raw_tb,
    )  # fmt: skip


def table(plans: list[Plan]) -> str:
    rows: list[tuple[str, Callable[[Plan], str]]] = [
        ("cameras", lambda p: f"{p.size.cameras:,}"),
        ("plate reads a day", lambda p: f"{p.size.plate_reads_per_day / 1e6:,.1f} M"),
        ("peak payloads/s", lambda p: f"{p.peak_payloads:,.0f}"),
        ("gateway replicas (1 core)", lambda p: f"{p.gateway_replicas}"),
        ("worker pods (1 core), peak", lambda p: f"{p.workers}"),
        ("worker pods, most (KEDA)", lambda p: f"{p.workers_max}"),
        ("partitions per topic", lambda p: f"{p.partitions}"),
        ("Kafka raw topics, 72 h x 3 copies", lambda p: f"{p.kafka_raw_tb:,.2f} TB"),
        ("rows landed a day", lambda p: f"{p.rows_per_day / 1e6:,.1f} M"),
        ("retention", lambda p: f"{p.size.retention_days} days"),
        ("live rows", lambda p: f"{p.live_rows / 1e9:,.2f} B"),
        ("storage per replica", lambda p: f"{p.storage_tb:,.2f} TB"),
        ("cores for a 1 s wildcard scan", lambda p: f"{p.scan_cores}"),
        ("ClickHouse shards x replicas", lambda p: f"{p.shards} x {REPLICAS}"),
    ]
    head = "| | " + " | ".join(p.size.name for p in plans) + " |"
    rule = "|---|" + "---|" * len(plans)
    body = [f"| {label} | " + " | ".join(cell(p) for p in plans) + " |" for label, cell in rows]
    return "\n".join([head, rule, *body])


BEGIN, END = "<!-- capacity:begin -->", "<!-- capacity:end -->"


def refresh(page: str) -> str:
    """The page with the table between its markers replaced by the computed one."""
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(page):
        raise ValueError(f"the page has no {BEGIN} ... {END} markers")
    fresh = f"{BEGIN}\n{table([plan(s) for s in SIZES])}\n{END}"
    return pattern.sub(lambda _m: fresh, page)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m streams.capacity",
        description="Print the capacity plan computed from the measured throughput, or refresh "
        "the table in a page between its capacity markers.",
    )
    parser.add_argument("--write", type=Path, metavar="PAGE", help="e.g. docs/capacity.md")
    args = parser.parse_args(argv)
    if args.write is None:
        print(table([plan(s) for s in SIZES]))
        return 0
    args.write.write_text(refresh(args.write.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"refreshed the capacity table in {args.write}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
