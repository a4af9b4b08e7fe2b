"""The local broker manager's bookkeeping, without starting a broker."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from streams.localkafka import LocalKafka, LocalKafkaError, port_is_free


def test_stale_pid_file_of_a_dead_process_is_removed(tmp_path: Path) -> None:
    broker = LocalKafka(tmp_path / "kafka", port=1)
    broker.home.mkdir()
    finished = subprocess.run(["true"], check=True)
    assert finished.returncode == 0
    broker.pid_file.write_text("999999999")
    assert broker.running_pid() is None
    assert not broker.pid_file.exists()


def test_pid_file_of_an_unrelated_live_process_is_stale(tmp_path: Path) -> None:
    broker = LocalKafka(tmp_path / "kafka", port=1)
    broker.home.mkdir()
    with subprocess.Popen(["sleep", "30"]) as other:
        broker.pid_file.write_text(str(other.pid))
        assert broker.running_pid() is None
        other.kill()


def test_port_in_use_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert not port_is_free(port)
        broker = LocalKafka(tmp_path / "kafka", port=port)
        with pytest.raises(LocalKafkaError, match=f"port {port} .* in use"):
            broker.up(timeout=5)
    assert not (tmp_path / "kafka" / "broker.pid").exists()


def test_down_when_not_running_is_a_no_op(tmp_path: Path) -> None:
    assert LocalKafka(tmp_path / "kafka", port=1).down() is False
