"""Broker checks and topic creation with confluent-kafka's admin client."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from streams.errors import BrokerUnavailable
from streams.settings import Settings
from streams.topics import ALL_TOPICS, TopicSpec

# librdkafka reports transient broker states (e.g. coordinator loading) that it retries itself.
LIBRDKAFKA_LOGGER = logging.getLogger("streams.librdkafka")
LIBRDKAFKA_LOGGER.setLevel(logging.ERROR)


def admin_client(settings: Settings) -> AdminClient:
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        "logger": LIBRDKAFKA_LOGGER,
    }
    return AdminClient(config)


def existing_topics(settings: Settings) -> set[str]:
    """Topic names on the broker; raises BrokerUnavailable with a one-line reason."""
    try:
        metadata = admin_client(settings).list_topics(timeout=settings.kafka_timeout_seconds)
    except KafkaException as exc:
        raise BrokerUnavailable(
            f"cannot reach Kafka at {settings.kafka_bootstrap_servers} within "
            f"{settings.kafka_timeout_seconds:g}s ({exc.args[0].str() if exc.args else exc}); "
            "start the local broker with `streams dev kafka up` "
            "or set STREAMS_KAFKA_BOOTSTRAP_SERVERS"
        ) from None
    return set(metadata.topics)


# Room beyond a payload's bytes for the record's key, headers and a dead letter's envelope.
RECORD_OVERHEAD_BYTES = 64 * 1024
DEFAULT_MESSAGE_LIMIT: int = Settings.model_fields["gateway_max_body_bytes"].default + (
    RECORD_OVERHEAD_BYTES
)


def message_limit(settings: Settings) -> int:
    """The largest record the backbone writes: a whole vendor body the gateway accepted, as a
    raw record or inside a dead letter."""
    return settings.gateway_max_body_bytes + RECORD_OVERHEAD_BYTES


def topic_config(spec: TopicSpec, max_message_bytes: int = DEFAULT_MESSAGE_LIMIT) -> dict[str, str]:
    config: dict[str, str] = {}
    if spec.whole_payloads:
        config["max.message.bytes"] = str(max_message_bytes)
    if spec.compacted:
        config["cleanup.policy"] = "compact"
    if spec.retention_hours is not None:
        config["retention.ms"] = str(spec.retention_hours * 3600 * 1000)
    config.update(spec.config)
    return config


def ensure_topics(settings: Settings, specs: Iterable[TopicSpec] = ALL_TOPICS) -> list[str]:
    """Create the declared topics that do not exist yet; return the names created."""
    present = existing_topics(settings)
    wanted = [
        NewTopic(
            settings.topic(spec.name),
            num_partitions=spec.partitions or settings.topic_partitions,
            replication_factor=settings.topic_replication_factor,
            config=topic_config(spec, message_limit(settings)),
        )
        for spec in specs
        if settings.topic(spec.name) not in present
    ]
    if not wanted:
        return []
    admin = admin_client(settings)  # must outlive the futures below
    futures = admin.create_topics(wanted, request_timeout=settings.kafka_timeout_seconds)
    created = []
    for name, future in futures.items():
        try:
            future.result()
            created.append(name)
        except KafkaException as exc:
            error = exc.args[0]
            if error.name() != "TOPIC_ALREADY_EXISTS":
                raise BrokerUnavailable(f"cannot create topic {name}: {error.str()}") from None
    return sorted(created)
