"""The gateway's breaker: pushes turned away at once while the broker does not acknowledge."""

from __future__ import annotations

from streams.gateway.producer import BrokerBreaker


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_closed_until_a_push_fails_then_open_for_the_cooldown() -> None:
    clock = _Clock()
    breaker = BrokerBreaker(cooldown=5, clock=clock)
    assert [breaker.admit() for _ in range(3)] == [True, True, True]
    breaker.failed()
    clock.now += 4.9
    assert not breaker.admit()


def test_after_the_cooldown_one_push_tries_and_its_outcome_decides() -> None:
    clock = _Clock()
    breaker = BrokerBreaker(cooldown=5, clock=clock)
    breaker.failed()
    clock.now += 5
    assert breaker.admit()  # the one that tries
    assert not breaker.admit()  # the others wait for it
    breaker.failed()  # still down: open again for the cooldown
    clock.now += 1
    assert not breaker.admit()
    clock.now += 4
    assert breaker.admit()
    breaker.delivered()  # back: closed
    assert [breaker.admit() for _ in range(3)] == [True, True, True]


def test_a_try_that_met_a_full_queue_lets_another_try() -> None:
    clock = _Clock()
    breaker = BrokerBreaker(cooldown=5, clock=clock)
    breaker.failed()
    clock.now += 6
    assert breaker.admit()
    breaker.released()
    assert breaker.admit()
