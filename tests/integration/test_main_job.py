"""The README's first command end to end (a smaller city than the default, same code path):
``streams demo --exit --json``, and ``streams loadtest`` with its report and verdicts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.integration


def _env(tmp_path: Path) -> dict[str, str]:
    """Its own broker, ports and local folder: the demo starts what it needs, like a user's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMS_")}
    env.update(
        STREAMS_LOCAL_DIR=str(tmp_path / "local"),
        STREAMS_LOCAL_KAFKA_PORT=str(free_port()),
        STREAMS_WAREHOUSE_URL=f"chdb://{tmp_path / 'warehouse'}",
        STREAMS_DATA_DIR=str(tmp_path / "worker"),
        STREAMS_WEB_PORT=str(free_port()),
        STREAMS_API_PORT=str(free_port()),
        STREAMS_GATEWAY_PORT=str(free_port()),
    )
    return env


@pytest.mark.timeout(600)
def test_main_job_prints_the_summary_and_answers_searches(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "streams", "demo", "--exit", "--json"),
            *("--cameras", "120", "--vehicles", "400"),
        ],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=580,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)  # one JSON object, progress went to stderr
    for key in ("events_in", "events_landed", "dead_letters", "duplicates_dropped", "alerts"):
        assert key in summary
    assert summary["events_in"] > 1000
    # Every payload is landed as an event, dropped as a duplicate or dead-lettered.
    assert 0 < summary["events_landed"] < summary["events_in"]
    assert summary["duplicates_dropped"] > 0
    assert summary["dead_letters"] > 0  # the city injects malformed payloads
    assert summary["alerts"].get("watchlist", 0) > 0
    assert summary["alerts"].get("cloned_plate", 0) > 0
    assert summary["e2e_latency_ms_p99"] is not None
    assert summary["e2e_latency_ms_p99"] > 0
    searches = summary["searches"]
    assert any(title.startswith("search: trajectory") and n > 0 for title, n in searches.items())
    assert any("co-travel" in title and n > 0 for title, n in searches.items())
    assert "everything landed" in done.stderr


@pytest.mark.timeout(600)
def test_loadtest_report_meets_the_accuracy_bar(tmp_path: Path) -> None:
    out = tmp_path / "report"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "streams", "loadtest", "--out", str(out)),
            *("--cameras", "120", "--vehicles", "400", "--hours", "0.5", "--speedup", "60"),
        ],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=580,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert all(report["verdict"].values()), report["verdict"]
    accounting = report["accounting"]
    assert accounting["payloads_sent"] == accounting["payloads_read_by_normalize"]
    assert accounting["unique_event_rows_landed"] == accounting["unique_events_published"]
    assert report["accuracy"]["convoy_recall"]["value"] is not None
    latency = report["latency_ms"]["capture_to_searchable"]
    assert latency["count"] == accounting["unique_event_rows_landed"]
    assert latency["p50"] <= latency["p99"] <= latency["max"]
    for name in ("report.md", "rate.png", "lag.png", "latency.png"):
        assert (out / name).stat().st_size > 0
    assert "Accuracy against ground truth" in (out / "report.md").read_text(encoding="utf-8")
