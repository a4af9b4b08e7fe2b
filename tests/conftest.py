"""Shared fixtures. The integration broker is real: Apache Kafka (KRaft) started from the jars
that ``make install`` resolves from Maven Central, on its own port and data directory."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.localkafka import LocalKafka, LocalKafkaError, free_port
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
# The test broker's client port (its controller takes the next one): below the ports the system
# gives outgoing connections, one of which could otherwise hold it when the broker binds, and
# below the ones free_port() hands out.
TEST_KAFKA_PORT = 19092


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[LocalKafka]:
    """A real broker for the whole test session; failing to start fails the tests (no skip)."""
    port = int(os.environ.get("STREAMS_TEST_KAFKA_PORT", str(TEST_KAFKA_PORT)))
    broker = LocalKafka(ROOT / ".local" / "test-kafka", port=port, heap_mb=512)
    broker.down()
    broker.wipe()
    try:
        broker.up(timeout=120)
    except LocalKafkaError as exc:
        pytest.fail(f"the test Kafka broker did not start: {exc}", pytrace=False)
    yield broker
    broker.down()
    broker.wipe()


@pytest.fixture
def settings(tmp_path: Path, kafka_broker: LocalKafka) -> Settings:
    """Settings isolated per test: own topic prefix, warehouse, state dir and web ports."""
    return isolated_settings(kafka_broker.bootstrap, tmp_path)


def isolated_settings(bootstrap: str, tmp_path: Path) -> Settings:
    """Settings of a test's own: topic prefix, warehouse, state dir and web ports."""
    return Settings(
        kafka_bootstrap_servers=bootstrap,
        topic_prefix=f"t{uuid.uuid4().hex[:8]}.",
        topic_partitions=2,
        app_id=f"streams-test-{uuid.uuid4().hex[:8]}",
        data_dir=tmp_path / "faust",
        warehouse_url=f"chdb://{tmp_path / 'warehouse'}",
        web_port=free_port(),
        api_port=free_port(),
        sink_flush_seconds=0.2,
        local_dir=tmp_path / "local",
    )


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a child process these settings."""
    return settings.environment(dict(os.environ))
