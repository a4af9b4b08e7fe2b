"""HTTP receivers for vendor pushes. Every accepted body goes to ``raw.<source>`` unchanged,
keyed by device, with its Content-Type as a header; the answer waits for the broker's
acknowledgement (acks=all, idempotent producer), so a 2xx means the payload is safe.

Routes:
- GA/T 1400: ``/VIID/System/Register|UnRegister|Keepalive`` (answered, not forwarded),
  ``GET /VIID/System/Time``, ``POST /VIID/MotorVehicles|Faces|SubscribeNotifications``;
- Hikvision ISAPI push: ``POST /ISAPI/...`` and ``POST /hikvision/...`` (XML, JSON, multipart);
- Uniview LAPI: ``POST /LAPI/{version}/System/Event/Notification/...``;
- any source: ``POST /push/{source}`` (Dahua event parts from a collector, ONVIF, Frigate);
- ``/healthz`` (the producer's poll thread runs), ``/readyz`` (the broker answers a metadata
  request, cached a few seconds, and the send queue has room), ``/stats`` (counters as JSON),
  ``/metrics`` (Prometheus text format).

The device key is, in order: header ``X-Device-Id``, query ``device``, header ``User-Identify``
(GA/T 1400), the first ``DeviceID`` of a GA/T 1400 batch, the peer address.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import orjson
from aiohttp import web
from confluent_kafka import KafkaException

from streams.gateway import viid
from streams.gateway.producer import BrokerBreaker, RawProducer, Readiness
from streams.log_repeats import condense
from streams.metrics import CONTENT_TYPE, COUNTERS, GAUGES, HISTOGRAMS, Metric, render
from streams.settings import Settings
from streams.topics import SOURCES, raw_topic_name

log = logging.getLogger(__name__)
condense([log])

# Received time of a replayed payload, epoch milliseconds; honoured only with the setting
# ``gateway_replay_clock`` (a replay keeps recorded traffic's event time consistent).
REPLAY_RECEIVED_AT = "X-Replay-Received-At"

__all__ = ["REPLAY_RECEIVED_AT", "RawProducer", "create_gateway", "run_gateway"]

Handler = Callable[[web.Request], Awaitable[web.Response]]


def _timed(route: str, handler: Handler) -> Handler:
    """The handler, its answer time observed per route kind (errors included)."""

    async def timed(request: web.Request) -> web.Response:
        started = time.perf_counter()
        try:
            return await handler(request)
        finally:
            elapsed = time.perf_counter() - started
            HISTOGRAMS.observe(Metric.GATEWAY_REQUEST_SECONDS, route, elapsed)

    return timed


class Gateway:
    def __init__(self, settings: Settings, producer: RawProducer) -> None:
        self.settings = settings
        self.producer = producer
        # Any raw topic: the broker answering for it is what readiness needs to know.
        self.readiness = Readiness(
            producer, [settings.topic(raw_topic_name(source)) for source in SOURCES]
        )
        self.breaker = BrokerBreaker()

    def _key(self, request: web.Request, fallback: str | None = None) -> str:
        return (
            request.headers.get("X-Device-Id")
            or request.query.get("device")
            or request.headers.get("User-Identify")
            or fallback
            or request.remote
            or "unknown"
        )

    async def forward(
        self, request: web.Request, source: str, body: bytes, key: str
    ) -> web.Response | None:
        """Produce the body; None when it is safe, else the error response to send."""
        headers: list[tuple[str, str | bytes | None]] = [
            ("content-type", request.headers.get("Content-Type", "").encode("latin-1")),
            ("path", request.path.encode()),
        ]
        timestamp_ms = 0  # the producer's clock
        if self.settings.gateway_replay_clock and REPLAY_RECEIVED_AT in request.headers:
            try:
                timestamp_ms = int(request.headers[REPLAY_RECEIVED_AT])
            except ValueError:
                return web.json_response(
                    {"error": f"{REPLAY_RECEIVED_AT} must be epoch milliseconds"}, status=400
                )
        if not self.breaker.admit():
            COUNTERS.add(Metric.GATEWAY_BACKPRESSURE, source)
            return web.json_response(
                {"error": "the broker is not acknowledging payloads just now"},
                status=503,
                headers={"Retry-After": "5"},
            )
        future = self.producer.send(
            self.settings.topic(raw_topic_name(source)), key.encode(), body, headers, timestamp_ms
        )
        if future is None:
            self.breaker.released()
            COUNTERS.add(Metric.GATEWAY_BACKPRESSURE, source)
            return web.json_response(
                {"error": "busy: the producer queue is full"},
                status=503,
                headers={"Retry-After": "1"},
            )
        try:
            await asyncio.wait_for(future, self.settings.kafka_timeout_seconds)
        except (KafkaException, TimeoutError) as exc:
            self.breaker.failed()
            COUNTERS.add(Metric.GATEWAY_BACKPRESSURE, source)
            reason = (
                f"no acknowledgement within {self.settings.kafka_timeout_seconds:g}s"
                if isinstance(exc, TimeoutError)
                else str(exc)
            )
            # Not naming the device: in an outage every push fails alike, and the repeats are
            # condensed into one line per 30 s.
            log.warning("a %s payload was not delivered to Kafka: %s", source, reason)
            return web.json_response(
                {"error": "the broker did not take the payload"},
                status=503,
                headers={"Retry-After": "5"},
            )
        self.breaker.delivered()
        COUNTERS.add(Metric.GATEWAY_ACCEPTED, source)
        return None

    # -- generic and vendor routes ---------------------------------------------------------

    async def push(self, request: web.Request) -> web.Response:
        source = request.match_info["source"]
        if source not in SOURCES:
            return web.json_response(
                {"error": f"unknown source {source!r}", "sources": list(SOURCES)}, status=404
            )
        return await self._plain(request, source)

    async def hikvision(self, request: web.Request) -> web.Response:
        return await self._plain(request, "hikvision-isapi")

    async def uniview(self, request: web.Request) -> web.Response:
        return await self._plain(request, "uniview-lapi")

    async def _plain(self, request: web.Request, source: str) -> web.Response:
        body = await request.read()
        failed = await self.forward(request, source, body, self._key(request))
        return failed or web.json_response({"status": "accepted"})

    # -- GA/T 1400 -------------------------------------------------------------------------

    async def viid_system(self, request: web.Request) -> web.Response:
        now = datetime.now(UTC)
        action = request.match_info["action"]
        if action == "Time":
            return web.json_response(
                {
                    "SystemTimeObject": {
                        "VIIDServerID": self.settings.gateway_viid_server_id,
                        "TimeMode": "1",
                        "LocalTime": viid.local_time(now),
                        "TimeZone": "Asia/Shanghai",
                    }
                }
            )
        body = await request.read()
        try:
            document = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            document = None
        device = viid.register_device(document, f"{action}Object") or request.headers.get(
            "User-Identify"
        )
        if device is None:
            return web.Response(
                body=viid.single_status(
                    request.path, now, code=4, text=f"{action}Object.DeviceID is missing"
                ),
                status=400,
                content_type="application/json",
            )
        COUNTERS.add(Metric.GATEWAY_CONTROL, action)
        return web.Response(
            body=viid.single_status(request.path, now, object_id=device),
            content_type="application/json",
        )

    async def viid_batch(self, request: web.Request) -> web.Response:
        now = datetime.now(UTC)
        body = await request.read()
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            document = None
        ids, device = viid.batch_ids(request.path, document)
        failed = await self.forward(request, "gat1400", body, self._key(request, device))
        if failed is not None:
            return failed
        if document is None or not ids:
            # Kept for the dead-letter topic all the same; the sender learns it was unusable.
            return web.Response(
                body=viid.list_status(request.path, now, [], code=4, text="body holds no records"),
                status=400,
                content_type="application/json",
            )
        return web.Response(
            body=viid.list_status(request.path, now, ids), content_type="application/json"
        )

    # -- health ----------------------------------------------------------------------------

    async def healthz(self, _request: web.Request) -> web.Response:
        if not self.producer.alive():
            reason = "the producer's poll thread is not running"
            return web.json_response({"status": "unhealthy", "reason": reason}, status=503)
        return web.json_response({"status": "ok"})

    async def readyz(self, _request: web.Request) -> web.Response:
        reason = await self.readiness.problem()
        if reason is not None:
            return web.json_response({"status": "not ready", "reason": reason}, status=503)
        return web.json_response({"status": "ready"})

    async def stats(self, _request: web.Request) -> web.Response:
        return web.json_response({"counters": COUNTERS.snapshot()})

    async def metrics(self, _request: web.Request) -> web.Response:
        GAUGES.set(Metric.GATEWAY_QUEUE, "", self.producer.queued())
        return web.Response(body=render().encode(), headers={"Content-Type": CONTENT_TYPE})


def create_gateway(settings: Settings, producer: RawProducer) -> web.Application:
    gateway = Gateway(settings, producer)
    app = web.Application(client_max_size=settings.gateway_max_body_bytes)
    system = _timed("viid_system", gateway.viid_system)
    batch = _timed("viid_batch", gateway.viid_batch)
    hikvision = _timed("hikvision", gateway.hikvision)
    uniview = _timed("uniview", gateway.uniview)
    app.add_routes(
        [
            web.post("/VIID/System/{action:Register|UnRegister|Keepalive}", system),
            web.get("/VIID/System/{action:Time}", system),
            web.post("/VIID/MotorVehicles", batch),
            web.post("/VIID/Faces", batch),
            web.post("/VIID/SubscribeNotifications", batch),
            web.post("/ISAPI/{tail:.*}", hikvision),
            web.post("/hikvision{tail:.*}", hikvision),
            web.post("/LAPI/{version}/System/Event/Notification/{tail:.*}", uniview),
            web.post("/push/{source}", _timed("push", gateway.push)),
            web.get("/healthz", gateway.healthz),
            web.get("/readyz", gateway.readyz),
            web.get("/stats", gateway.stats),
            web.get("/metrics", gateway.metrics),
        ]
    )
    return app


def run_gateway(settings: Settings) -> None:
    from streams.errors import ConfigError
    from streams.kafka_admin import prepare_topics
    from streams.localkafka import port_is_free

    prepare_topics(settings)
    if not port_is_free(settings.gateway_port, settings.gateway_host):
        raise ConfigError(
            f"port {settings.gateway_port} on {settings.gateway_host} is in use; "
            "set STREAMS_GATEWAY_PORT to a free port"
        )
    producer = RawProducer(settings)
    app = create_gateway(settings, producer)
    app.on_cleanup.append(
        lambda _app: asyncio.get_running_loop().run_in_executor(None, producer.close)
    )
    print(
        f"gateway listening on http://{settings.gateway_host}:{settings.gateway_port}", flush=True
    )
    web.run_app(
        app, host=settings.gateway_host, port=settings.gateway_port, print=None, access_log=None
    )
