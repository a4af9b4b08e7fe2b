"""The backbone under test, started as its users start it: ``streams worker`` (or ``streams
run``, worker and search API in one process) and ``streams gateway``, each its own process, on
settings of their own; their counters read from the worker's ``/stats``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams.errors import UserError
from streams.metrics import Metric
from streams.settings import Settings
from streams.topics import SOURCES

EVENT_TABLES = ("plate_captures", "face_captures", "alarms")


class BackboneError(UserError):
    pass


def _get_json(url: str, timeout: float = 2.0) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 (loopback)
        data: dict[str, Any] = json.loads(answer.read())
        return data


@dataclass(frozen=True)
class Progress:
    """The worker's counters reduced to what a run waits on and reports."""

    payloads_read: int  # raw payloads the normalize stage read
    canonical: int  # canonical events it made of them
    dead_letters: int
    skipped: int  # control messages (keepalives) that carry no event
    captures_in: int  # canonical events the dedup stage read
    unique: int
    duplicates: int
    landed: int  # unique event rows in the warehouse
    alerts: dict[str, int]

    @classmethod
    def of(cls, counters: dict[str, dict[str, int]]) -> Progress:
        def total(metric: Metric) -> int:
            return sum(counters.get(metric.value, {}).values())

        landed = counters.get(Metric.ROWS_LANDED.value, {})
        return cls(
            payloads_read=total(Metric.RAW_EVENTS_IN),
            canonical=total(Metric.CANONICAL_EVENTS_OUT),  # every "source/kind" label
            # Payloads the normalize stage refused (its label is the source).
            dead_letters=sum(
                v for k, v in counters.get(Metric.DEAD_LETTERS.value, {}).items() if k in SOURCES
            ),
            skipped=total(Metric.SKIPPED),
            captures_in=total(Metric.CAPTURES_IN),
            unique=total(Metric.UNIQUE_EVENTS_OUT),
            duplicates=total(Metric.DUPLICATES_DROPPED),
            landed=sum(landed.get(t, 0) for t in EVENT_TABLES),
            alerts=dict(counters.get(Metric.ALERTS.value, {})),
        )

    def drained(self, sent: int) -> bool:
        """Every payload sent was read, every event made of them left the dedup stage (unique
        or dropped as a duplicate), and every unique event landed."""
        return (
            self.payloads_read >= sent
            and self.captures_in >= self.canonical
            and self.unique + self.duplicates >= self.captures_in
            and self.landed >= self.unique
        )


class LocalBackbone:
    """Worker (``command``: ``worker`` or ``run``) and, optionally, the gateway; stopped with
    SIGTERM (a clean shutdown flushes the sinks)."""

    def __init__(
        self, settings: Settings, logs: Path, *, command: str = "worker", gateway: bool = False
    ) -> None:
        self.settings = settings
        self.logs = logs
        self.command = command
        self.with_gateway = gateway
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.web = f"http://{settings.web_host}:{settings.web_port}"
        self.gateway_url = f"http://{settings.gateway_host}:{settings.gateway_port}"
        self.drained_at = 0.0  # wall time of the last change before everything had landed

    def _spawn(self, name: str, args: list[str], extra: dict[str, str]) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        env = self.settings.environment(dict(os.environ)) | extra
        with (self.logs / f"{name}.log").open("ab") as out:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "streams", *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def start(self, timeout: float = 180.0) -> None:
        self._spawn("worker", [self.command, "--loglevel", "info"], {})
        if self.with_gateway:
            self._spawn("gateway", ["gateway"], {"STREAMS_GATEWAY_REPLAY_CLOCK": "true"})
        self._wait(lambda: _get_json(self.web + "/readyz")["status"] == "ready", timeout, "ready")
        if self.with_gateway:
            self._wait(
                lambda: _get_json(self.gateway_url + "/healthz")["status"] == "ok",
                timeout,
                "the gateway to answer",
            )

    def _wait(self, predicate: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                if predicate():
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise BackboneError(f"timed out after {timeout:g}s waiting for {what}\n{self.log_tail()}")

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise BackboneError(
                    f"the {name} exited ({process.returncode}); its log:\n{self.log_tail(name)}"
                )

    def log_tail(self, name: str = "worker", lines: int = 20) -> str:
        path = self.logs / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def counters(self) -> dict[str, dict[str, int]]:
        counters: dict[str, dict[str, int]] = _get_json(self.web + "/stats")["counters"]
        return counters

    def progress(self) -> Progress:
        return Progress.of(self.counters())

    def wait_drained(
        self, sent: int, timeout: float, on_progress: Any = None, settle: float = 3.0
    ) -> Progress:
        """Wait until everything sent has been processed and landed, and the counters have
        stood still for ``settle`` seconds (windows still closing move them)."""
        deadline = time.monotonic() + timeout
        last: Progress | None = None
        still_since = time.monotonic()
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                now = self.progress()
            except OSError:
                time.sleep(0.5)
                continue
            if now != last:
                last, still_since = now, time.monotonic()
                self.drained_at = time.time()
                if on_progress is not None:
                    on_progress(now)
            elif now.drained(sent) and time.monotonic() - still_since >= settle:
                return now
            time.sleep(0.5)
        raise BackboneError(f"not everything landed within {timeout:g}s: {last}\n{self.log_tail()}")

    def stop(self, timeout: float = 90.0) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()
