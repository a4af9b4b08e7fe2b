"""Normalize throughput: the pure adapters per source on one core, and the normalize agent in a
worker process through the real broker (events/s of wall time and per CPU-second of the worker).

Payloads come from a directory with one folder per source (default: the adapter test fixtures,
which are realistic vendor bodies); each file is one payload as it arrives on ``raw.<source>``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streams.bench.isolation import isolated_run
from streams.settings import Settings
from streams.topics import SOURCES
from streams.vendors import normalize
from streams.vendors.base import Context, RawPayload

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "vendors" / "fixtures"


@dataclass(frozen=True)
class Payload:
    source: str
    body: bytes
    content_type: str | None


def load_payloads(directory: Path = FIXTURES) -> dict[str, list[Payload]]:
    """Payload files per source that normalize to at least one event (the bad ones are left out:
    the benchmark measures the common path)."""
    ctx = Context()
    found: dict[str, list[Payload]] = {}
    for source in SOURCES:
        folder = directory / source
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if not path.is_file():
                continue
            body = path.read_bytes()
            content_type = None
            if body.startswith(b"--"):
                boundary = body[2 : body.index(b"\r\n") if b"\r\n" in body else body.index(b"\n")]
                content_type = f"multipart/form-data; boundary={boundary.decode('latin-1')}"
            raw = RawPayload(
                source,
                body,
                datetime.now(UTC),
                key="33010200001310000001",
                content_type=content_type,
            )
            if normalize(raw, ctx).events:
                found.setdefault(source, []).append(Payload(source, body, content_type))
    return found


def bench_adapters(payloads: dict[str, list[Payload]], seconds: float = 2.0) -> dict[str, Any]:
    """Events per CPU-second of each source's adapter, run in this process on one core."""
    ctx = Context()
    results: dict[str, Any] = {}
    for source, items in payloads.items():
        raws = [
            RawPayload(
                source,
                p.body,
                datetime.now(UTC),
                key="33010200001310000001",
                content_type=p.content_type,
            )
            for p in items
        ]
        events = calls = 0
        start = time.process_time()
        while time.process_time() - start < seconds:
            for raw in raws:
                events += len(normalize(raw, ctx).events)
            calls += len(raws)
        cpu = time.process_time() - start
        results[source] = {
            "payload_files": len(items),
            "events_per_cpu_second": round(events / cpu),
            "us_per_event": round(cpu / events * 1e6, 1),
            "events_per_payload": round(events / calls, 2),
        }
    return results


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_agent(
    settings: Settings, payloads: dict[str, list[Payload]], count: int
) -> dict[str, Any]:
    """Produce ``count`` raw payloads (all sources, round robin), then time a fresh worker
    normalizing them: wall time from its first to its last output, and its CPU time."""
    with isolated_run(settings) as (isolated, state):
        return _time_worker(isolated, state, payloads, count)


def _time_worker(
    settings: Settings, state: Path, payloads: dict[str, list[Payload]], count: int
) -> dict[str, Any]:
    from confluent_kafka import Producer

    from streams.kafka_admin import LIBRDKAFKA_LOGGER, ensure_topics
    from streams.topics import raw_topic_name

    ensure_topics(settings)
    mix = [p for items in payloads.values() for p in items]
    producer = Producer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "linger.ms": 20,
            "logger": LIBRDKAFKA_LOGGER,
        }
    )
    for i in range(count):
        p = mix[i % len(mix)]
        headers: list[tuple[str, str | bytes | None]] | None = (
            [("content-type", p.content_type.encode())] if p.content_type else None
        )
        while True:
            try:
                producer.produce(
                    settings.topic(raw_topic_name(p.source)),
                    p.body,
                    f"33010200001310{i % 1000:06d}".encode(),
                    headers=headers,
                )
                break
            except BufferError:
                producer.poll(0.1)
    producer.flush(60)

    env = settings.environment(dict(os.environ))
    log = state / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "streams", "worker"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://{settings.web_host}:{settings.web_port}/stats"
    try:
        first, last, cpu_first, done = _watch(worker, url, count)
        cpu_last = process_cpu_seconds(worker.pid)
    finally:
        worker.terminate()
        worker.wait(60)
    if not done:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-10:])
        raise RuntimeError(f"the worker did not finish the benchmark payloads:\n{tail}")
    wall = last - first
    return {
        "payloads": count,
        "wall_seconds": round(wall, 2),
        "payloads_per_second": round(count / wall) if wall else None,
        "worker_cpu_seconds": round(cpu_last - cpu_first, 2),
        "payloads_per_cpu_second": round(count / (cpu_last - cpu_first)),
    }


def _watch(
    worker: subprocess.Popen[bytes], url: str, count: int
) -> tuple[float, float, float, bool]:
    import json
    import urllib.request

    first = cpu_first = 0.0
    seen = 0
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and worker.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                counters = json.loads(response.read())["counters"]
        except OSError:
            time.sleep(0.2)
            continue
        seen = sum(counters.get("streams_raw_events_in_total", {}).values())
        now = time.monotonic()
        if seen and not first:
            first, cpu_first = now, process_cpu_seconds(worker.pid)
        if seen >= count:
            return first, now, cpu_first, True
        time.sleep(0.1)
    return first, time.monotonic(), cpu_first, False
