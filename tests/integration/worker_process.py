"""Runs ``streams worker`` (or ``streams run``: worker and search API) as a child process for
tests and waits on its HTTP endpoints."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from streams.settings import Settings
from tests.conftest import settings_env


class WorkerProcess:
    def __init__(self, settings: Settings, log: Path, command: str = "worker") -> None:
        self.settings = settings
        self.log = log
        self.command = command
        self.url = f"http://{settings.web_host}:{settings.web_port}"
        self.api_url = f"http://{settings.api_host}:{settings.api_port}"
        self.process: subprocess.Popen[bytes] | None = None

    def launch(self) -> WorkerProcess:
        """Start the worker process without waiting for it to be ready."""
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "streams", self.command, "--loglevel", "info"],
                env=settings_env(self.settings),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    def start(self) -> WorkerProcess:
        self.launch()
        self.wait_for(lambda: self.get("/readyz")[0] == 200, 120, "ready")
        return self

    def get(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=2) as response:  # noqa: S310
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def wait_for(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"worker exited ({self.process.returncode}):\n{self.log_tail()}"
                )
            try:
                if condition():
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"worker not {what} within {timeout}s:\n{self.log_tail()}")

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def streams_cli(
    settings: Settings, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``streams ARGS`` with these settings; the caller checks the outcome."""
    return subprocess.run(
        [sys.executable, "-m", "streams", *args],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def add_users(settings: Settings, *roles: tuple[str, str]) -> dict[str, str]:
    """Make API keys on the warehouse directly (nothing holds it yet): role -> key."""
    keys = {}
    for user, role in roles:
        made = streams_cli(settings, "users", "add", user, "--role", role)
        assert made.returncode == 0, made.stderr
        keys[role] = made.stdout.split()[-1]
    return keys


def post_json(url: str, body: Any, key: str, timeout: float = 30) -> int:
    """POST ``body`` as JSON with an API key; the HTTP status."""
    request = urllib.request.Request(  # noqa: S310 (loopback)
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"content-type": "application/json", "Authorization": f"Bearer {key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
