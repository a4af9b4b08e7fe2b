"""Each benchmark run in isolation: its own topics, consumer groups, state and warehouse, all
removed when it ends, so repeated runs leave nothing behind in the broker or on disk."""

from __future__ import annotations

import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from streams.settings import Settings


def isolated_settings(settings: Settings) -> tuple[Settings, Path]:
    """Settings for one benchmark run: its own topics, consumer groups and warehouse."""
    run = uuid.uuid4().hex[:8]
    state = Path(tempfile.mkdtemp(prefix="streams-bench-"))
    isolated = settings.model_copy(
        update={
            "topic_prefix": f"bench{run}.",
            "app_id": f"bench-{run}",
            "data_dir": state / "faust",
            "warehouse_url": f"chdb://{state / 'warehouse'}",
            "archive_raw": False,
        }
    )
    return isolated, state


@contextmanager
def isolated_run(settings: Settings) -> Iterator[tuple[Settings, Path]]:
    """``isolated_settings``, and afterwards the run's topics deleted and its directory
    removed, however the run ended."""
    isolated, state = isolated_settings(settings)
    try:
        yield isolated, state
    finally:
        delete_run_topics(isolated)
        shutil.rmtree(state, ignore_errors=True)


def delete_run_topics(settings: Settings) -> None:
    """Every topic of an isolated run: those under its prefix, and those named after its
    consumer groups (a peer's internal topics)."""
    from streams.kafka_admin import admin_client

    run = settings.app_id
    try:
        admin = admin_client(settings)
        names = [
            t
            for t in admin.list_topics(timeout=10).topics
            if t.startswith(settings.topic_prefix) or run in t
        ]
        if names:
            for future in admin.delete_topics(names, operation_timeout=30).values():
                future.result()
    except Exception as exc:  # clean-up only: the numbers stand
        print(f"note: could not delete the benchmark's topics: {exc}", file=sys.stderr)
