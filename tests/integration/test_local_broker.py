"""The local broker and topic creation, against the real broker."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaException, Producer

from streams.kafka_admin import ensure_topics, existing_topics
from streams.localkafka import LocalKafka
from streams.settings import Settings
from streams.topics import ALL_TOPICS, RAW, WATCHLIST

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


def test_topics_made_by_an_older_version_get_the_declared_configuration(
    settings: Settings,
) -> None:
    from confluent_kafka.admin import ConfigResource, NewTopic

    from streams.kafka_admin import admin_client, message_limit, prepare_topics

    raw = settings.topic(RAW["gat1400"].name)
    admin = admin_client(settings)
    resource = ConfigResource(ConfigResource.Type.TOPIC, raw)

    def config_now(key: str, expected: str) -> str:
        """The topic's value of ``key`` once it reads ``expected`` (the broker applies topic
        creation and configuration changes asynchronously), or the last value read."""
        value = ""
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                value = admin.describe_configs([resource])[resource].result(timeout=10)[key].value
            except KafkaException:
                value = ""  # not known to the broker yet
            if value == expected:
                break
            time.sleep(0.2)
        return value

    # As created before raw topics declared max.message.bytes: the broker's default (~1 MB).
    old = NewTopic(raw, num_partitions=1, replication_factor=1, config={"retention.ms": "1000"})
    admin.create_topics([old])[raw].result(timeout=10)
    assert config_now("retention.ms", "1000") == "1000"
    deadline = time.monotonic() + 15
    while raw not in existing_topics(settings) and time.monotonic() < deadline:
        time.sleep(0.2)

    changes = prepare_topics(settings)
    assert raw not in changes.created
    limit = str(message_limit(settings))
    assert changes.updated == {raw: {"max.message.bytes": limit}}
    assert config_now("max.message.bytes", limit) == limit
    # Tuning is the operator's: a retention set on the broker stays.
    assert config_now("retention.ms", "1000") == "1000"
    # Declared and in place: nothing more to do.
    again = prepare_topics(settings)
    assert again.created == []
    assert again.updated == {}
