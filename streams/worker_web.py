"""The worker's HTTP endpoints: liveness, readiness, counters, landed-row counts, and the
watchlist it applies (bound to the worker's web host, loopback by default). Changing the
watchlist needs a supervisor's key on the search API (``streams.api``)."""

from __future__ import annotations

from typing import Any

from streams.app import app
from streams.metrics import COUNTERS
from streams.runtime import current_stages, current_warehouse


@app.page("/healthz")
async def healthz(web: Any, request: Any) -> Any:
    return web.json({"status": "ok"})


@app.page("/readyz")
async def readyz(web: Any, request: Any) -> Any:
    try:
        await current_warehouse().query("SELECT 1")
    except Exception as exc:
        return web.json({"status": "not ready", "reason": str(exc)}, status=503)
    if not current_stages().ready():
        return web.json({"status": "starting: stages not yet assigned"}, status=503)
    return web.json({"status": "ready"})


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
