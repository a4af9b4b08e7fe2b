"""The search API over HTTP (aiohttp, JSON): search, audit trail, users, watchlist, health,
metrics (``/metrics``, Prometheus text format; searches counted by kind and outcome, timed).

Every data route needs ``Authorization: Bearer KEY``; the role decides what the key may do
(``streams.search.access``). Warehouse work runs on one worker thread so the event loop (in
embedded mode, the pipeline worker's loop) never waits on ClickHouse.

Hosted two ways: inside ``streams run`` next to the pipeline (embedded warehouse: one process
per path), or alone with ``streams api`` against a ClickHouse server.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import mode
from aiohttp import web
from pydantic import ValidationError

from streams import __version__
from streams.api.openapi import openapi_spec
from streams.correlate.records import DEFAULT_PRIORITY, WatchlistEntry
from streams.errors import UserError
from streams.metrics import CONTENT_TYPE, COUNTERS, HISTOGRAMS, Metric, render
from streams.search.access import AuthenticationError, Permission, PermissionDenied
from streams.search.audit import AuditQuery
from streams.search.queries import KINDS
from streams.search.service import SearchService, validation_message
from streams.settings import Settings
from streams.watchlist_cli import build_entry, parse_time
from streams.watchlist_topic import publish_entries, read_watchlist, remove_entries

log = logging.getLogger(__name__)
T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SERVICE = web.AppKey("service", SearchService)
SETTINGS = web.AppKey("settings", Settings)
EXECUTOR = web.AppKey("executor", ThreadPoolExecutor)


def _key(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _client(request: web.Request) -> str:
    agent = request.headers.get("User-Agent", "")
    return f"http {request.remote or '?'} {agent}"[:200]


async def _off_loop(request: web.Request, call: Callable[[], T]) -> T:
    return await asyncio.get_running_loop().run_in_executor(request.app[EXECUTOR], call)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except AuthenticationError as exc:
        return _error(401, str(exc))
    except PermissionDenied as exc:
        return _error(403, str(exc))
    except ValidationError as exc:
        return _error(400, validation_message(exc))
    except (UserError, ValueError) as exc:
        return _error(400, str(exc))
    except web.HTTPException:
        raise
    except Exception:
        log.exception("search API: %s %s failed", request.method, request.path)
        return _error(500, "internal error; the server log has the details")


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise UserError("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise UserError("the body must be a JSON object")
    return body


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    try:
        await _off_loop(request, lambda: service.warehouse.query("SELECT 1"))
    except Exception as exc:
        return web.json_response({"status": "not ready", "reason": str(exc)}, status=503)
    return web.json_response({"status": "ready"})


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_spec(__version__))


async def metrics(request: web.Request) -> web.Response:
    """Every metric of this process (with ``streams run``, the pipeline's too)."""
    return web.Response(body=render().encode(), headers={"Content-Type": CONTENT_TYPE})


# What the error middleware answers with a 4xx (key, role, reason, parameters): the search was
# refused, not failed. AuthenticationError and PermissionDenied are UserErrors.
_REFUSALS = (ValidationError, UserError, ValueError)


async def search(request: web.Request) -> web.Response:
    kind = request.match_info["kind"]
    label = kind if kind in KINDS else "unknown"  # the path is the client's: bound the labels
    started = time.perf_counter()
    outcome = "failed"
    try:
        response = await _search(request)
        outcome = "answered"
        HISTOGRAMS.observe(Metric.API_SEARCH_SECONDS, label, time.perf_counter() - started)
        return response
    except _REFUSALS:
        outcome = "refused"
        raise
    finally:
        COUNTERS.add(Metric.API_SEARCHES, (label, outcome))


async def _search(request: web.Request) -> web.Response:
    body = await _json_body(request)
    query = body.get("query", {})
    if not isinstance(query, dict):
        raise UserError("'query' must be a JSON object of the search's parameters")
    service = request.app[SERVICE]
    result = await _off_loop(
        request,
        partial(
            service.search,
            _key(request),
            request.match_info["kind"],
            query,
            reason=_text(body.get("reason")),
            case_ref=_text(body.get("case_ref")),
            client=_client(request),
        ),
    )
    return web.json_response(
        {
            "kind": result.kind,
            "columns": result.columns,
            "rows": result.rows,
            "count": len(result.rows),
        }
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


async def audit(request: web.Request) -> web.Response:
    query = AuditQuery.model_validate(dict(request.query))
    service = request.app[SERVICE]
    rows = await _off_loop(
        request, partial(service.audit_trail, _key(request), query, _client(request))
    )
    return web.json_response({"rows": rows, "count": len(rows)})


async def list_users(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    rows = await _off_loop(request, partial(service.list_users, _key(request)))
    return web.json_response({"keys": rows})


async def create_user(request: web.Request) -> web.Response:
    body = await _json_body(request)
    service = request.app[SERVICE]
    user, role = str(body.get("user", "")), str(body.get("role", ""))
    key = await _off_loop(request, partial(service.create_user, _key(request), user, role))
    return web.json_response({"user": user, "role": role, "key": key}, status=201)


async def revoke_user(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    user = request.match_info["user"]
    count = await _off_loop(request, partial(service.revoke_user, _key(request), user))
    return web.json_response({"user": user, "revoked_keys": count})


async def list_watchlist(request: web.Request) -> web.Response:
    await _supervisor(request)
    settings = request.app[SETTINGS]
    watchlist = await _off_loop(request, partial(read_watchlist, settings))
    entries = sorted(watchlist.entries(), key=lambda e: e.entry_id)
    return web.json_response({"entries": [e.model_dump(mode="json") for e in entries]})


async def add_watchlist_entry(request: web.Request) -> web.Response:
    supervisor = await _supervisor(request)
    entry = entry_from_json(await _json_body(request), supervisor)
    settings = request.app[SETTINGS]
    await _off_loop(request, partial(publish_entries, settings, [entry]))
    return web.json_response({"added": entry.model_dump(mode="json")}, status=201)


async def remove_watchlist_entry(request: web.Request) -> web.Response:
    await _supervisor(request)
    entry_id = request.match_info["entry_id"]
    await _off_loop(request, partial(remove_entries, request.app[SETTINGS], [entry_id]))
    return web.json_response({"removed": entry_id})


async def _supervisor(request: web.Request) -> str:
    service = request.app[SERVICE]
    principal = await _off_loop(
        request, partial(service.principal, _key(request), Permission.WATCHLIST)
    )
    return principal.user


def entry_from_json(body: dict[str, Any], created_by: str) -> WatchlistEntry:
    """A watchlist entry from the API's JSON (the CLI's rules, via ``build_entry``)."""
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
        created_by=created_by,
        now=datetime.now(UTC),
    )


def build_api(service: SearchService, settings: Settings) -> web.Application:
    app = web.Application(middlewares=[_errors], client_max_size=4 * 1024 * 1024)
    app[SERVICE] = service
    app[SETTINGS] = settings
    app[EXECUTOR] = ThreadPoolExecutor(max_workers=2, thread_name_prefix="search")
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/openapi.json", openapi)
    app.router.add_post("/api/v1/search/{kind}", search)
    app.router.add_get("/api/v1/audit", audit)
    app.router.add_get("/api/v1/users", list_users)
    app.router.add_post("/api/v1/users", create_user)
    app.router.add_delete("/api/v1/users/{user}", revoke_user)
    app.router.add_get("/api/v1/watchlist", list_watchlist)
    app.router.add_post("/api/v1/watchlist", add_watchlist_entry)
    app.router.add_delete("/api/v1/watchlist/{entry_id}", remove_watchlist_entry)

    async def _shutdown(app: web.Application) -> None:
        app[EXECUTOR].shutdown(wait=True)

    app.on_cleanup.append(_shutdown)
    return app


class ApiService(mode.Service):
    """The search API inside another process's event loop (``streams run``)."""

    def __init__(self, app: web.Application, host: str, port: int, **kwargs: Any) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        super().__init__(**kwargs)

    async def on_start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        log.info("search API on http://%s:%d", self.host, self.port)

    async def on_stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def serve_api(service: SearchService, settings: Settings) -> None:
    """Run the API alone until interrupted (``streams api``)."""
    web.run_app(
        build_api(service, settings),
        host=settings.api_host,
        port=settings.api_port,
        access_log=None,
        print=lambda _text: print(
            f"search API on http://{settings.api_host}:{settings.api_port} "
            f"(warehouse {service.warehouse.description}); Ctrl-C stops it",
            flush=True,
        ),
    )
