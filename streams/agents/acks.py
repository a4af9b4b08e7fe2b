"""Acknowledging a batch only once its results are safe."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def withhold_acks(events: Sequence[Any]) -> None:
    """Keep a batch whose results are not safe from being committed when the worker stops.

    ``take_events`` acks its batch when the loop body is left, even by an exception or by
    cancellation. Marking the messages acked here bypasses the consumer's bookkeeping, so their
    offsets stay a gap that the commit cannot pass, and the batch is redelivered on the next start.
    """
    for event in events:
        event.message.acked = True
