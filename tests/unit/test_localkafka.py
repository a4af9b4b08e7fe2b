"""The local broker manager's bookkeeping, without starting a broker."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from streams.localkafka import (
    SERVER_PORTS_LOW,
    LocalKafka,
    LocalKafkaError,
    free_port,
    port_is_free,
)
from tests.conftest import TEST_KAFKA_PORT


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


def test_free_ports_are_below_the_range_outgoing_connections_take_theirs_from() -> None:
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = {free_port() for _ in range(20)}
    assert all(SERVER_PORTS_LOW <= port < low for port in ports)
    assert len(ports) > 1  # drawn at random: servers started together rarely meet
    for port in ports:
        with socket.socket() as sock:  # and really free
            sock.bind(("127.0.0.1", port))


def test_the_test_brokers_ports_are_out_of_reach_of_outgoing_connections_and_free_port() -> None:
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    broker = LocalKafka(Path("unused"), port=TEST_KAFKA_PORT)
    for port in (broker.port, broker.controller_port):
        assert port < min(low, SERVER_PORTS_LOW)
