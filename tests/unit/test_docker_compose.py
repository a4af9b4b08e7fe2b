"""docker-compose.yml loads as Docker Compose loads it (compose-go: schema, interpolation,
anchors, dependencies), and it configures the backbone with real settings only."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
CHECKER = ROOT / ".venv" / "bin" / "compose-check"  # built by `make install-checks`
BACKBONE = ("setup", "worker", "gateway", "api")


def _load(path: Path) -> dict[str, Any]:
    assert CHECKER.exists(), "compose-check is missing: run `make install-checks`"
    done = subprocess.run(
        [str(CHECKER), str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    project: dict[str, Any] = json.loads(done.stdout)
    return project


@pytest.fixture(scope="module")
def project() -> dict[str, Any]:
    return _load(COMPOSE)


def test_the_checker_refuses_what_compose_refuses(tmp_path: Path) -> None:
    bad = tmp_path / "compose.yml"
    bad.write_text("services:\n  a:\n    image: x\n    depends_on: [missing]\n")
    done = subprocess.run([str(CHECKER), str(bad)], capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert "missing" in done.stderr


def test_services_are_the_backbone_and_its_engines(project: dict[str, Any]) -> None:
    assert set(project["services"]) == {"kafka", "clickhouse", *BACKBONE}


def test_every_streams_variable_is_a_setting(project: dict[str, Any]) -> None:
    known = {f"STREAMS_{name.upper()}" for name in Settings.model_fields}
    for name in BACKBONE:
        env = project["services"][name]["environment"]
        used = {key for key in env if key.startswith("STREAMS_")}
        assert used, name
        assert used <= known, (name, sorted(used - known))
        # The values are valid settings too (types, warehouse scheme).
        Settings.model_validate({k.removeprefix("STREAMS_").lower(): v for k, v in env.items()})


def test_the_backbone_uses_the_engines_of_the_file(project: dict[str, Any]) -> None:
    services = project["services"]
    kafka_listener = services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    for name in BACKBONE:
        env = services[name]["environment"]
        assert env["STREAMS_KAFKA_BOOTSTRAP_SERVERS"] in kafka_listener
        assert env["STREAMS_WAREHOUSE_URL"].startswith("clickhouse://")
        assert "@clickhouse:9000/" in env["STREAMS_WAREHOUSE_URL"]
        # Same password as the server's user, never a literal in the URL.
        assert (
            env["STREAMS_WAREHOUSE_PASSWORD"]
            == services["clickhouse"]["environment"]["CLICKHOUSE_PASSWORD"]
        )
        assert "build" in services[name]


def test_services_wait_for_migrations_and_probe_health(project: dict[str, Any]) -> None:
    services = project["services"]
    assert services["setup"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert services["setup"]["depends_on"]["clickhouse"]["condition"] == "service_healthy"
    ports = {"worker": 6066, "gateway": 8080, "api": 8088}
    for name, port in ports.items():
        service = services[name]
        assert service["depends_on"]["setup"]["condition"] == "service_completed_successfully"
        assert f"127.0.0.1:{port}/readyz" in " ".join(service["healthcheck"]["test"])
        [published] = service["ports"]
        assert published["target"] == port
        # Nothing is opened beyond the host's loopback by default.
        assert published["host_ip"] == "127.0.0.1"


def test_worker_stops_slower_than_a_sink_flush(project: dict[str, Any]) -> None:
    grace = _seconds(project["services"]["worker"]["stop_grace_period"])
    assert grace > Settings().sink_flush_seconds * 10


def _seconds(duration: str) -> float:
    """A Go duration as compose-go prints it (``1m0s``, ``90s``, ``1h0m0s``)."""
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:([\d.]+)s)?", duration)
    assert duration, "empty duration"
    assert match, duration
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds
