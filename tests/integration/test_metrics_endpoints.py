"""/healthz, /readyz and /metrics of the worker, the search API and the gateway, on the real
broker and the embedded warehouse: vendor payloads go through the gateway, the pipeline of
``streams run`` (worker and API in one process) lands them and raises a watchlist alert, and
the metrics show what happened. Then a gateway without its broker, and the stage health the
worker's /healthz reports."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from confluent_kafka import Producer
from prometheus_client.parser import text_string_to_metric_families

from streams.agents.runner import StageRunner, StageService
from streams.demo_payloads import demo_payloads
from streams.gateway.producer import BROKER_CHECK_SECONDS
from streams.kafka_admin import ensure_topics
from streams.metrics import CONTENT_TYPE
from streams.settings import Settings
from streams.topics import RAW, SOURCES, raw_topic_name
from tests.conftest import free_port
from tests.integration.gateway_server import serve_gateway
from tests.integration.worker_process import WorkerProcess, add_users, post_json

pytestmark = pytest.mark.integration

ROUTES = {
    "gat1400": "/VIID/MotorVehicles",
    "hikvision-isapi": "/ISAPI/Event/notification/alert",
    "dahua-cgi": "/push/dahua-cgi",
    "frigate": "/push/frigate",
}
WATCHED = "浙A12345"  # in the demo payloads of every source
Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _parse(text: str) -> tuple[Series, dict[str, str]]:
    """Samples by (name, sorted labels), and the type of each family (the parser must accept
    the whole text)."""
    series: Series = {}
    types: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for sample in family.samples:
            series[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return series, types


def _value(series: Series, name: str, **labels: str) -> float:
    return series.get((name, tuple(sorted(labels.items()))), 0.0)


def _delta(before: Series, after: Series, name: str, **labels: str) -> float:
    return _value(after, name, **labels) - _value(before, name, **labels)


def _total(series: Series, name: str, **labels: str) -> float:
    """The sum over the series of ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in series.items() if n == name and want <= set(ls))


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback)
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


def _metrics(base: str) -> Series:
    status, content_type, body = _get(base + "/metrics")
    assert status == 200
    assert content_type == CONTENT_TYPE
    return _parse(body.decode())[0]


async def _get_json(session: ClientSession, url: str) -> tuple[int, Any]:
    async with session.get(url) as response:
        return response.status, await response.json()


def test_health_and_metrics_of_worker_api_and_gateway(settings: Settings, tmp_path: Path) -> None:
    ensure_topics(settings)
    keys = add_users(settings, ("sup", "supervisor"), ("inv", "investigator"))
    payloads = demo_payloads(per_source=3)
    sources = sorted(ROUTES)

    run = WorkerProcess(settings, tmp_path / "run.log", command="run").start()
    try:
        assert run.get("/healthz") == (200, {"status": "ok"})
        assert run.get("/readyz") == (200, {"status": "ready"})
        entry = {"plate": WATCHED, "reason": "stolen vehicle", "case_ref": "C-9"}
        assert post_json(run.api_url + "/api/v1/watchlist", entry, keys["supervisor"]) == 201
        run.wait_for(lambda: len(run.get("/watchlist")[1]["entries"]) == 1, 30, "the entry")

        # -- the gateway, in this process, on the real broker -----------------------------
        gateway: dict[str, Any] = {}

        async def push(session: ClientSession, base: str) -> None:
            gateway["healthz"] = await _get_json(session, base + "/healthz")
            gateway["readyz"] = await _get_json(session, base + "/readyz")
            async with session.get(base + "/metrics") as response:
                gateway["before"] = _parse(await response.text())[0]
            statuses = []
            for source, device, body in payloads:
                headers = {"X-Device-Id": device, "Content-Type": "application/json"}
                if source == "hikvision-isapi":
                    headers["Content-Type"] = "application/xml"
                url = base + ROUTES[source]
                async with session.post(url, data=body, headers=headers) as response:
                    statuses.append(response.status)
            gateway["statuses"] = statuses
            # Every push was answered once acknowledged; the producer may still count its last
            # delivery report (or a readiness metadata request) for a moment after.
            deadline = time.monotonic() + 5
            while True:
                async with session.get(base + "/metrics") as response:
                    gateway["content_type"] = response.headers["Content-Type"]
                    gateway["after"] = _parse(await response.text())
                queued = _value(gateway["after"][0], "streams_gateway_producer_queue_messages")
                if queued == 0 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)

        serve_gateway(settings, push)
        assert gateway["healthz"] == (200, {"status": "ok"})
        assert gateway["readyz"] == (200, {"status": "ready"})
        assert gateway["statuses"] == [200] * len(payloads)
        assert gateway["content_type"] == CONTENT_TYPE
        before, (after, types) = gateway["before"], gateway["after"]
        accepted = "streams_gateway_payloads_accepted_total"
        for source in sources:  # counters of this process: compare with before the pushes
            assert _delta(before, after, accepted, source=source) == 3
        assert types["streams_gateway_request_seconds"] == "histogram"
        timed = "streams_gateway_request_seconds_count"
        assert _delta(before, after, timed, route="viid_batch") == 3
        assert _delta(before, after, timed, route="push") == 6
        assert _value(after, "streams_gateway_producer_queue_messages") == 0  # all drained

        # -- the worker, once everything landed and the alert was raised ------------------
        def settled() -> bool:
            series = _metrics(run.url)
            raw_topics = [settings.topic(raw_topic_name(s)) for s in sources]
            lags = [
                series.get(("streams_consumer_lag", (("stage", "normalize"), ("topic", t))))
                for t in raw_topics
            ]
            landed = "streams_warehouse_rows_landed_total"
            unique_plates = _value(series, "streams_unique_events_out_total", kind="plate")
            return (
                _value(series, landed, table="raw_captures") == len(payloads)
                and 0 < unique_plates == _value(series, landed, table="plate_captures")
                and _value(series, "streams_received_to_alert_seconds_count", rule="watchlist") > 0
                and lags == [0.0] * len(raw_topics)  # measured, and read to the end
            )

        run.wait_for(settled, 90, "landing, alerting and the lag gauges")
        series = _metrics(run.url)
        _status, _type, text = _get(run.url + "/metrics")
        types = _parse(text.decode())[1]
        for source in sources:
            assert _value(series, "streams_raw_events_in_total", source=source) == 3
            assert _total(series, "streams_canonical_events_out_total", source=source) >= 3
        canonical = "streams_canonical_events_out_total"
        assert _value(series, canonical, source="gat1400", kind="plate") == 3
        assert types["streams_consumer_lag"] == "gauge"
        stages = {dict(ls)["stage"] for n, ls in series if n == "streams_consumer_lag"}
        assert {"normalize", "dedup", "warehouse_sink", "raw_archive"} <= stages

        # Rows per insert add up to the rows landed; every landed row is measured once.
        for table in ("raw_captures", "plate_captures"):
            landed = _value(series, "streams_warehouse_rows_landed_total", table=table)
            assert landed > 0
            assert _value(series, "streams_warehouse_batch_rows_sum", table=table) == landed
            batches = _value(series, "streams_warehouse_batches_total", table=table)
            assert _value(series, "streams_warehouse_batch_rows_count", table=table) == batches
            assert _value(series, "streams_warehouse_insert_seconds_count", table=table) == batches
            count = _value(series, "streams_received_to_landed_seconds_count", table=table)
            assert count == landed
            mean = _value(series, "streams_received_to_landed_seconds_sum", table=table) / count
            assert 0 < mean < 90
        assert types["streams_received_to_landed_seconds"] == "histogram"
        alerted = _value(series, "streams_received_to_alert_seconds_count", rule="watchlist")
        assert alerted == _value(series, "streams_alerts_total", rule="watchlist")
        latency = _value(series, "streams_received_to_alert_seconds_sum", rule="watchlist")
        assert 0 < latency / alerted < 90
        buckets = "streams_received_to_alert_seconds_bucket"
        assert _value(series, buckets, rule="watchlist", le="+Inf") == alerted

        _status, stats = run.get("/stats")
        assert stats["counters"]["streams_canonical_events_out_total"]["gat1400/plate"] == 3

        # -- the search API of the same process -------------------------------------------
        assert run.get("/healthz") == (200, {"status": "ok"})
        api = run.api_url
        assert _get(api + "/healthz")[0] == 200
        status, _type, body = _get(api + "/readyz")
        assert (status, json.loads(body)) == (200, {"status": "ready"})
        search = api + "/api/v1/search/plate"
        query = {"query": {"plate": WATCHED}, "reason": "stolen vehicle", "case_ref": "C-9"}
        assert post_json(search, query, keys["investigator"]) == 200
        assert post_json(search, {"query": {"plate": WATCHED}}, keys["investigator"]) == 400
        assert post_json(search, query, "not-a-key") == 401
        assert post_json(api + "/api/v1/search/no-such-kind", query, keys["investigator"]) == 400
        series = _metrics(api)
        searches = "streams_api_searches_total"
        assert _value(series, searches, kind="plate", outcome="answered") == 1
        assert _value(series, searches, kind="plate", outcome="refused") == 2
        assert _value(series, searches, kind="unknown", outcome="refused") == 1
        assert _value(series, "streams_api_search_seconds_count", kind="plate") == 1
        # One process: the API's /metrics shows the pipeline's too.
        assert _value(series, "streams_raw_events_in_total", source="gat1400") == 3
        status, _type, body = _get(api + "/openapi.json")
        assert "/metrics" in json.loads(body)["paths"]
    finally:
        assert run.stop() == 0, run.log_tail()


def test_gateway_is_not_ready_without_its_broker(settings: Settings) -> None:
    down = settings.model_copy(
        update={"kafka_bootstrap_servers": f"127.0.0.1:{free_port()}", "kafka_timeout_seconds": 1.0}
    )
    answers: dict[str, Any] = {}

    async def probe(session: ClientSession, base: str) -> None:
        answers["healthz"] = await _get_json(session, base + "/healthz")
        answers["readyz"] = await _get_json(session, base + "/readyz")
        answers["again"] = await _get_json(session, base + "/readyz")  # cached: no second wait
        async with session.get(base + "/metrics") as response:
            answers["metrics"] = response.status

    serve_gateway(down, probe)
    assert answers["healthz"] == (200, {"status": "ok"})  # alive: a restart would not help
    status, body = answers["readyz"]
    assert status == 503
    assert body["status"] == "not ready"
    assert "broker" in body["reason"]
    assert answers["again"] == answers["readyz"]
    assert answers["metrics"] == 200


def test_gateway_is_ready_only_when_every_raw_topic_has_a_leader(settings: Settings) -> None:
    answers: dict[str, Any] = {}
    last = settings.topic(raw_topic_name(SOURCES[-1]))

    async def probe(session: ClientSession, base: str) -> None:
        answers["before"] = await _get_json(session, base + "/readyz")
        # Every raw topic but the last exists: still not ready, and the reason names it.
        await asyncio.to_thread(ensure_topics, settings, list(RAW.values())[:-1])
        await asyncio.sleep(BROKER_CHECK_SECONDS + 0.2)
        answers["some"] = await _get_json(session, base + "/readyz")
        await asyncio.to_thread(ensure_topics, settings)
        await asyncio.sleep(BROKER_CHECK_SECONDS + 0.2)
        answers["all"] = await _get_json(session, base + "/readyz")

    serve_gateway(settings, probe)
    assert answers["before"][0] == 503
    status, body = answers["some"]
    assert status == 503
    assert last in body["reason"]
    assert answers["all"] == (200, {"status": "ready"})


class _Broken:
    """A stage on one topic whose first batch fails (a bug) or blocks (a wedged loop)."""

    batch_size = 10
    batch_wait = 0.05
    checkpoint_seconds = 0.0

    def __init__(self, topic: str, *, block: bool) -> None:
        # Each its own consumer group: in one group, the wedged consumer would hold up the
        # rebalance the other one needs before it is given its partitions.
        self.name = "wedged" if block else "failing"
        self.topics = [topic]
        self.block = block
        self.seen = threading.Event()
        self.release = threading.Event()

    def process(self, messages: Sequence[Any]) -> None:
        self.seen.set()
        if not self.block:
            raise RuntimeError("a bug")
        self.release.wait(60)

    def flush(self, stopping: threading.Event) -> None:
        return None

    def after_commit(self) -> None:
        return None


def test_a_stage_that_ended_or_is_wedged_is_unhealthy(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the worker's /healthz reports (``StageService.problems``), on real consumers."""
    ensure_topics(settings)
    topics = [settings.topic(raw_topic_name(s)) for s in ("onvif", "frigate")]
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap_servers, "acks": "all"})
    for topic in topics:
        producer.produce(topic, key=b"cam", value=b"{}")
    assert producer.flush(15) == 0
    fatal: list[BaseException] = []
    failing, blocking = _Broken(topics[0], block=False), _Broken(topics[1], block=True)
    runners = [StageRunner(settings, stage, fatal.append) for stage in (failing, blocking)]
    service = StageService(runners)
    assert service.problems() == []  # not started yet: starting is not a failure
    for runner in runners:
        runner.start()
    try:
        assert failing.seen.wait(60)
        assert blocking.seen.wait(60)
        runners[0].join(30)
        assert [str(e) for e in fatal] == ["a bug"]
        assert service.problems() == ["stage failing: its thread has ended"]
        # The blocked loop counts as wedged once it has not come round for longer than the
        # limit (600 s in production, shortened here once its consumer exists).
        monkeypatch.setattr("streams.agents.runner.MAX_POLL_INTERVAL_SECONDS", 0.5)
        time.sleep(1.0)
        wedged = runners[1].problem()
        assert wedged is not None
        assert wedged.startswith("stage wedged: its loop has not come round for")
        assert len(service.problems()) == 2
    finally:
        blocking.release.set()
        for runner in runners:
            runner.stop()
            runner.join(30)
    assert service.problems() == []  # stopped with the worker: not a failure
