"""Warehouse sink throughput on the embedded engine (chDB).

1. The insert path alone: plate rows prepared up front, inserted in batches of
   ``sink_batch_size`` with their deduplication tokens (rows/s of wall time).
2. Decoding and mapping alone: Avro bytes to rows, one core, no insert (the path of records the
   engine does not map, and of the fallback).
3. The engine path alone: the Avro bodies of each batch framed as a container and mapped to
   rows by the engine (``streams.warehouse.avro_rows``), batches of ``sink_batch_size``.
4. The whole stage through the real broker: canonical plate captures produced to
   ``unique.plate`` first, then the sink stage (the same ``StageRunner`` the worker uses, in
   this process, which also owns the embedded warehouse) run until every row has landed:
   rows/s of wall time from the stage's partition assignment to the last row landed, and the
   process's CPU seconds over that span (librdkafka's and the engine's threads included).
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from streams.bench.correlate import make_city
from streams.bench.isolation import isolated_run
from streams.canonical import ImageKind, ImageRef, PlateCapture, TimeProvenance
from streams.codecs import avro
from streams.metrics import COUNTERS, Metric
from streams.settings import Settings
from streams.warehouse.base import Warehouse
from streams.warehouse.rows import PLATE_TABLE, Row, rows_by_table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rows",
        type=int,
        default=200_000,
        help="plate rows for the insert, decode and engine paths alone (0 skips those runs)",
    )
    parser.add_argument(
        "--messages",
        type=int,
        default=200_000,
        help="plate captures through Kafka and the sink stage (0 skips that run)",
    )
    parser.add_argument("--json", action="store_true", help="also print the numbers as JSON")


def plate_captures(count: int, seed: int = 5) -> list[PlateCapture]:
    """Unique plate passes of a synthetic city: positions, an image reference, attributes as
    the dedup stage publishes them."""
    rng = random.Random(seed)  # noqa: S311 (synthetic traffic, not secrets)
    city = make_city(devices=4000, vehicles=50_000)
    start = datetime.now(UTC) - timedelta(hours=1)
    captures = []
    for i in range(count):
        device = city.devices[i % len(city.devices)]
        at = start + timedelta(milliseconds=i * 17)
        plate = rng.choice(city.plates)
        captures.append(
            PlateCapture(
                event_id=f"{i:032x}",
                source="hikvision-isapi",
                source_event_id=str(i),
                device_id=device,
                captured_at=at,
                received_at=at + timedelta(milliseconds=300),
                time_source=TimeProvenance.SOURCE_OFFSET,
                position=city.positions[device],
                images=[ImageRef(kind=ImageKind.VEHICLE, url=f"http://10.0.0.5/pic/{i}.jpg")],
                confidence=round(rng.uniform(0.6, 0.99), 2),
                plate_number=plate,
                plate_raw=plate,
                vehicle_color="white",
                lane=1 + i % 4,
                speed_kmh=round(rng.uniform(20, 90), 1),
            )
        )
    return captures


def _worker_gc() -> None:
    # As the worker runs (streams.worker): frozen start-up heap, high collector thresholds.
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)


@contextmanager
def scratch_warehouse(settings: Settings) -> Iterator[tuple[Settings, Warehouse]]:
    """Settings isolated for one run (``isolated_run``) and their migrated warehouse,
    removed afterwards."""
    from streams.warehouse import open_warehouse
    from streams.warehouse.migrations import migrate

    with isolated_run(settings) as (settings, _state):
        warehouse = open_warehouse(settings)
        try:
            migrate(warehouse)
            yield settings, warehouse
        finally:
            warehouse.close()


def _landed(warehouse: Warehouse) -> int:
    [row] = warehouse.query(f"SELECT count() AS n FROM {PLATE_TABLE}")  # noqa: S608 (constant)
    return int(row["n"])


def bench_insert(settings: Settings, rows: list[Row]) -> dict[str, Any]:
    """Prepared rows into the embedded warehouse, one insert per ``sink_batch_size`` rows."""
    with scratch_warehouse(settings) as (settings, warehouse):
        batch = settings.sink_batch_size
        wall, cpu = time.perf_counter(), time.process_time()
        for n, first in enumerate(range(0, len(rows), batch)):
            warehouse.insert(PLATE_TABLE, rows[first : first + batch], dedup_token=f"bench{n}")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        landed = _landed(warehouse)
    return _insert_numbers(len(rows), batch, landed, wall, cpu)


def _insert_numbers(rows: int, batch: int, landed: int, wall: float, cpu: float) -> dict[str, Any]:
    return {
        "rows": rows,
        "batch_rows": batch,
        "landed": landed,
        "wall_seconds": round(wall, 2),
        "rows_per_second": round(rows / wall),
        "cpu_seconds": round(cpu, 2),
    }


def bench_insert_avro(settings: Settings, messages: list[bytes]) -> dict[str, Any]:
    """Avro bodies framed as containers and mapped to plate rows by the engine, one insert per
    ``sink_batch_size`` messages; the time of framing alone is given apart."""
    from streams.warehouse.avro_rows import (
        MAPPINGS_OF_RECORD,
        AvroWarehouse,
        container,
        insert_mapped,
        writer_schema_json,
    )

    version = avro.default_store().by_fingerprint[messages[0][2:10]]
    [mapping] = MAPPINGS_OF_RECORD[version.name]
    schema = writer_schema_json(version)
    with scratch_warehouse(settings) as (settings, warehouse):
        assert isinstance(warehouse, AvroWarehouse)
        batch = settings.sink_batch_size
        framing = 0.0
        wall, cpu = time.perf_counter(), time.process_time()
        for n, first in enumerate(range(0, len(messages), batch)):
            framed = time.perf_counter()
            data = container(schema, [m[10:] for m in messages[first : first + batch]])
            framing += time.perf_counter() - framed
            insert_mapped(warehouse, mapping, data, dedup_token=f"bench{n}")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        landed = _landed(warehouse)
    numbers = _insert_numbers(len(messages), batch, landed, wall, cpu)
    numbers["framing_seconds"] = round(framing, 3)
    return numbers


def bench_decode(messages: list[bytes]) -> dict[str, Any]:
    """Avro bytes to warehouse rows (what ``process`` does per message), one core."""
    from streams.warehouse.rows import rows_of

    decode = avro.decode_datum
    cpu = time.process_time()
    for value in messages:
        rows_of(decode(value))
    cpu = time.process_time() - cpu
    return {
        "messages": len(messages),
        "cpu_seconds": round(cpu, 2),
        "rows_per_cpu_second": round(len(messages) / cpu),
        "us_per_row": round(cpu / len(messages) * 1e6, 2),
    }


def bench_stage(settings: Settings, messages: list[bytes]) -> dict[str, Any]:
    """Produce the messages to unique.plate, then run the sink stage until all have landed.
    With a schema registry configured, the messages are framed for it (Confluent framing)."""
    from streams.agents.runner import StageRunner
    from streams.agents.sink import WarehouseSinkStage
    from streams.codecs.wire import wire_format
    from streams.kafka_admin import ensure_topics
    from streams.publisher import Publisher
    from streams.topics import UNIQUE_PLATES

    with scratch_warehouse(settings) as (settings, warehouse):
        ensure_topics(settings)
        wire = wire_format(settings)
        publisher = Publisher(settings, **{"linger.ms": 20})
        topic = settings.topic(UNIQUE_PLATES.name)
        for n, value in enumerate(messages):
            if settings.schema_registry_url:
                value = wire.encode(avro.decode(value), topic)
            publisher.produce(topic, value, str(n % 4000).encode())
        publisher.flush_sync(120)

        failed: list[BaseException] = []
        stage = WarehouseSinkStage(settings, warehouse, Publisher(settings), wire)
        runner = StageRunner(settings, stage, failed.append)
        before = COUNTERS.get(Metric.ROWS_LANDED, PLATE_TABLE)
        runner.start()
        try:
            if not runner.ready.wait(120):
                raise RuntimeError("the sink stage was not assigned its partitions")
            wall, cpu = time.perf_counter(), time.process_time()
            deadline = time.monotonic() + 900
            while COUNTERS.get(Metric.ROWS_LANDED, PLATE_TABLE) - before < len(messages):
                if failed or time.monotonic() > deadline or not runner.is_alive():
                    raise RuntimeError(f"the sink stage did not land every row: {failed}")
                time.sleep(0.02)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        finally:
            runner.stop()
            runner.join(60)
        landed = _landed(warehouse)
    return {
        "messages": len(messages),
        "landed": landed,
        "batches": runner.batches,
        "wall_seconds": round(wall, 2),
        "rows_per_second": round(len(messages) / wall),
        "cpu_seconds": round(cpu, 2),
        "rows_per_cpu_second": round(len(messages) / cpu),
    }


def run(args: argparse.Namespace, settings: Settings) -> int:
    """``streams bench sink``: print the measurements (and JSON if asked)."""
    if args.rows < 0 or args.messages < 0 or not (args.rows or args.messages):
        raise SystemExit("streams bench sink: --rows and --messages are counts, not both 0")
    messages = [avro.encode(c) for c in plate_captures(max(args.rows, args.messages))]
    _worker_gc()
    report: dict[str, Any] = {"batch_rows": settings.sink_batch_size}
    if args.rows:
        _paths_alone(settings, messages[: args.rows], report)
    if args.messages:
        staged = _with_broker(settings, lambda s: bench_stage(s, messages[: args.messages]))
        report["stage"] = staged
        framing = "Confluent-framed" if settings.schema_registry_url else "single-object"
        report["stage"]["framing"] = framing
        print(
            f"sink stage through Kafka ({staged['messages']} {framing} plate captures): "
            f"{staged['rows_per_second']} rows/s wall, {staged['rows_per_cpu_second']} rows per "
            f"CPU-second ({staged['cpu_seconds']} CPU s, {staged['batches']} batches)",
            flush=True,
        )
    if args.json:
        print(json.dumps(report, indent=2))
    return 0


def _paths_alone(settings: Settings, messages: list[bytes], report: dict[str, Any]) -> None:
    """The insert path, decoding and the engine path, each alone on ``messages``."""
    rows = rows_by_table([avro.decode_datum(m) for m in messages])[PLATE_TABLE]
    inserted = bench_insert(settings, rows)
    del rows
    report["insert"] = inserted
    print(
        f"insert path alone ({inserted['rows']} plate rows, batches of {inserted['batch_rows']}): "
        f"{inserted['rows_per_second']} rows/s wall, {inserted['cpu_seconds']} CPU s",
        flush=True,
    )
    decoded = bench_decode(messages)
    report["decode"] = decoded
    print(
        f"decode and map alone, one core: {decoded['rows_per_cpu_second']} rows/s "
        f"({decoded['us_per_row']} us/row)",
        flush=True,
    )
    mapped = bench_insert_avro(settings, messages)
    report["insert_avro"] = mapped
    print(
        f"engine path alone ({mapped['rows']} plate bodies, batches of {mapped['batch_rows']}): "
        f"{mapped['rows_per_second']} rows/s wall, {mapped['cpu_seconds']} CPU s "
        f"({mapped['framing_seconds']} s of it framing containers)",
        flush=True,
    )


def _with_broker(
    settings: Settings, measure: Callable[[Settings], dict[str, Any]]
) -> dict[str, Any]:
    """Run ``measure`` against the local development broker, started for it if not running."""
    from streams.localkafka import development_broker

    broker = development_broker(settings)
    started = broker.up()
    try:
        return measure(settings.model_copy(update={"kafka_bootstrap_servers": broker.bootstrap}))
    finally:
        if started:
            broker.down()
