"""Bad configuration gives one clear line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from streams.localkafka import LocalKafka
from streams.settings import Settings
from tests.conftest import free_port, settings_env

pytestmark = pytest.mark.integration


def _streams(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _assert_one_line_error(result: subprocess.CompletedProcess[str], text: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("streams: error: ")
    assert text in lines[0]


def test_help_explains_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "streams", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("demo", "worker", "migrate", "topics", "dev"):
        assert command in result.stdout


def test_unreachable_broker(tmp_path: Path) -> None:
    settings = Settings(
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",
        kafka_timeout_seconds=2,
        warehouse_url=f"chdb://{tmp_path / 'wh'}",
    )
    result = _streams("worker", env=settings_env(settings))
    _assert_one_line_error(result, "cannot reach Kafka")


def test_an_unknown_dead_letter_stage_is_named() -> None:
    result = _streams("deadletters", "list", "--stage", "sink", env=settings_env(Settings()))
    _assert_one_line_error(result, "the stages are normalize, dedup")


def test_bad_warehouse_url(tmp_path: Path) -> None:
    env = settings_env(Settings()) | {"STREAMS_WAREHOUSE_URL": "postgres://x"}
    _assert_one_line_error(_streams("migrate", env=env), "STREAMS_WAREHOUSE_URL")


def test_unreachable_warehouse_server() -> None:
    env = settings_env(Settings()) | {
        "STREAMS_WAREHOUSE_URL": f"clickhouse://default@127.0.0.1:{free_port()}/streams"
    }
    _assert_one_line_error(_streams("migrate", env=env), "cannot reach ClickHouse")


def test_worker_web_port_in_use(settings: Settings) -> None:
    with socket.socket() as sock:
        sock.bind((settings.web_host, settings.web_port))
        sock.listen()
        _assert_one_line_error(_streams("worker", env=settings_env(settings)), "in use")


def test_local_broker_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        env = settings_env(Settings(local_dir=tmp_path, local_kafka_port=port))
        _assert_one_line_error(_streams("dev", "kafka", "up", env=env), f"port {port}")
    assert LocalKafka(tmp_path / "kafka", port=port).running_pid() is None


def test_migrate_applies_and_reports(tmp_path: Path) -> None:
    env = settings_env(Settings(warehouse_url=f"chdb://{tmp_path / 'wh'}"))
    first = _streams("migrate", env=env)
    assert first.returncode == 0, first.stderr
    assert "applied 0001_raw_captures" in first.stdout
    # Each migration is announced before it runs: one may rewrite a large table.
    lines = first.stdout.splitlines()
    assert lines.index("applying warehouse migration 0005_plate_granules.sql") < lines.index(
        "applied 0005_plate_granules"
    )
    second = _streams("migrate", env=env)
    assert "0 applied now" in second.stdout
    enforced = _streams("migrate", "--enforce-retention", env=env)
    assert enforced.returncode == 0, enforced.stderr
    assert "enforcing 90-day retention on plate_captures (by captured_at)" in enforced.stdout
    assert "retention enforced on 11 tables" in enforced.stdout
    _assert_one_line_error(
        _streams("migrate", "--wait", "0", "--enforce-retention", env=env), "goes without it"
    )


def test_migrate_wait_applies_nothing(tmp_path: Path) -> None:
    env = settings_env(Settings(warehouse_url=f"chdb://{tmp_path / 'wh'}"))
    _assert_one_line_error(_streams("migrate", "--wait", "0", env=env), "were not applied within")
    assert _streams("migrate", env=env).returncode == 0
    waited = _streams("migrate", "--wait", "0", env=env)
    assert waited.returncode == 0, waited.stderr
    assert "is up to date" in waited.stdout
