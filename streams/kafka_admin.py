"""Broker checks and topic creation with confluent-kafka's admin client."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
    ResourceType,
)

from streams.errors import BrokerUnavailable
from streams.log_repeats import condense
from streams.settings import Settings
from streams.topics import ALL_TOPICS, TopicSpec

# librdkafka reports transient broker states (e.g. coordinator loading) that it retries itself,
# and every client reports every reconnect attempt while a broker is down: repeats condensed.
LIBRDKAFKA_LOGGER = logging.getLogger("streams.librdkafka")
LIBRDKAFKA_LOGGER.setLevel(logging.ERROR)
condense([LIBRDKAFKA_LOGGER])
log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class TopicChanges:
    created: list[str]
    # Topic -> the declared configuration entries set on it (it existed with other values).
    updated: dict[str, dict[str, str]]


def prepare_topics(settings: Settings, specs: Iterable[TopicSpec] = ALL_TOPICS) -> TopicChanges:
    """Create the declared topics that do not exist yet, and give those that exist what their
    declared configuration needs for correctness (a topic made by an older version, e.g. before
    raw topics held records as large as the gateway accepts; see ``update_topic_configs``)."""
    specs = list(specs)
    present = existing_topics(settings)  # one listing for both steps
    created = ensure_topics(settings, specs, present=present)
    kept = [s for s in specs if settings.topic(s.name) not in created]
    return TopicChanges(created, update_topic_configs(settings, kept, present=present))


def update_topic_configs(
    settings: Settings, specs: Iterable[TopicSpec] = ALL_TOPICS, *, present: set[str] | None = None
) -> dict[str, dict[str, str]]:
    """Give existing topics what correctness needs of their declared configuration: records as
    large as declared (``max.message.bytes`` raised, never lowered) and the declared
    ``cleanup.policy``. Tuning (retention, segments) is left as the operator set it. Returns
    topic -> the entries set. ``present``: the topics that exist, if just listed."""
    if present is None:
        present = existing_topics(settings)
    limit = message_limit(settings)
    wanted = {
        settings.topic(spec.name): topic_config(spec, limit)
        for spec in specs
        if settings.topic(spec.name) in present
    }
    wanted = {name: config for name, config in wanted.items() if config}
    if not wanted:
        return {}
    admin = admin_client(settings)
    timeout = settings.kafka_timeout_seconds
    resources = [ConfigResource(ResourceType.TOPIC, name) for name in wanted]
    changes: dict[str, dict[str, str]] = {}
    try:
        for resource, future in admin.describe_configs(resources, request_timeout=timeout).items():
            current = future.result()
            diff = {
                key: value
                for key, value in wanted[resource.name].items()
                if needs_update(key, value, current[key].value if key in current else None)
            }
            if diff:
                changes[resource.name] = diff
        if changes:
            alters = [
                ConfigResource(
                    ResourceType.TOPIC,
                    name,
                    incremental_configs=[
                        ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)
                        for key, value in diff.items()
                    ],
                )
                for name, diff in changes.items()
            ]
            futures = admin.incremental_alter_configs(alters, request_timeout=timeout)
            for future in futures.values():
                future.result()
    except KafkaException as exc:
        error = exc.args[0] if exc.args else exc
        raise BrokerUnavailable(f"cannot update topic configuration: {error}") from None
    for name, diff in changes.items():
        log.info("topic %s: configuration set to %s", name, diff)
    return changes


def needs_update(key: str, declared: str, current: str | None) -> bool:
    """Whether an existing topic's ``current`` value of ``key`` must become ``declared``."""
    if key == "max.message.bytes":
        return current is None or int(current) < int(declared)
    if key == "cleanup.policy":
        return current != declared
    return False


def ensure_topics(
    settings: Settings, specs: Iterable[TopicSpec] = ALL_TOPICS, *, present: set[str] | None = None
) -> list[str]:
    """Create the declared topics that do not exist yet; return the names created.
    ``present``: the topics that exist, if just listed."""
    if present is None:
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
