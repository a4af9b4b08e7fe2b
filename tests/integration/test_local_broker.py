"""The local broker and topic creation, against the real broker."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer

from streams.kafka_admin import ensure_topics, existing_topics
from streams.localkafka import LocalKafka
from streams.settings import Settings
from streams.topics import ALL_TOPICS, WATCHLIST

pytestmark = pytest.mark.integration


def test_second_up_is_a_no_op(kafka_broker: LocalKafka) -> None:
    pid = kafka_broker.running_pid()
    assert pid is not None
    assert kafka_broker.up() is False
    assert kafka_broker.running_pid() == pid


def test_topics_are_created_once_with_their_configs(settings: Settings) -> None:
    created = ensure_topics(settings)
    assert sorted(created) == sorted(settings.topic(s.name) for s in ALL_TOPICS)
    assert ensure_topics(settings) == []
    assert {settings.topic(s.name) for s in ALL_TOPICS} <= existing_topics(settings)

    from confluent_kafka.admin import ConfigResource

    from streams.kafka_admin import admin_client

    admin = admin_client(settings)
    resource = ConfigResource(ConfigResource.Type.TOPIC, settings.topic(WATCHLIST.name))
    config = admin.describe_configs([resource])[resource].result(timeout=10)
    assert config["cleanup.policy"].value == "compact"


def test_produce_and_consume_round_trip(settings: Settings) -> None:
    ensure_topics(settings)
    topic = settings.topic("raw.gat1400")
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap_servers, "acks": "all"})
    producer.produce(topic, key=b"dev", value=b'{"x": 1}')
    assert producer.flush(10) == 0
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": settings.app_id,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    try:
        message = None
        for _ in range(60):
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                break
        assert message is not None
        assert message.value() == b'{"x": 1}'
    finally:
        consumer.close()


def test_storage_formats_with_a_cluster_id_that_looks_like_an_option(tmp_path: Path) -> None:
    broker = LocalKafka(tmp_path / "kafka", port=1)
    broker.write_config()
    broker.format_storage("-AbCdEfGhIjKlMnOpQrStU")
    meta = (broker.data_dir / "meta.properties").read_text()
    assert "cluster.id=-AbCdEfGhIjKlMnOpQrStU" in meta
