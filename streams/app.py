"""The one faust app and the topology: which agent reads and writes which topic.

Topology (names before ``topic_prefix``; topics are declared in ``streams.topics``)::

    gateway (HTTP)  ──>  raw.<source>            raw vendor bytes, keyed by device
    raw.<source>    ──>  raw_archive agent  ──>  warehouse table raw_captures
    raw.<source>    ──>  normalize agent    ──>  captures.plate | captures.face | captures.alarm
                                            └─>  deadletter (bytes + reason + position)

Each agent is thin: it moves data between topics and the warehouse; the logic it applies is in
plain functions (``streams.warehouse.landing`` for sinks). The worker HTTP server answers
``/healthz``, ``/readyz`` and ``/stats`` (see ``streams.worker_web``).
"""

from __future__ import annotations

from typing import Any

import faust

from streams import topics
from streams.settings import Settings, get_settings


def create_app(settings: Settings) -> faust.App:
    return faust.App(
        settings.app_id,
        broker=[
            f"kafka://{server.strip()}" for server in settings.kafka_bootstrap_servers.split(",")
        ],
        store="rocksdb://",
        datadir=str(settings.data_dir),
        # Topics are created up front by ``streams topics create`` with the right configs.
        topic_allow_declare=False,
        topic_partitions=settings.topic_partitions,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        web_host=settings.web_host,
        web_bind=settings.web_host,
        web_port=settings.web_port,
        worker_redirect_stdouts=False,
    )


SETTINGS = get_settings()
app = create_app(SETTINGS)


def faust_topic(*specs: topics.TopicSpec) -> Any:
    """The faust topic object reading one or more declared topics (values stay bytes)."""
    return app.topic(
        *(SETTINGS.topic(spec.name) for spec in specs),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )


RAW_INPUT = faust_topic(*topics.RAW.values())
SOURCE_BY_RAW_TOPIC = {SETTINGS.topic(spec.name): source for source, spec in topics.RAW.items()}
