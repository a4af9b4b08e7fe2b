"""The three implementations of ``streams bench side-by-side`` as processes to start and watch,
and the measurement of one: its counters and the CPU time of its process, read every 20-100 ms
from start to done, then its output topics checked against what it says it passed on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams.bench.normalize import process_cpu_seconds
from streams.bench.side_by_side_data import Dataset
from streams.settings import Settings
from streams.topics import UNIQUE_ALARMS, UNIQUE_FACES, UNIQUE_PLATES

ROOT = Path(__file__).resolve().parents[2]
LABELS = {
    "limit": "limit: confluent-kafka copy loop",
    "ours": "ours: normalize + dedup stages",
    "peer": "peer: Quix Streams",
}
STALL_SECONDS = 180.0  # no progress for this long (start-up included): give up on it


class BenchFailed(RuntimeError):
    """An implementation did not move every event."""


@dataclass
class Progress:
    fraction: float  # of the way through the data, by its slowest step (0-1): for the eye
    started: bool  # some payload read
    done: bool  # every payload read, every event passed on or dropped as a duplicate


@dataclass
class Sample:
    at: float  # monotonic seconds
    progress: Progress
    cpu: float  # CPU seconds of the process so far
    broker_cpu: float | None
    machine_cpu: float  # busy CPU seconds of the whole machine so far


@dataclass
class Result:
    name: str
    label: str
    payloads: int  # raw payloads read (every implementation reads all of them)
    outputs: int  # messages on its output topics
    duplicates: int  # canonical events it dropped as duplicates
    wall_seconds: float  # from its first payload read to done
    cpu_seconds: float  # of its process (every thread) over the same span
    broker_cpu_seconds: float | None  # of the broker over the same span
    other_cpu_seconds: float  # of everything else on the machine over the same span

    @property
    def per_second(self) -> float:
        return self.payloads / self.wall_seconds

    @property
    def per_core(self) -> float:
        return self.payloads / self.cpu_seconds


# ---------------------------------------------------------------------------------------------
# The three implementations: how to start one, and how far it is


class Run:
    name: str
    sample_seconds = 0.1  # how often its counters and CPU time are read

    def __init__(self, settings: Settings, state: Path, dataset: Dataset) -> None:
        self.settings = settings
        self.state = state
        self.payloads = len(dataset.messages)
        self.events = dataset.events
        self.log = state / f"{self.name}.log"

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return self.settings.environment(dict(os.environ))

    def counters(self) -> dict[str, Any] | None:
        raise NotImplementedError

    def progress(self, counters: dict[str, Any]) -> Progress:
        raise NotImplementedError

    def clock(self, counters: dict[str, Any], pid: int) -> tuple[float, float]:
        """When the counters were read (monotonic seconds), and the CPU seconds of the process
        by then."""
        return time.monotonic(), process_cpu_seconds(pid)

    def output_topics(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> subprocess.Popen[bytes]:
        with self.log.open("wb") as out:
            return subprocess.Popen(
                self.command(), env=self.environment(), stdout=out, stderr=subprocess.STDOUT
            )


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine since boot, every core: user, nice, system, irq
    and softirq (idle, I/O wait and time stolen by the hypervisor left out)."""
    user, nice, system, _idle, _iowait, irq, softirq = (
        int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]
    )
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        counters: dict[str, Any] = json.loads(path.read_text())
        return counters
    except (OSError, ValueError):
        return None


class Limit(Run):
    name = "limit"
    sample_seconds = 0.02  # quick: it writes its counters every 20 ms

    def command(self) -> list[str]:
        stats = str(self.state / "limit.json")
        group = f"{self.settings.app_id}.limit"
        module = "streams.bench.copy_limit"
        return [sys.executable, "-m", module, "--group", group, "--stats", stats]

    def counters(self) -> dict[str, Any] | None:
        return _read_json(self.state / "limit.json")

    def clock(self, counters: dict[str, Any], pid: int) -> tuple[float, float]:
        # Its own clocks, written with the counters: its runs are short, and /proc counts CPU
        # time in ticks of 10 ms.
        return counters["at"], counters["cpu"]

    def progress(self, counters: dict[str, Any]) -> Progress:
        acknowledged = counters["acknowledged"]
        return Progress(
            min(counters["consumed"], acknowledged) / self.payloads,
            counters["consumed"] > 0,
            acknowledged >= self.payloads,
        )

    def output_topics(self) -> list[str]:
        from streams.bench.copy_limit import output_topics

        return [self.settings.topic(name) for name in output_topics()]


class Ours(Run):
    name = "ours"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "streams", "worker"]

    def counters(self) -> dict[str, Any] | None:
        url = f"http://{self.settings.web_host}:{self.settings.web_port}/stats"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                stats: dict[str, dict[str, int]] = json.loads(response.read())["counters"]
        except (OSError, ValueError, KeyError):
            return None

        def total(name: str) -> int:
            return sum(stats.get(name, {}).values())

        return {
            "raw_in": total("streams_raw_events_in_total"),
            "captures_in": total("streams_captures_in_total"),
            "unique_out": total("streams_unique_events_out_total"),
            "duplicates": total("streams_duplicates_dropped_total"),
            "dead_letters": total("streams_dead_letters_total"),
        }

    def progress(self, counters: dict[str, Any]) -> Progress:
        return _dedup_progress(self.payloads, self.events, counters)

    def output_topics(self) -> list[str]:
        return [self.settings.topic(s.name) for s in (UNIQUE_PLATES, UNIQUE_FACES, UNIQUE_ALARMS)]


class Peer(Run):
    name = "peer"
    sample_seconds = 0.05

    def __init__(self, settings: Settings, state: Path, dataset: Dataset, python: Path) -> None:
        super().__init__(settings, state, dataset)
        self.python = python

    def command(self) -> list[str]:
        return [
            str(self.python),
            "-m",
            "loadtest.peers.quix_normalize_dedup",
            "--group",
            f"{self.settings.app_id}.peer",
            "--state-dir",
            str(self.state / "quix-state"),
            "--stats",
            str(self.state / "peer.json"),
        ]

    def environment(self) -> dict[str, str]:
        env = super().environment()
        env["PYTHONPATH"] = str(ROOT)  # the peer's interpreter may not have the project installed
        return env

    def counters(self) -> dict[str, Any] | None:
        return _read_json(self.state / "peer.json")

    def progress(self, counters: dict[str, Any]) -> Progress:
        return _dedup_progress(self.payloads, self.events, counters)

    def output_topics(self) -> list[str]:
        from loadtest.peers.quix_normalize_dedup import UNIQUE

        return [self.settings.topic(name) for name in UNIQUE.values()]


def _dedup_progress(payloads: int, events: int, counters: dict[str, Any]) -> Progress:
    read, deduplicated = counters["raw_in"], counters["captures_in"]
    settled = counters["unique_out"] + counters["duplicates"]
    return Progress(
        min(read / payloads, deduplicated / events),
        read > 0,
        read >= payloads and deduplicated >= events and settled >= events,
    )


# ---------------------------------------------------------------------------------------------
# Measuring one


def measure(run: Run, broker_pid: int | None, say: Callable[[str], None]) -> Result:
    """Start the implementation, sample it until it is done, check its outputs, stop it."""
    process = run.start()
    samples: list[Sample] = []
    counters: dict[str, Any] = {}
    try:
        best: dict[str, Any] = {}
        deadline = time.monotonic() + STALL_SECONDS
        told = time.monotonic()
        while True:
            if process.poll() is not None:
                raise BenchFailed(f"{run.name} exited ({process.returncode}):\n{_tail(run.log)}")
            reading = run.counters()
            now = time.monotonic()
            if reading is not None:
                at, cpu = run.clock(reading, process.pid)
                broker = process_cpu_seconds(broker_pid) if broker_pid else None
                counters = reading
                progress = run.progress(reading)
                samples.append(Sample(at, progress, cpu, broker, machine_cpu_seconds()))
                moved = {k: v for k, v in reading.items() if k not in ("at", "cpu")}
                if moved != best:
                    best, deadline = moved, now + STALL_SECONDS
                if progress.done:
                    break
                if now - told >= 10:
                    say(f"  {run.name}: {progress.fraction:.0%} through")
                    told = now
            if now > deadline:
                raise BenchFailed(
                    f"{run.name} made no progress for {STALL_SECONDS:g} s "
                    f"(counters {counters}):\n{_tail(run.log)}"
                )
            time.sleep(run.sample_seconds)
        landed = _wait_for_outputs(run, counters)
    finally:
        _stop(process)
    say(f"  {run.name}: done; {landed:,} messages on its output topics")
    return _result(run, samples, counters, landed)


def _wait_for_outputs(run: Run, counters: dict[str, Any]) -> int:
    expected = counters.get("unique_out", run.payloads)
    deadline = time.monotonic() + 60
    while True:
        landed = _messages_in(run.settings, run.output_topics())
        if landed == expected or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if landed != expected:
        raise BenchFailed(f"{run.name} passed on {expected:,} messages but {landed:,} landed")
    return landed


def _messages_in(settings: Settings, topics: list[str]) -> int:
    from confluent_kafka import Consumer, TopicPartition

    from streams.kafka_admin import LIBRDKAFKA_LOGGER

    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": f"{settings.app_id}.count",
            "logger": LIBRDKAFKA_LOGGER,
        }
    )
    try:
        metadata = consumer.list_topics(timeout=10)
        total = 0
        for topic in topics:
            for partition in metadata.topics[topic].partitions:
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=10
                )
                total += high - low
        return total
    finally:
        consumer.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _result(run: Run, samples: list[Sample], counters: dict[str, Any], landed: int) -> Result:
    # From the last sample before any payload was read (start-up is left out) to done: the
    # steps of a pipeline do not move in step (the peer reads most raw payloads before its
    # dedup step gets going), so only the whole run counts each payload's work exactly once.
    began = next(i for i, sample in enumerate(samples) if sample.progress.started)
    first, last = samples[max(0, began - 1)], samples[-1]
    if last.at <= first.at or last.cpu <= first.cpu:
        raise BenchFailed(f"{run.name} finished between two samples: measure more --events")
    broker = None
    if first.broker_cpu is not None and last.broker_cpu is not None:
        broker = last.broker_cpu - first.broker_cpu
    cpu = last.cpu - first.cpu
    other = last.machine_cpu - first.machine_cpu - cpu - (broker or 0.0)
    return Result(
        name=run.name,
        label=LABELS[run.name],
        payloads=run.payloads,
        outputs=landed,
        duplicates=counters.get("duplicates", 0),
        wall_seconds=round(last.at - first.at, 3),
        cpu_seconds=round(cpu, 3),
        broker_cpu_seconds=None if broker is None else round(broker, 2),
        other_cpu_seconds=round(max(0.0, other), 2),
    )
