"""Normalize + dedup written with Quix Streams: the peer of ``streams bench side-by-side``.

    raw.<source> (6 topics) -> normalize -> peer.captures (keyed by device)
    peer.captures -> dedup (Quix state per device) -> peer.unique.{plate,face,alarm}

What it shares with ours: the vendor adapters (``streams.vendors.normalize``) with the worker's
context, and the Avro wire format of the canonical topics (``streams.codecs.wire``).

Its dedup, on Quix's own state store (RocksDB with a change-log topic, scoped to the message key,
i.e. the device), entries kept for a span of event time (Quix's state TTL, measured on the
message timestamp, the received time):

- an event id seen at the device within ``dedup_memory_minutes`` is an exact duplicate;
- a read whose group (plate number; face track; alarm channel, type, vendor type, rule and state)
  was read at the device less than a window before or after it (``plate_window_seconds``, faces
  ``face_window_seconds``) is a near duplicate; a run of reads each within a window of the
  previous is one group.

The first read of a group is passed on at once, as its input bytes. Unlike ours it does not hold
a group until its window closes to pass on the best read with the ids it absorbed, does not fold
OCR-confusable plates or look at lanes, has no lateness rule, and no watchlist, person-vehicle
or repartition outputs. Payloads the adapters reject are counted, not sent to a dead-letter topic.

One application, one consumer: the normalize and dedup dataframes run together as with a Quix
``group_by``, Quix handing out the messages of co-partitioned topics in timestamp order. Commits,
producer and fetch settings are ours. Runs until SIGTERM; counters go to a JSON file
(``--stats``) every 50 ms.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from streams.canonical import Alarm, CanonicalEvent, FaceCapture, PlateCapture
from streams.codecs.wire import wire_format
from streams.publisher import producer_config
from streams.settings import Settings, load_settings
from streams.topics import SOURCES, raw_topic_name
from streams.vendors import normalize
from streams.vendors.base import RawPayload
from streams.worker_context import normalize_context

CAPTURES = "peer.captures"
_CLIENT_ONLY = ("bootstrap.servers", "logger")  # Quix sets its own
UNIQUE = {kind: f"peer.unique.{kind}" for kind in ("plate", "face", "alarm")}


@dataclass
class Counters:
    raw_in: int = 0
    events_out: int = 0
    dead_letters: int = 0
    captures_in: int = 0
    unique_out: int = 0
    duplicates: int = 0


def peer_topics() -> list[str]:
    """The topology names the peer writes (before the settings' prefix)."""
    return [CAPTURES, *UNIQUE.values()]


def _normalizer(
    settings: Settings, source: str, counters: Counters
) -> Callable[[bytes, Any, int, Any], list[tuple[str, bytes]]]:
    ctx = normalize_context(settings)
    wire = wire_format(settings)
    captures = settings.topic(CAPTURES)

    def step(value: bytes, key: Any, timestamp: int, headers: Any) -> list[tuple[str, bytes]]:
        content_type = None
        for name, header in headers or ():
            if name == "content-type" and header:
                content_type = header.decode("latin-1")
        raw = RawPayload(
            source=source,
            body=value or b"",
            received_at=datetime.fromtimestamp(timestamp / 1000, tz=UTC),
            key=key.decode("utf-8", "replace") if key else None,
            content_type=content_type,
        )
        counters.raw_in += 1
        result = normalize(raw, ctx)
        counters.dead_letters += len(result.rejected)
        out = [(event.device_id, wire.encode(event, captures)) for event in result.events]
        counters.events_out += len(out)
        return out

    return step


def _group(event: CanonicalEvent) -> str:
    if isinstance(event, PlateCapture):
        return f"p|{event.plate_number or '?'}"
    if isinstance(event, FaceCapture):
        return f"f|{event.track_id or event.event_id}"
    assert isinstance(event, Alarm)
    return "|".join(
        (
            "a",
            str(event.channel),
            event.alarm_type.value,
            event.vendor_event_type,
            event.rule_name or "",
            event.state.value,
        )
    )


def _deduplicator(
    settings: Settings, counters: Counters
) -> Callable[[bytes, Any], tuple[str, bytes] | None]:
    wire = wire_format(settings)
    memory = timedelta(minutes=settings.dedup_memory_minutes)
    remembered = memory.total_seconds()
    windows = {
        "plate": settings.plate_window_seconds,
        "face": settings.face_window_seconds,
        "alarm": settings.plate_window_seconds,
    }

    def step(value: bytes, state: Any) -> tuple[str, bytes] | None:
        counters.captures_in += 1
        event = wire.decode(value)
        assert isinstance(event, PlateCapture | FaceCapture | Alarm)
        if state.exists(event.event_id):
            counters.duplicates += 1
            return None
        state.set(event.event_id, 1, ttl=memory)
        # The group's recent capture times, in arrival order: reads of a device may arrive out
        # of capture order, so a read is near any of them, before or after it.
        group = _group(event)
        window = windows[event.kind]
        captured = event.captured_at.timestamp()
        times: list[float] = state.get(group) or []
        near = any(abs(captured - t) < window for t in times)
        kept = [t for t in times if abs(captured - t) < remembered]
        state.set(group, [*kept, captured], ttl=memory)
        if near:
            counters.duplicates += 1
            return None
        counters.unique_out += 1
        return event.kind, value

    return step


def _pair_serializer() -> Any:
    from quixstreams.models.serializers import (  # type: ignore[import-not-found, unused-ignore]
        Serializer,
    )

    class SecondOfPair(Serializer):  # type: ignore[misc, unused-ignore]
        """Values travel as (routing, bytes) pairs: the bytes are what is produced."""

        def __call__(self, value: tuple[str, bytes], ctx: Any) -> bytes:
            return value[1]

    return SecondOfPair()


def build_app(settings: Settings, group: str, state_dir: Path, counters: Counters) -> Any:
    """The Quix application: six normalize dataframes and one dedup dataframe."""
    # Imported here: the benchmark reads this module's topic names without Quix installed.
    from quixstreams import Application  # type: ignore[import-not-found, unused-ignore]
    from quixstreams.models import TopicConfig  # type: ignore[import-not-found, unused-ignore]

    app = Application(
        broker_address=settings.kafka_bootstrap_servers,
        consumer_group=group,
        auto_offset_reset="earliest",
        commit_interval=settings.stage_checkpoint_seconds,  # ours commits this often too
        state_dir=str(state_dir),
        # Our producer settings (streams.publisher) and our stages' fetch wait.
        producer_extra_config={
            k: v for k, v in producer_config(settings).items() if k not in _CLIENT_ONLY
        },
        consumer_extra_config={
            "fetch.wait.max.ms": max(10, int(settings.stage_batch_wait_seconds * 1000))
        },
        loglevel="WARNING",
    )
    config = TopicConfig(
        num_partitions=settings.topic_partitions,
        replication_factor=settings.topic_replication_factor,
    )
    captures = app.topic(
        settings.topic(CAPTURES),
        key_serializer="str",
        value_serializer=_pair_serializer(),
        key_deserializer="str",
        value_deserializer="bytes",
        config=config,
    )
    for source in SOURCES:
        raw = app.topic(
            settings.topic(raw_topic_name(source)),
            key_deserializer="bytes",
            value_deserializer="bytes",
            config=config,
        )
        sdf = app.dataframe(raw)
        sdf = sdf.apply(_normalizer(settings, source, counters), expand=True, metadata=True)
        sdf.to_topic(captures, key=lambda pair: pair[0])
    unique = {
        kind: app.topic(
            settings.topic(name),
            key_serializer="str",
            value_serializer=_pair_serializer(),
            config=config,
        )
        for kind, name in UNIQUE.items()
    }
    dedup = app.dataframe(captures)
    dedup = dedup.apply(_deduplicator(settings, counters), stateful=True)
    dedup = dedup.filter(lambda kept: kept is not None)
    dedup.to_topic(lambda value, _key, _timestamp, _headers: unique[value[0]])
    return app


def _report(counters: Counters, path: Path, stop: threading.Event) -> None:
    scratch = path.with_suffix(".tmp")
    while not stop.wait(0.05):
        scratch.write_text(json.dumps(asdict(counters)))
        scratch.replace(path)  # readers never see half a file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--group", required=True, help="consumer group")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--stats", type=Path, required=True, help="JSON counters file")
    args = parser.parse_args(argv)
    settings = load_settings()  # topics, windows and broker from STREAMS_* as for ours
    counters = Counters()
    stop = threading.Event()
    reporter = threading.Thread(target=_report, args=(counters, args.stats, stop), daemon=True)
    reporter.start()
    try:
        build_app(settings, args.group, args.state_dir, counters).run()
    finally:
        stop.set()
        reporter.join(1)
        args.stats.write_text(json.dumps(asdict(counters)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
