"""How the main job waits at its prompt: Ctrl-C stops it cleanly even when a backbone process
ends with the same signal first; a process that ends on its own is an error."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from loadtest.backbone import BackboneError
from streams import demo


def test_a_process_ended_by_the_same_ctrl_c_is_no_error() -> None:
    def gateway_gone_then_signal() -> None:
        # The terminal's SIGINT ended the gateway first; ours is seen a moment later.
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
        raise BackboneError("the gateway exited (0)")

    started = time.monotonic()
    demo.wait_for_stop(gateway_gone_then_signal, every=0.01)  # returns, raises nothing
    assert time.monotonic() - started < demo.SIGNAL_GRACE_SECONDS


def test_a_process_that_ends_on_its_own_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "SIGNAL_GRACE_SECONDS", 0.05)

    def worker_crashed() -> None:
        raise BackboneError("the worker exited (1)")

    with pytest.raises(BackboneError, match="worker exited"):
        demo.wait_for_stop(worker_crashed, every=0.01)


def test_the_signal_handlers_are_given_back() -> None:
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)

    def stop_at_once() -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    demo.wait_for_stop(stop_at_once, every=0.01)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
