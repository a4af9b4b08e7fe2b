"""``streams alerts tail``: print the alerts as subscribers receive them."""

from __future__ import annotations

import sys
import time
import uuid
from typing import IO

from confluent_kafka import Consumer

from streams import topics
from streams.canonical.models import rfc3339_millis
from streams.codecs.wire import wire_format
from streams.correlate.records import Alert
from streams.kafka_admin import LIBRDKAFKA_LOGGER, existing_topics
from streams.settings import Settings


def describe(alert: Alert) -> str:
    """One line for people: when, priority, rule, plates, devices, why."""
    plates = ", ".join(alert.plate_numbers) or "-"
    devices = ", ".join(alert.device_ids) or "-"
    why = alert.reason or ", ".join(f"{k}={v}" for k, v in sorted(alert.details.items()))
    late = " LATE" if alert.late else ""
    return (
        f"{rfc3339_millis(alert.occurred_at)} P{alert.priority} {alert.rule}{late} plates {plates} "
        f"devices {devices} ({why}) id {alert.alert_id}"
    )


def tail_alerts(
    settings: Settings,
    *,
    from_beginning: bool,
    rules: list[str] | None,
    as_json: bool,
    limit: int | None,
    idle_seconds: float | None,
    out: IO[str] | None = None,
) -> int:
    out = out or sys.stdout
    existing_topics(settings)  # a one-line error when the broker is not there
    wire = wire_format(settings)
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": f"{settings.app_id}.alerts-tail-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest" if from_beginning else "latest",
            "logger": LIBRDKAFKA_LOGGER,
        }
    )
    consumer.subscribe([settings.topic(topics.ALERTS.name)])
    printed = 0
    last = time.monotonic()
    try:
        while limit is None or printed < limit:
            message = consumer.poll(0.5)
            if message is None or message.error() is not None:
                if idle_seconds is not None and time.monotonic() - last > idle_seconds:
                    break
                continue
            last = time.monotonic()
            alert = wire.decode(message.value() or b"")
            if not isinstance(alert, Alert) or (rules and alert.rule not in rules):
                continue
            out.write((alert.model_dump_json() if as_json else describe(alert)) + "\n")
            out.flush()
            printed += 1
    finally:
        consumer.close()
    return 0
