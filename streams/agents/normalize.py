"""raw.<source> -> captures.plate / captures.face / captures.alarm, and deadletter.

Each batch: every payload goes through its vendor adapter (``streams.vendors.normalize``);
events are produced Avro-encoded, keyed by device; what an adapter rejects is produced to the
dead-letter topic with its bytes and reason. The batch is acknowledged only after the broker
confirmed all of it. A feed whose recent payloads are mostly dead letters stops the worker.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from streams import topics
from streams.agents.acks import withhold_acks
from streams.app import RAW_INPUT, SETTINGS, SOURCE_BY_RAW_TOPIC, app
from streams.canonical import CanonicalEvent
from streams.codecs.avro import encode
from streams.deadletters import DeadLetterRatio, Position, dead_letter
from streams.metrics import COUNTERS, Metric
from streams.publisher import Publisher
from streams.vendors import normalize
from streams.vendors.base import Context, RawPayload
from streams.worker_context import normalize_context

log = logging.getLogger(__name__)

STAGE = "normalize"
OUTPUT = {
    "plate": SETTINGS.topic(topics.PLATE_CAPTURES.name),
    "face": SETTINGS.topic(topics.FACE_CAPTURES.name),
    "alarm": SETTINGS.topic(topics.ALARMS.name),
}
DEAD_LETTERS = SETTINGS.topic(topics.DEAD_LETTERS.name)


class FeedBroken(RuntimeError):
    """Too many of a feed's recent payloads were dead letters."""


def raw_payload(message: Any) -> RawPayload:
    headers = dict(message.headers or ())
    content_type = headers.get("content-type")
    return RawPayload(
        source=SOURCE_BY_RAW_TOPIC.get(message.topic, "unknown"),
        body=message.value or b"",
        received_at=datetime.fromtimestamp(message.timestamp, tz=UTC),
        key=message.key.decode("utf-8", "replace") if message.key else None,
        content_type=content_type.decode("latin-1") if content_type else None,
    )


class NormalizeStep:
    """Normalizes batches of raw messages and publishes the results (kept apart from faust)."""

    def __init__(self, publisher: Publisher, ctx: Context, max_ratio: float, window: int) -> None:
        self.publisher = publisher
        self.ctx = ctx
        self.ratios: dict[str, DeadLetterRatio] = {}
        self.max_ratio = max_ratio
        self.window = window

    def _publish_event(self, event: CanonicalEvent) -> None:
        self.publisher.produce(OUTPUT[event.kind], encode(event), event.device_id.encode())
        COUNTERS.add(Metric.CANONICAL_EVENTS_OUT, event.kind)

    def process(self, messages: Sequence[Any]) -> str | None:
        """Publish the batch's results; return why to stop, if a feed broke."""
        broken: str | None = None
        for message in messages:
            raw = raw_payload(message)
            COUNTERS.add(Metric.RAW_EVENTS_IN, raw.source)
            result = normalize(raw, self.ctx)
            for event in result.events:
                self._publish_event(event)
            position = Position(message.topic, message.partition, message.offset)
            for index, rejected in enumerate(result.rejected):
                letter = dead_letter(
                    stage=STAGE,
                    reason=rejected.reason,
                    source=raw.source,
                    # The whole body, so a replay after a fix sees what the gateway received;
                    # the reason names the record that failed.
                    payload=raw.body,
                    failed_at=datetime.now(UTC),
                    position=position,
                    key=message.key,
                    headers=list(message.headers or ()),
                    index=index,
                )
                self.publisher.produce(DEAD_LETTERS, encode(letter), message.topic.encode())
                COUNTERS.add(Metric.DEAD_LETTERS, raw.source)
            if result.skipped is not None:
                COUNTERS.add(Metric.SKIPPED, raw.source)
            ratio = self.ratios.setdefault(raw.source, DeadLetterRatio(self.max_ratio, self.window))
            verdict = ratio.record(bool(result.rejected) and not result.events)
            if verdict is not None and broken is None:
                broken = (
                    f"feed {raw.source}: {verdict}; stopping. Fix the feed, or raise "
                    "STREAMS_DEAD_LETTER_MAX_RATIO; its dead letters are on " + DEAD_LETTERS
                )
        return broken


@app.agent(RAW_INPUT, name="normalize")
async def normalize_agent(stream: Any) -> None:
    step = NormalizeStep(
        Publisher(SETTINGS),
        normalize_context(SETTINGS),
        SETTINGS.dead_letter_max_ratio,
        SETTINGS.dead_letter_window,
    )
    async for events in stream.take_events(SETTINGS.sink_batch_size, SETTINGS.sink_flush_seconds):
        try:
            broken = step.process([e.message for e in events])
            await step.publisher.flush()
        except BaseException:
            withhold_acks(events)
            raise
        if broken is not None:
            log.critical(broken)
            await app.crash(FeedBroken(broken))
