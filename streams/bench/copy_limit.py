"""The limit of ``streams bench side-by-side``: a bare confluent-kafka loop that copies every
raw message as it is (value, key, headers, timestamp) to the same partition of an output topic.

No decoding and no processing, but the same client work as a stage: batches of
``stage_batch_size`` consumed, the producer settings of ours (``streams.publisher``), and every
``stage_checkpoint_seconds`` a checkpoint: outputs acknowledged, then offsets committed. What is
left is what one Python process moves through this broker.

Run as ``python -m streams.bench.copy_limit --group G --stats FILE`` with the STREAMS_*
environment; copies ``raw.<source>`` to ``limit.raw.<source>`` until SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

from streams.settings import Settings, load_settings
from streams.topics import SOURCES, raw_topic_name

OUTPUT_PREFIX = "limit."


def output_topics() -> list[str]:
    """The topology names the limit writes (before the settings' prefix)."""
    return [OUTPUT_PREFIX + raw_topic_name(source) for source in SOURCES]


def copy_loop(settings: Settings, group: str, stats: Path) -> None:
    from confluent_kafka import Consumer, Producer, TopicPartition

    from streams.kafka_admin import LIBRDKAFKA_LOGGER
    from streams.publisher import producer_config

    inputs = {
        settings.topic(raw_topic_name(s)): settings.topic(OUTPUT_PREFIX + raw_topic_name(s))
        for s in SOURCES
    }
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": max(10, int(settings.stage_batch_wait_seconds * 1000)),
            "logger": LIBRDKAFKA_LOGGER,
        }
    )
    # Our producer settings, without the per-message delivery callback of our Publisher: a
    # failed delivery shows as a missing copy.
    producer = Producer(producer_config(settings))
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    consumed = 0
    pending: dict[tuple[str, int], int] = {}
    checkpointed = reported = time.monotonic()
    consumer.subscribe(list(inputs))
    try:
        while not stopping:
            for message in consumer.consume(
                settings.stage_batch_size, timeout=settings.stage_batch_wait_seconds
            ):
                topic = message.topic()
                partition = message.partition()
                offset = message.offset()
                if message.error() is not None or topic is None or partition is None:
                    continue
                while True:
                    try:
                        producer.produce(
                            inputs[topic],
                            message.value(),
                            message.key(),
                            partition=partition,
                            headers=message.headers(),
                            timestamp=message.timestamp()[1],
                        )
                        break
                    except BufferError:
                        producer.poll(0.05)
                pending[(topic, partition)] = offset or 0
                consumed += 1
            producer.poll(0)
            now = time.monotonic()
            if pending and now - checkpointed >= settings.stage_checkpoint_seconds:
                _flush(producer)
                consumer.commit(
                    offsets=[TopicPartition(t, p, o + 1) for (t, p), o in pending.items()],
                    asynchronous=False,
                )
                pending.clear()
                checkpointed = now
            if now - reported >= 0.02:
                _write(stats, consumed, producer)
                reported = now
        _flush(producer)
        _write(stats, consumed, producer)
    finally:
        consumer.close()


def _flush(producer: Any) -> None:
    if producer.flush(300):
        raise RuntimeError("copies not acknowledged by the broker within 300 s")


def _write(path: Path, consumed: int, producer: Any) -> None:
    # Acknowledged: produced minus what librdkafka still holds (queued or in flight).
    acknowledged = consumed - len(producer)
    counters = {
        "consumed": consumed,
        "acknowledged": acknowledged,
        "at": time.monotonic(),  # the same clock as the benchmark's (system-wide)
        "cpu": time.process_time(),  # every thread of this process, to the nanosecond
    }
    scratch = path.with_suffix(".tmp")
    scratch.write_text(json.dumps(counters))
    scratch.replace(path)  # readers never see half a file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="copy raw topics as they are (the limit)")
    parser.add_argument("--group", required=True, help="consumer group")
    parser.add_argument("--stats", type=Path, required=True, help="JSON counters file")
    args = parser.parse_args(argv)
    copy_loop(load_settings(), args.group, args.stats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
