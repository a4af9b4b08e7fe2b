"""Static group membership through the real broker: a worker restarted under its name takes its
partitions back without disturbing the others, and two workers of one name are refused."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from streams.kafka_admin import ensure_topics
from streams.settings import Settings
from tests.conftest import free_port
from tests.integration.worker_process import WorkerProcess

pytestmark = pytest.mark.integration

STAGE = "dedup"


def _worker(settings: Settings, tmp_path: Path, name: str | None, n: int) -> WorkerProcess:
    own = settings.model_copy(
        update={
            "worker_stages": STAGE,
            "worker_instance_id": name,
            "stage_session_timeout_seconds": 30.0,
            "web_port": free_port(),
            "data_dir": tmp_path / f"faust-{n}",
            # The embedded warehouse allows one process per path.
            "warehouse_url": f"chdb://{tmp_path / f'warehouse-{n}'}",
        }
    )
    return WorkerProcess(own, tmp_path / f"worker-{n}.log")


def _assignments(worker: WorkerProcess) -> int:
    _status, stats = worker.get("/stats")
    return int(stats["counters"].get("streams_stage_assignments_total", {}).get(STAGE, 0))


def _settled(worker: WorkerProcess, at_least: int) -> int:
    """The worker's assignment count once it has reached ``at_least`` and held for 5 s."""
    worker.wait_for(lambda: _assignments(worker) >= at_least, 60, f"assigned {at_least} times")
    count, since = _assignments(worker), time.monotonic()
    while time.monotonic() - since < 5:
        time.sleep(0.5)
        now = _assignments(worker)
        if now != count:
            count, since = now, time.monotonic()
    return count


def _restart_of_the_other_disturbs(
    settings: Settings, tmp_path: Path, names: tuple[str | None, str | None]
) -> int:
    """Rebalances the steady worker went through while the other was killed and restarted."""
    ensure_topics(settings)
    started: list[WorkerProcess] = []
    try:
        steady = _worker(settings, tmp_path, names[0], 0).start()
        started.append(steady)
        other = _worker(settings, tmp_path, names[1], 1).start()
        started.append(other)
        before = _settled(steady, 2)  # its start, and the other joining
        _settled(other, 1)
        assert other.process is not None
        other.process.kill()  # a crash: no goodbye to the group
        other.process.wait()
        restarted = _worker(settings, tmp_path, names[1], 2).start()
        started.append(restarted)
        _settled(restarted, 1)
        return _settled(steady, before) - before
    finally:
        for worker in reversed(started):
            worker.stop()


def test_a_worker_restarted_under_its_name_disturbs_no_other(
    settings: Settings, tmp_path: Path
) -> None:
    assert _restart_of_the_other_disturbs(settings, tmp_path, ("worker-a", "worker-b")) == 0


def test_without_names_the_same_restart_rebalances_the_others(
    settings: Settings, tmp_path: Path
) -> None:
    # The control: dynamic members see the restarted worker as a new one.
    assert _restart_of_the_other_disturbs(settings, tmp_path, (None, None)) >= 1


def test_two_workers_of_one_name_stop_the_older_with_a_clear_message(
    settings: Settings, tmp_path: Path
) -> None:
    ensure_topics(settings)
    older = _worker(settings, tmp_path, "twin", 0).start()
    newer = _worker(settings, tmp_path, "twin", 1).start()
    try:
        assert older.process is not None
        older.process.wait(60)
        assert older.process.returncode != 0
        assert "another worker joined under the same STREAMS_WORKER_INSTANCE_ID" in (
            older.log.read_text(errors="replace")
        )
        assert newer.process is not None
        assert newer.process.poll() is None
    finally:
        newer.stop()
        older.stop()
