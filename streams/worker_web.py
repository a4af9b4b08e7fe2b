"""The worker's HTTP endpoints: liveness, readiness, counters, Prometheus metrics, landed-row
counts, and the watchlist it applies (bound to the worker's web host, loopback by default).
Changing the watchlist needs a supervisor's key on the search API (``streams.api``).

``/healthz`` (liveness) fails when a stage's thread has ended or its loop is wedged: a restart
is what helps then. ``/readyz`` also needs the warehouse to answer and every stage to have its
partitions. Both answer JSON with ``status``, and ``reason`` when not OK.
"""

from __future__ import annotations

from typing import Any

from streams.app import app
from streams.metrics import CONTENT_TYPE, COUNTERS, render
from streams.runtime import current_stages, current_warehouse


def _stage_problems() -> list[str]:
    try:
        return current_stages().problems()
    except RuntimeError as exc:  # no stages installed: not a worker started by `streams worker`
        return [str(exc)]


@app.page("/healthz")
async def healthz(web: Any, request: Any) -> Any:
    problems = _stage_problems()
    if problems:
        return web.json({"status": "unhealthy", "reason": "; ".join(problems)}, status=503)
    return web.json({"status": "ok"})


@app.page("/readyz")
async def readyz(web: Any, request: Any) -> Any:
    problems = _stage_problems()
    if problems:
        return web.json({"status": "not ready", "reason": "; ".join(problems)}, status=503)
    try:
        await current_warehouse().query("SELECT 1")
    except Exception as exc:
        return web.json({"status": "not ready", "reason": str(exc)}, status=503)
    if not current_stages().ready():
        return web.json(
            {"status": "starting", "reason": "stages not yet assigned their partitions"},
            status=503,
        )
    return web.json({"status": "ready"})


@app.page("/metrics")
async def metrics(web: Any, request: Any) -> Any:
    """Every metric of this process in the Prometheus text format 0.0.4."""
    return web.bytes(render().encode(), headers={"Content-Type": CONTENT_TYPE})


@app.page("/stats")
async def stats(web: Any, request: Any) -> Any:
    return web.json({"counters": COUNTERS.snapshot()})


@app.page("/landed")
async def landed(web: Any, request: Any) -> Any:
    """Rows per source in ``raw_captures``; the demo and the tests wait on it."""
    rows = await current_warehouse().query(
        "SELECT source, count() AS rows FROM raw_captures FINAL GROUP BY source ORDER BY source"
    )
    return web.json({"raw_captures": {r["source"]: int(r["rows"]) for r in rows}})


def _watchlist() -> Any:
    for runner in current_stages().runners:
        watchlist = getattr(runner.stage, "watchlist", None)
        if watchlist is not None:
            return watchlist
    raise RuntimeError("this worker runs no dedup stage")


@app.page("/watchlist")
async def watchlist(web: Any, request: Any) -> Any:
    """The entries this worker applies (read-only; the search API manages them)."""
    entries = sorted(_watchlist().entries(), key=lambda e: e.entry_id)
    return web.json({"entries": [e.model_dump(mode="json") for e in entries]})
