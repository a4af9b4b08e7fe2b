"""Redelivering a batch exactly as it was cut, for stages whose outputs are deduplicated by batch.

A warehouse insert carries a token derived from its batch's offset ranges; the engine drops an
insert whose token it has seen, and so do the materialized views fed by it. After a crash between
an insert and its commit, the batch comes again, but the consumer cuts batches by size and time,
so the redelivered batch usually ends elsewhere: a new token, rows stored twice (harmless in
ReplacingMergeTree tables) and counted twice by the views (not harmless).

So before such a stage makes a batch durable, the runner commits the batch's *first* offsets (the
position already committed, nothing moves) with the batch's ranges as commit metadata: its
intent. The commit after the batch clears it. A consumer that is assigned partitions whose
committed metadata holds an intent first gathers exactly that batch again, setting aside what
lies beyond it, and hands it to the stage whole: same batch, same tokens, nothing counted twice.
If a rebalance split the batch's partitions between workers, each worker holding one of them
gathers its own part from its consumer and reads the others' ranges with a consumer of its own
(assigned, in no group, committing nothing): every holder lands the whole batch under the same
tokens, so whichever lands it first, the others' inserts are absorbed. Each commits only its own
partitions, stating the whole batch again, so a crash before that commit repeats the same
batch. When those ranges cannot be read (e.g. retention removed them), the batch goes on
without them, cut anew as before.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from confluent_kafka import Consumer, KafkaException, TopicPartition

__all__ = [
    "Gathered",
    "Intent",
    "Regather",
    "gather_again",
    "intent_metadata",
    "intent_to_regather",
    "parse_intent",
    "read_ranges",
]

log = logging.getLogger(__name__)

Partition = tuple[str, int]
# Per partition: the first and last offset of the batch.
Intent = dict[Partition, tuple[int, int]]

_PREFIX: Final = "batch:v1:"
# Kafka's default limit for commit metadata (offset.metadata.max.bytes) is 4096 bytes.
MAX_METADATA_BYTES: Final = 4096


def intent_metadata(intent: Mapping[Partition, tuple[int, int]]) -> str | None:
    """The commit metadata stating a batch's ranges; None when it would not fit."""
    ranges = [
        [topic, partition, first, last] for (topic, partition), (first, last) in intent.items()
    ]
    text = _PREFIX + json.dumps(sorted(ranges), separators=(",", ":"))
    return text if len(text.encode()) <= MAX_METADATA_BYTES else None


def parse_intent(metadata: str | None) -> Intent | None:
    """The ranges a commit's metadata states, or None (no intent, or not one of ours)."""
    if not metadata or not metadata.startswith(_PREFIX):
        return None
    try:
        ranges = json.loads(metadata[len(_PREFIX) :])
        intent: Intent = {}
        for topic, partition, first, last in ranges:
            if not (
                isinstance(topic, str) and all(isinstance(n, int) for n in (partition, first, last))
            ):
                return None
            if first > last:
                return None
            intent[topic, partition] = (first, last)
    except (ValueError, TypeError):
        return None
    return intent or None


def intent_to_regather(
    committed: Iterable[tuple[Partition, int, str | None]], assigned: Iterable[Partition]
) -> Intent | None:
    """The batch to gather again after an assignment, from each assigned partition's committed
    (partition, offset, metadata); None when there is none. The batch's partitions assigned
    elsewhere are read apart (:func:`read_ranges`); those assigned here must still stand at
    the batch's start."""
    mine = set(assigned)
    found: Intent | None = None
    offsets: dict[Partition, int] = {}
    for partition, offset, metadata in committed:
        offsets[partition] = offset
        intent = parse_intent(metadata)
        if intent is not None:
            if found is not None and intent != found:
                return None  # two intents: not one batch of this consumer's
            found = intent
    if found is None or not set(found) & mine:
        return None
    # Each partition read here must still stand at the batch's start, or the batch is not the
    # next one. (Where the others stand does not matter: their ranges are read apart.)
    if any(offsets.get(p) != first for p, (first, _last) in found.items() if p in mine):
        return None
    return found


@dataclass
class Regather:
    """Gathers the messages of one intended batch from what the consumer returns."""

    intent: Intent
    kept: list[Any] = field(default_factory=list)
    # Per partition, the first offset set aside: the consumer must be moved back there.
    rewind: dict[Partition, int] = field(default_factory=dict)
    _next: dict[Partition, int] = field(init=False)

    def __post_init__(self) -> None:
        self._next = {p: first for p, (first, _last) in self.intent.items()}

    def offer(self, messages: Sequence[Any]) -> None:
        """Take the batch's messages among ``messages``; set the others aside."""
        for message in messages:
            partition = (message.topic() or "", message.partition() or 0)
            offset = message.offset() or 0
            bounds = self.intent.get(partition)
            if bounds is not None and bounds[0] <= offset <= bounds[1]:
                self.kept.append(message)
                self._next[partition] = max(self._next[partition], offset + 1)
                continue
            beyond = bounds is None or offset > bounds[1]  # (before it: already committed)
            if beyond and offset < self.rewind.get(partition, offset + 1):
                self.rewind[partition] = offset

    @property
    def complete(self) -> bool:
        """Every partition of the batch read to its last offset."""
        return all(self._next[p] > last for p, (_first, last) in self.intent.items())

    def done(self) -> list[Partition]:
        """The partitions of the batch read to their last offset."""
        return [p for p, (_first, last) in self.intent.items() if self._next[p] > last]


@dataclass(frozen=True)
class Gathered:
    """A batch gathered again: its messages, and whether they are all of its intent."""

    messages: list[Any]
    whole: bool


def gather_again(
    intent: Intent,
    read: Sequence[Any],
    consume: Callable[[], list[Any]],
    seek: Callable[[TopicPartition], None],
    stopping: threading.Event,
    patience: float,
    stage: str,
    apart: Intent | None = None,
    read_apart: Callable[[Intent], list[Any] | None] | None = None,
) -> Gathered:
    """The messages of the intended batch: of ``intent`` (its ranges on the partitions assigned
    here) from ``read`` (already consumed) and ``consume``, and of ``apart`` (its ranges on
    partitions assigned to another worker) from ``read_apart``. What was read beyond the batch
    is sought back (``seek``) to be read again. Given up after ``patience`` seconds: the messages
    gathered go on as a batch of their own. When ``stopping`` is set first, nothing: the whole
    batch is left to the next start."""
    gather = Regather(intent)
    gather.offer([m for m in read if m.error() is None])
    deadline = time.monotonic() + patience
    while not gather.complete and time.monotonic() < deadline and not stopping.is_set():
        gather.offer([m for m in consume() if m.error() is None])
    rewind = dict(gather.rewind)
    left = not gather.complete and stopping.is_set()
    if left:
        rewind.update({p: first for p, (first, _last) in intent.items()})
    for (topic, partition), offset in rewind.items():
        try:
            seek(TopicPartition(topic, partition, offset))
        except KafkaException as exc:  # no longer assigned: its new owner reads it
            log.info("stage %s: %s[%d] not rewound (%s)", stage, topic, partition, exc)
    if left:
        return Gathered([], whole=False)
    if not gather.complete:
        log.warning(
            "stage %s: the unfinished batch could not be gathered again whole within %.0fs; "
            "%d of its records go on as a batch of their own",
            stage,
            patience,
            len(gather.kept),
        )
        return Gathered(gather.kept, whole=False)
    others: list[Any] | None = []
    if apart:
        others = read_apart(apart) if read_apart is not None else None
    if others is None:
        log.warning(
            "stage %s: the records of the unfinished batch on %s (now another worker's) could "
            "not be read; its %d records here go on as a batch of their own",
            stage,
            _names(apart or {}),
            len(gather.kept),
        )
        return Gathered(gather.kept, whole=False)
    log.info(
        "stage %s: the unfinished batch of %d records gathered again as it was cut%s",
        stage,
        len(gather.kept) + len(others),
        f", {len(others)} of them read from {_names(apart or {})}" if others else "",
    )
    return Gathered(gather.kept + others, whole=True)


def _names(ranges: Intent) -> str:
    return ", ".join(f"{topic}[{partition}]" for topic, partition in sorted(ranges))


def read_ranges(
    config: Mapping[str, Any], ranges: Intent, stopping: threading.Event, patience: float
) -> list[Any] | None:
    """The messages of ``ranges``, read by a consumer of their own: assigned the ranges' first
    offsets, in no group, committing nothing (the partitions belong to another worker). None
    when they could not all be read within ``patience`` seconds (e.g. retention removed them)
    or ``stopping`` was set first."""
    consumer = Consumer(
        {
            **config,
            "enable.auto.commit": False,
            # A first offset gone (retention) is an error here, never a jump to another record.
            "auto.offset.reset": "error",
            "enable.partition.eof": False,
        }
    )
    try:
        consumer.assign(
            [TopicPartition(t, p, first) for (t, p), (first, _last) in sorted(ranges.items())]
        )
        gather = Regather(ranges)
        paused: set[Partition] = set()
        deadline = time.monotonic() + patience
        while not gather.complete:
            if time.monotonic() > deadline or stopping.is_set():
                return None
            messages = consumer.consume(1000, timeout=0.2)
            for message in messages:
                error = message.error()
                if error is not None:
                    log.warning("reading %s apart: %s", _names(ranges), error)
                    return None
            gather.offer(messages)
            done = [p for p in gather.done() if p not in paused]
            if done:  # read no further than the batch
                consumer.pause([TopicPartition(t, p) for t, p in done])
                paused.update(done)
        return gather.kept
    finally:
        consumer.close()
