"""Dead letters: payloads a stage could not use, kept whole with a reason; and the guard that
stops a worker whose feed has gone bad instead of letting it drain into the dead-letter topic."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from streams.canonical import DeadLetter, MessageHeader
from streams.canonical.models import construct

if TYPE_CHECKING:
    from streams.codecs.wire import WireFormat
    from streams.publisher import Publisher


@dataclass(frozen=True, slots=True)
class Position:
    """Where a payload was read from."""

    topic: str
    partition: int
    offset: int


def dead_letter(
    *,
    stage: str,
    reason: str,
    payload: bytes,
    failed_at: datetime,
    source: str | None = None,
    position: Position | None = None,
    key: bytes | None = None,
    headers: Sequence[tuple[str, bytes | None]] = (),
    index: int = 0,
) -> DeadLetter:
    """A dead letter whose id is stable for the same position (and record index within it)."""
    if position is not None:
        ident = f"{position.topic}:{position.partition}:{position.offset}:{index}"
    else:
        import hashlib

        ident = f"{stage}:{hashlib.blake2b(payload, digest_size=16).hexdigest()}:{index}"
    return construct(
        DeadLetter,
        {
            "dead_letter_id": ident,
            "stage": stage,
            "reason": reason,
            "source": source,
            "topic": position.topic if position else None,
            "partition": position.partition if position else None,
            "offset": position.offset if position else None,
            "key": key,
            "payload": payload,
            "headers": [construct(MessageHeader, {"key": k, "value": v}) for k, v in headers],
            "failed_at": failed_at.replace(microsecond=failed_at.microsecond // 1000 * 1000),
        },
    )


def of_message(
    message: Any,
    *,
    stage: str,
    reason: str,
    failed_at: datetime,
    source: str | None = None,
    index: int = 0,
) -> DeadLetter:
    """The dead letter of a consumed message (confluent-kafka ``Message``): its bytes, key,
    headers and position."""
    return dead_letter(
        stage=stage,
        reason=reason,
        source=source,
        payload=message.value() or b"",
        failed_at=failed_at,
        position=Position(message.topic(), message.partition(), message.offset()),
        key=message.key(),
        headers=list(message.headers() or ()),
        index=index,
    )


def publish(publisher: Publisher, wire: WireFormat, topic: str, letter: DeadLetter) -> None:
    """Produce a dead letter to the dead-letter ``topic``, keyed by the topic it came from."""
    publisher.produce(topic, wire.encode(letter, topic), (letter.topic or "").encode())


class DeadLetterRatio:
    """Share of dead-lettered payloads among the last ``window`` payloads of one feed.

    ``record`` returns a message when the share exceeds ``limit`` once at least ``minimum``
    payloads were seen: the caller stops, so a broken feed is noticed instead of drained.
    """

    def __init__(self, limit: float, window: int = 1000, minimum: int = 100) -> None:
        self.limit = limit
        self.minimum = min(minimum, window)
        self._recent: deque[bool] = deque(maxlen=window)
        self._bad = 0

    def record(self, dead: bool) -> str | None:
        if len(self._recent) == self._recent.maxlen and self._recent[0]:
            self._bad -= 1
        self._recent.append(dead)
        self._bad += dead
        seen = len(self._recent)
        if seen >= self.minimum and self._bad / seen > self.limit:
            return (
                f"{self._bad} of the last {seen} payloads were dead-lettered "
                f"({self._bad / seen:.0%} > limit {self.limit:.0%})"
            )
        return None

    @property
    def ratio(self) -> float:
        return self._bad / len(self._recent) if self._recent else 0.0
