"""The one faust app and the topology: which stage reads and writes which topic.

Topology (names before ``topic_prefix``; topics are declared in ``streams.topics``)::

    gateway (HTTP)  ──>  raw.<source>            raw vendor bytes, keyed by device
    raw.<source>    ──>  normalize stage    ──>  captures.plate | captures.face | captures.alarm
                                            └─>  deadletter (bytes + reason + position)
    raw.<source>    ──>  raw_archive stage  ──>  warehouse table raw_captures
    captures.*      ──>  dedup stage        ──>  unique.plate | unique.face | unique.alarm
                                            ├─>  alerts (watchlist, on first sight)
                                            ├─>  correlations (person_vehicle)
                                            ├─>  repartition.plate-by-plate (passes, co-passes)
                                            └─>  repartition.area (every unique event)
    watchlist       ──>  dedup stage (every worker follows the whole compacted topic)
    repartition.plate-by-plate ──> plates stage ──> alerts (cloned_plate, convoy)
    repartition.area           ──> area stage   ──> alerts (alarm_context)
    unique.* | alerts | correlations | deadletter
                    ──>  warehouse_sink stage  ──>  warehouse tables plate_captures,
                                                    face_captures, face_vectors, alarms, alerts,
                                                    correlations, dead_letters
                                               └─>  deadletter (records it cannot read)

The dedup, plates and area stages keep window state per input partition in the compacted
topics changelog.dedup, changelog.plates and changelog.area (``streams.agents.changelog``).

Stages are thin: they move data between topics and the warehouse; what they apply is in plain
functions (``streams.vendors`` for normalize, ``streams.correlate`` for the rules,
``streams.warehouse.landing`` for sinks). The faust
worker hosts them (``streams.agents.runner``) and serves ``/healthz``, ``/readyz``, ``/stats``,
``/metrics`` (``streams.worker_web``).
"""

from __future__ import annotations

import faust

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
        # faust's own consumer group (it hosts no agents): a restarted worker must not wait
        # the default minute for the dead member's session to expire.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        producer_acks=-1,
        web_host=settings.web_host,
        web_bind=settings.web_host,
        web_port=settings.web_port,
        worker_redirect_stdouts=False,
    )


SETTINGS = get_settings()
app = create_app(SETTINGS)
