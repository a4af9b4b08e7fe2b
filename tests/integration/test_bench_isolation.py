"""A benchmark run leaves nothing behind: its topics are deleted and its directory removed,
also when the run fails. Real broker."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from streams.bench.isolation import isolated_run
from streams.kafka_admin import admin_client, ensure_topics
from streams.settings import Settings

pytestmark = pytest.mark.integration


def _topics_of(settings: Settings) -> list[str]:
    listed = admin_client(settings).list_topics(timeout=10).topics
    return [t for t in listed if t.startswith(settings.topic_prefix)]


def _gone(settings: Settings) -> bool:
    """The run's topics are gone from the broker's metadata (deletion is asynchronous there)."""
    deadline = time.monotonic() + 30
    while _topics_of(settings):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_a_run_leaves_no_topic_and_no_directory(settings: Settings) -> None:
    with isolated_run(settings) as (isolated, state):
        assert isolated.topic_prefix != settings.topic_prefix
        assert str(state) in isolated.warehouse_url
        ensure_topics(isolated)
        (state / "worker.log").write_text("a run's log\n")
        assert _topics_of(isolated)
    assert not state.exists()
    assert _gone(isolated)


def test_a_failed_run_is_cleaned_up_too(settings: Settings) -> None:
    seen: list[tuple[Settings, Path]] = []

    def failing_run() -> None:
        with isolated_run(settings) as (isolated, state):
            seen.append((isolated, state))
            ensure_topics(isolated)
            raise RuntimeError("the worker did not start")

    with pytest.raises(RuntimeError, match="the worker did not start"):
        failing_run()
    [(isolated, state)] = seen
    assert not state.exists()
    assert _gone(isolated)
