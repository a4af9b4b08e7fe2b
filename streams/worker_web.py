"""The worker's HTTP endpoints: liveness, readiness, counters, landed-row counts, and the
watchlist (bound to the worker's web host, loopback by default)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from faust.web import Request, Response, View

from streams.app import SETTINGS, app
from streams.correlate.records import DEFAULT_PRIORITY
from streams.metrics import COUNTERS
from streams.runtime import current_stages, current_warehouse
from streams.watchlist_cli import build_entry, parse_time
from streams.watchlist_topic import publish_entries, remove_entries


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
class WatchlistView(View):
    """GET: the entries this worker applies. POST: add one (JSON: plate, or embedding and
    threshold; reason; priority; case_ref; expires_at; entry_id; created_by)."""

    async def get(self, request: Request) -> Response:
        entries = sorted(_watchlist().entries(), key=lambda e: e.entry_id)
        return self.json({"entries": [e.model_dump(mode="json") for e in entries]})

    async def post(self, request: Request) -> Response:
        try:
            entry = _entry_from_json(await request.json())
        except (ValueError, TypeError) as exc:
            return self.json({"error": str(exc)}, status=400)
        await asyncio.get_running_loop().run_in_executor(None, publish_entries, SETTINGS, [entry])
        return self.json({"added": entry.model_dump(mode="json")}, status=201)


@app.page("/watchlist/{entry_id}")
class WatchlistEntryView(View):
    """DELETE: remove the entry (a tombstone on the watchlist topic)."""

    async def delete(self, request: Request, entry_id: str) -> Response:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, remove_entries, SETTINGS, [entry_id])
        return self.json({"removed": entry_id})


def _entry_from_json(body: Any) -> Any:
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object")
    now = datetime.now(UTC)
    expires = body.get("expires_at")
    embedding = body.get("embedding")
    if embedding is not None and not (
        isinstance(embedding, list) and all(isinstance(v, int | float) for v in embedding)
    ):
        raise ValueError("embedding must be an array of numbers")
    return build_entry(
        plate=body.get("plate"),
        embedding=[float(v) for v in embedding] if embedding is not None else None,
        threshold=body.get("threshold"),
        priority=int(body.get("priority", DEFAULT_PRIORITY)),
        reason=str(body.get("reason", "")),
        case=body.get("case_ref"),
        expires_at=parse_time(expires, "expires_at") if expires else None,
        entry_id=body.get("entry_id"),
        created_by=body.get("created_by"),
        now=now,
    )
