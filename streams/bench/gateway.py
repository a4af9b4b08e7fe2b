"""`streams bench gateway`: payloads per second the ingest gateway accepts, and per CPU-second.

A generated city's payloads (the vendor mix of the load test: GA/T 1400 batches, ISAPI
multipart bodies with images, Dahua and Uniview pushes) are POSTed to a `streams gateway`
process as fast as it answers, through the real broker. The gateway's own CPU time (read from
/proc) gives the per-core figure the capacity plan uses; the client runs on the same machine,
so the wall rate is a floor.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from streams.bench.isolation import isolated_run
from streams.localkafka import free_port
from streams.settings import Settings

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class GatewayRun:
    payloads: int
    bytes_in: int
    seconds: float
    gateway_cpu_seconds: float
    refused: int
    failed: int

    @property
    def per_second(self) -> float:
        return self.payloads / self.seconds

    @property
    def per_cpu_second(self) -> float:
        return self.payloads / max(self.gateway_cpu_seconds, 1e-9)

    def summary(self) -> dict[str, Any]:
        return {
            "payloads": self.payloads,
            "megabytes_in": round(self.bytes_in / 1e6, 1),
            "seconds": round(self.seconds, 2),
            "payloads_per_second": round(self.per_second),
            "gateway_cpu_seconds": round(self.gateway_cpu_seconds, 2),
            "payloads_per_gateway_cpu_second": round(self.per_cpu_second),
            "refused_4xx": self.refused,
            "failed": self.failed,
        }


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _wait_ready(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the gateway exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=2) as answer:  # noqa: S310
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the gateway at {url} was not ready within {seconds:.0f} s")


def city_captures(out: Path, cameras: int) -> Path:
    """A one-hour city of ``cameras`` cameras; returns its capture file."""
    from loadtest.city import CityConfig
    from loadtest.generate import generate, write_city

    config = CityConfig(cameras=cameras, vehicles=cameras * 3, pedestrians=cameras)
    write_city(generate(config), out)
    return out / "captures.jsonl"


def run_gateway_bench(settings: Settings, payloads: int, cameras: int) -> GatewayRun:
    with isolated_run(settings) as (isolated, state):
        return _time_gateway(isolated, state, payloads, cameras)


def _time_gateway(settings: Settings, state: Path, payloads: int, cameras: int) -> GatewayRun:
    from streams.kafka_admin import ensure_topics
    from streams.replay import Pacing, read_captures, replay_to_gateway

    ensure_topics(settings)
    print(f"generating a city of {cameras} cameras ...", flush=True)
    captures = list(islice(read_captures(city_captures(state / "city", cameras)), payloads))
    port = free_port()
    settings = settings.model_copy(update={"gateway_port": port, "gateway_host": "127.0.0.1"})
    url = f"http://127.0.0.1:{port}"
    log = (state / "gateway.log").open("wb")
    gateway = subprocess.Popen(
        [sys.executable, "-m", "streams", "gateway"],
        env=settings.environment(dict(os.environ)),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_ready(url, gateway)
        print(f"posting {len(captures):,} payloads to {url} ...", flush=True)
        cpu_before = _cpu_seconds(gateway.pid)
        started = time.perf_counter()
        result = replay_to_gateway(url, iter(captures), Pacing(), None)
        seconds = time.perf_counter() - started
        cpu = _cpu_seconds(gateway.pid) - cpu_before
    finally:
        gateway.terminate()
        gateway.wait(30)
        log.close()
    return GatewayRun(
        payloads=result.sent,
        bytes_in=sum(len(c.body) for c in captures),
        seconds=seconds,
        gateway_cpu_seconds=cpu,
        refused=result.refused,
        failed=result.failed,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--payloads", type=int, default=30_000, help="payloads to post (default 30,000)"
    )
    parser.add_argument(
        "--cameras", type=int, default=500, help="cameras of the generated city (default 500)"
    )
    parser.add_argument("--json", action="store_true", help="also print the numbers as JSON")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from streams.localkafka import development_broker

    broker = development_broker(settings)
    started = broker.up()
    try:
        settings = settings.model_copy(update={"kafka_bootstrap_servers": broker.bootstrap})
        run_ = run_gateway_bench(settings, args.payloads, args.cameras)
    finally:
        if started:
            broker.down()
    numbers = run_.summary()
    print(
        f"gateway: {numbers['payloads']:,} payloads ({numbers['megabytes_in']} MB) in "
        f"{numbers['seconds']} s = {numbers['payloads_per_second']:,} payloads/s wall; "
        f"{numbers['payloads_per_gateway_cpu_second']:,} payloads per gateway CPU-second; "
        f"{numbers['refused_4xx']} answered 4xx (malformed on purpose), {numbers['failed']} failed"
    )
    if args.json:
        print(json.dumps({"gateway": numbers}))
    return 0 if run_.failed == 0 else 1
