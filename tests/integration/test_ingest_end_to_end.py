"""Every source through the gateway, the real broker and the normalize stage.

The pure adapters are the oracle: what they make of a payload (events by kind and dead letters)
is exactly what must arrive on the canonical and dead-letter topics.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from streams.canonical import DeadLetter
from streams.gateway.server import RawProducer, create_gateway
from streams.kafka_admin import ensure_topics
from streams.settings import Settings
from streams.topics import ALARMS, DEAD_LETTERS, FACE_CAPTURES, PLATE_CAPTURES, SOURCES
from streams.vendors import normalize
from streams.vendors.base import Context, RawPayload
from tests.integration.kafka_reading import read_topic
from tests.integration.worker_process import WorkerProcess

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parents[1] / "vendors" / "fixtures"
ROUTES = {
    "gat1400": "/VIID/MotorVehicles",
    "hikvision-isapi": "/ISAPI/Event/notification/alert",
    "uniview-lapi": "/LAPI/V1.0/System/Event/Notification/Structure",
    "dahua-cgi": "/push/dahua-cgi",
    "onvif": "/push/onvif",
    "frigate": "/push/frigate",
}
BAD = b"\x00garbage that no vendor sends\xff"


def content_type(body: bytes) -> str:
    if body.startswith(b"--"):
        end = body.index(b"\n")
        return "multipart/form-data; boundary=" + body[2:end].strip().decode("latin-1")
    if body.lstrip().startswith(b"<"):
        return "application/xml"
    return "application/json"


def test_every_source_through_gateway_broker_and_normalize(
    settings: Settings, tmp_path: Path
) -> None:
    ensure_topics(settings)
    pushes = [
        (s, p.read_bytes())
        for s in SOURCES
        for p in sorted((FIXTURES / s).iterdir())
        if p.is_file()
    ]
    pushes += [(s, BAD) for s in SOURCES]

    expected: Counter[str] = Counter()
    by_source: Counter[str] = Counter()  # events per "source/kind", as /stats labels them
    for index, (source, body) in enumerate(pushes):
        result = normalize(
            RawPayload(
                source, body, datetime.now(UTC), key=f"cam-{index}", content_type=content_type(body)
            ),
            Context(),
        )
        expected.update(e.kind for e in result.events)
        by_source.update(f"{source}/{e.kind}" for e in result.events)
        expected["dead_letter"] += len(result.rejected)
    assert expected["dead_letter"] >= len(SOURCES)
    assert expected["plate"]
    assert expected["face"]
    assert expected["alarm"]

    statuses: list[int] = []

    async def push_all() -> None:
        producer = RawProducer(settings)
        server = TestServer(create_gateway(settings, producer), host="127.0.0.1")
        await server.start_server()
        try:
            async with ClientSession() as session:
                for index, (source, body) in enumerate(pushes):
                    url = str(server.make_url(ROUTES[source]))
                    headers = {"Content-Type": content_type(body), "X-Device-Id": f"cam-{index}"}
                    async with session.post(url, data=body, headers=headers) as response:
                        statuses.append(response.status)
        finally:
            await server.close()
            producer.close(5)

    asyncio.run(push_all())
    assert all(status in (200, 400) for status in statuses), statuses

    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    try:
        found = {
            "plate": read_topic(settings, settings.topic(PLATE_CAPTURES.name), expected["plate"]),
            "face": read_topic(settings, settings.topic(FACE_CAPTURES.name), expected["face"]),
            "alarm": read_topic(settings, settings.topic(ALARMS.name), expected["alarm"]),
            "dead_letter": read_topic(
                settings, settings.topic(DEAD_LETTERS.name), expected["dead_letter"]
            ),
        }
        _status, stats = worker.get("/stats")
    finally:
        assert worker.stop() == 0, worker.log_tail()

    assert {kind: len(items) for kind, items in found.items()} == dict(expected)
    letters = found["dead_letter"]
    assert all(isinstance(d, DeadLetter) for d in letters)
    assert sum(1 for d in letters if d.payload == BAD) == len(SOURCES)
    assert {d.source for d in letters if d.payload == BAD} == set(SOURCES)
    counters = stats["counters"]
    assert sum(counters["streams_raw_events_in_total"].values()) == len(pushes)
    assert sum(counters["streams_dead_letters_total"].values()) == expected["dead_letter"]
    assert counters["streams_canonical_events_out_total"] == dict(by_source)
