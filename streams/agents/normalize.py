"""raw.<source> -> captures.plate / captures.face / captures.alarm, and deadletter.

Every payload goes through its vendor adapter (``streams.vendors.normalize``); events are
produced Avro-encoded, keyed by device; what an adapter rejects goes to the dead-letter topic with
the payload's bytes, key, headers, position and the reason. A feed whose recent payloads are
mostly dead letters stops the worker once its batch is committed.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from streams import deadletters, topics
from streams.codecs.confluent import RegistryError
from streams.codecs.wire import WireFormat
from streams.deadletters import DeadLetterRatio
from streams.metrics import COUNTERS, Metric
from streams.publisher import Publisher
from streams.settings import Settings
from streams.vendors import normalize
from streams.vendors.base import Context, RawPayload

STAGE = "normalize"


class FeedBroken(RuntimeError):
    """Too many of a feed's recent payloads were dead letters."""


def raw_payload(source: str, message: Any) -> RawPayload:
    """The adapter input of one raw message (a confluent-kafka Message)."""
    headers = message.headers()
    content_type = None
    if headers:
        for name, value in headers:
            if name == "content-type" and value:
                content_type = value.decode("latin-1")
    key = message.key()
    _kind, millis = message.timestamp()
    return RawPayload(
        source=source,
        body=message.value() or b"",
        received_at=datetime.fromtimestamp(millis / 1000, tz=UTC),
        key=key.decode("utf-8", "replace") if key else None,
        content_type=content_type,
    )


class NormalizeStage:
    name = STAGE

    def __init__(
        self, settings: Settings, publisher: Publisher, ctx: Context, wire: WireFormat | None = None
    ) -> None:
        self.publisher = publisher
        self.wire = wire or WireFormat()
        self.ctx = ctx
        self.max_ratio = settings.dead_letter_max_ratio
        self.window = settings.dead_letter_window
        self.ratios: dict[str, DeadLetterRatio] = {}
        self.broken: str | None = None
        self.source_by_topic = {settings.topic(s.name): src for src, s in topics.RAW.items()}
        self.topics: Sequence[str] = sorted(self.source_by_topic)
        self.batch_size = settings.stage_batch_size
        self.batch_wait = settings.stage_batch_wait_seconds
        self.checkpoint_seconds = settings.stage_checkpoint_seconds
        self.output = {
            "plate": settings.topic(topics.PLATE_CAPTURES.name),
            "face": settings.topic(topics.FACE_CAPTURES.name),
            "alarm": settings.topic(topics.ALARMS.name),
        }
        self.dead_letters = settings.topic(topics.DEAD_LETTERS.name)

    def process(self, messages: Sequence[Any]) -> None:
        produce = self.publisher.produce
        for message in messages:
            source = self.source_by_topic.get(message.topic(), "unknown")
            raw = raw_payload(source, message)
            COUNTERS.add(Metric.RAW_EVENTS_IN, source)
            result = normalize(raw, self.ctx)
            reasons = [r.reason for r in result.rejected]
            for event in result.events:
                try:
                    value = self.wire.encode(event, self.output[event.kind])
                except RegistryError:
                    raise  # not bad data: the worker stops, and the payload is read again
                except ValueError as exc:  # a value the wire format cannot carry: lose nothing
                    reasons.append(f"{source}: event {event.event_id} cannot be encoded: {exc}")
                    continue
                produce(self.output[event.kind], value, event.device_id.encode())
                COUNTERS.add(Metric.CANONICAL_EVENTS_OUT, (source, event.kind))
            if reasons:
                self._dead_letters(source, message, reasons)
            if result.skipped is not None:
                COUNTERS.add(Metric.SKIPPED, source)
            if result.clock_ahead:
                COUNTERS.add(Metric.CLOCK_AHEAD, source, result.clock_ahead)
            ratio = self.ratios.get(source)
            if ratio is None:
                ratio = self.ratios[source] = DeadLetterRatio(self.max_ratio, self.window)
            verdict = ratio.record(bool(result.rejected) and not result.events)
            if verdict is not None and self.broken is None:
                self.broken = (
                    f"feed {source}: {verdict}; stopping. Fix the feed or raise "
                    f"STREAMS_DEAD_LETTER_MAX_RATIO; its dead letters are on {self.dead_letters}"
                )

    def _dead_letters(self, source: str, message: Any, reasons: list[str]) -> None:
        failed_at = datetime.now(UTC)
        for index, reason in enumerate(reasons):
            # The whole body, so a replay after a fix sees what the gateway received; the
            # reason names the record that failed.
            letter = deadletters.of_message(
                message, stage=STAGE, reason=reason, failed_at=failed_at, source=source, index=index
            )
            deadletters.publish(self.publisher, self.wire, self.dead_letters, letter)
            COUNTERS.add(Metric.DEAD_LETTERS, source)

    def flush(self, stopping: threading.Event) -> None:
        self.publisher.flush_sync(timeout=300)

    def after_commit(self) -> None:
        if self.broken is not None:
            raise FeedBroken(self.broken)
