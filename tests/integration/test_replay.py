"""``streams replay`` against the real broker: straight into the raw topics and through the
gateway, with the recorded received times."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from confluent_kafka import Consumer

from streams.kafka_admin import ensure_topics
from streams.replay import Pacing, read_captures, replay_to_gateway, replay_to_kafka
from streams.settings import Settings
from streams.topics import raw_topic_name
from tests.conftest import free_port, settings_env

pytestmark = pytest.mark.integration

# Within the raw topics' retention: older timestamps are deleted by the broker's retention check.
START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def _city(tmp_path: Path) -> Path:
    lines = [
        {"line": i, "source": source, "device_id": f"dev-{i}", "at": i * 2.0, "payload": body}
        for i, (source, body) in enumerate(
            [
                ("gat1400", '{"MotorVehicleListObject": {"MotorVehicleObject": []}}'),
                ("onvif", "<tt:MetadataStream/>"),
                ("hikvision-isapi", "<EventNotificationAlert/>"),
                ("dahua-cgi", "Code=TrafficJunction;action=Pulse;index=0;data={}"),
            ]
        )
    ]
    path = tmp_path / "captures.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    (tmp_path / "city.json").write_text(json.dumps({"start": START.isoformat()}))
    return path


def _read_raw(settings: Settings, expected: int) -> dict[bytes, tuple[str, int]]:
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": "replay-test",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe(
        [settings.topic(raw_topic_name(s)) for s in ("gat1400", "onvif", "hikvision-isapi")]
        + [settings.topic(raw_topic_name("dahua-cgi"))]
    )
    found: dict[bytes, tuple[str, int]] = {}
    deadline = time.monotonic() + 60
    try:
        while len(found) < expected and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                found[message.key()] = (message.topic(), message.timestamp()[1])
    finally:
        consumer.close()
    return found


def test_replay_into_kafka_keeps_recorded_received_times(
    settings: Settings, tmp_path: Path
) -> None:
    ensure_topics(settings)
    path = _city(tmp_path)
    began = time.monotonic()
    result = replay_to_kafka(settings, read_captures(path), Pacing(speedup=4.0), START)
    took = time.monotonic() - began
    assert (result.sent, result.failed) == (4, 0)
    assert took >= 6 / 4.0 - 0.1  # the last payload is recorded at 6 s, replayed at x4
    assert sorted(result.intended) == [0, 1, 2, 3]
    assert result.intended[3] - result.intended[0] == pytest.approx(1.5, abs=0.01)
    found = _read_raw(settings, 4)
    start_ms = int(START.timestamp() * 1000)
    assert found[b"dev-0"] == (settings.topic("raw.gat1400"), start_ms)
    assert found[b"dev-3"] == (settings.topic("raw.dahua-cgi"), start_ms + 6000)


def test_replay_through_the_gateway_command(settings: Settings, tmp_path: Path) -> None:
    ensure_topics(settings)
    path = _city(tmp_path)
    gateway_settings = settings.model_copy(
        update={"gateway_port": free_port(), "gateway_replay_clock": True}
    )
    gateway = subprocess.Popen(
        [sys.executable, "-m", "streams", "gateway"],
        env=settings_env(gateway_settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{gateway_settings.gateway_port}"
    try:
        for _ in range(60):  # until it listens
            try:
                result = replay_to_gateway(url, read_captures(path), Pacing(), START)
            except Exception:
                time.sleep(0.5)
                continue
            if result.sent == 4:
                break
            time.sleep(0.5)
        assert (result.sent, result.failed) == (4, 0)
        assert result.refused == 1  # the empty GA/T 1400 batch is answered 400, and kept
        cli = subprocess.run(
            [sys.executable, "-m", "streams", "replay", str(path), "--max", "--via-gateway", url],
            env=settings_env(gateway_settings),
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        gateway.terminate()
        gateway.wait(30)
    assert cli.returncode == 0, cli.stderr
    assert "sent 4 payloads" in cli.stdout
    found = _read_raw(settings, 4)
    assert found[b"dev-1"] == (settings.topic("raw.onvif"), int(START.timestamp() * 1000) + 2000)
    assert found[b"dev-2"][0] == settings.topic("raw.hikvision-isapi")
