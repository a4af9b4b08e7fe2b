"""The ingest gateway over real HTTP against the real broker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest
from aiohttp import ClientSession
from confluent_kafka import Consumer

from streams.gateway.server import REPLAY_RECEIVED_AT
from streams.kafka_admin import ensure_topics
from streams.settings import Settings
from streams.topics import raw_topic_name
from tests.conftest import free_port
from tests.integration.gateway_server import serve_gateway

pytestmark = pytest.mark.integration

Client = Callable[[str, str], Awaitable[tuple[int, Any]]]


def _raw_messages(settings: Settings, source: str, expected: int) -> list[Any]:
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": "gateway-test",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([settings.topic(raw_topic_name(source))])
    found = []
    try:
        for _ in range(60):
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                found.append(message)
            if len(found) >= expected:
                break
    finally:
        consumer.close()
    return found


VEHICLES = {
    "MotorVehicleListObject": {
        "MotorVehicleObject": [
            {
                "MotorVehicleID": "m1",
                "DeviceID": "33010200001310000001",
                "PlateNo": "浙A12345",
                "PassTime": "20260301083015",
            },
            {
                "MotorVehicleID": "m2",
                "DeviceID": "33010200001310000001",
                "PlateNo": "浙A54321",
                "PassTime": "20260301083016",
            },
        ]
    }
}


def test_viid_register_batch_and_junk(settings: Settings) -> None:
    ensure_topics(settings)
    answers: dict[str, Any] = {}

    async def scenario(session: ClientSession, base: str) -> None:
        register = {"RegisterObject": {"DeviceID": "33010200001310000001"}}
        async with session.post(base + "/VIID/System/Register", json=register) as r:
            answers["register"] = (r.status, await r.json())
        async with session.post(
            base + "/VIID/MotorVehicles",
            data=orjson.dumps(VEHICLES),
            headers={"Content-Type": "application/VIID+JSON"},
        ) as r:
            answers["batch"] = (r.status, await r.json())
        async with session.post(
            base + "/VIID/Faces",
            data=b"<not json>",
            headers={"User-Identify": "33010200001310000002"},
        ) as r:
            answers["junk"] = (r.status, await r.json())
        async with session.get(base + "/VIID/System/Time") as r:
            answers["time"] = (r.status, await r.json())

    serve_gateway(settings, scenario)
    status, body = answers["register"]
    assert status == 200
    assert body["ResponseStatusObject"]["StatusCode"] == "0"
    assert body["ResponseStatusObject"]["Id"] == "33010200001310000001"
    status, body = answers["batch"]
    assert status == 200
    assert [s["Id"] for s in body["ResponseStatusListObject"]["ResponseStatusObject"]] == [
        "m1",
        "m2",
    ]
    assert answers["junk"][0] == 400
    assert answers["time"][1]["SystemTimeObject"]["VIIDServerID"] == settings.gateway_viid_server_id

    messages = _raw_messages(settings, "gat1400", 2)
    by_key = {m.key(): m for m in messages}
    assert set(by_key) == {b"33010200001310000001", b"33010200001310000002"}
    assert orjson.loads(by_key[b"33010200001310000001"].value()) == VEHICLES
    assert by_key[b"33010200001310000002"].value() == b"<not json>"  # kept for the dead letters
    headers = dict(by_key[b"33010200001310000001"].headers())
    assert headers["content-type"] == b"application/VIID+JSON"


def test_generic_push_unknown_source_and_body_cap(settings: Settings) -> None:
    ensure_topics(settings)
    small = settings.model_copy(update={"gateway_max_body_bytes": 2048})
    statuses: dict[str, int] = {}

    async def scenario(session: ClientSession, base: str) -> None:
        async with session.post(base + "/push/frigate?device=cam-1", data=b'{"type":"new"}') as r:
            statuses["frigate"] = r.status
        async with session.post(
            base + "/ISAPI/Event/notification/alert", data=b"<x/>", headers={"X-Device-Id": "hik-1"}
        ) as r:
            statuses["isapi"] = r.status
        async with session.post(base + "/push/axis", data=b"{}") as r:
            statuses["unknown"] = r.status
        async with session.post(base + "/push/onvif", data=b"x" * 4096) as r:
            statuses["too_large"] = r.status

    serve_gateway(small, scenario)
    assert statuses == {"frigate": 200, "isapi": 200, "unknown": 404, "too_large": 413}
    (frigate,) = _raw_messages(settings, "frigate", 1)
    assert frigate.key() == b"cam-1"
    (isapi,) = _raw_messages(settings, "hikvision-isapi", 1)
    assert isapi.key() == b"hik-1"
    assert dict(isapi.headers())["path"] == b"/ISAPI/Event/notification/alert"


def test_replay_clock_header_only_when_enabled(settings: Settings) -> None:
    ensure_topics(settings)
    # A replay of traffic recorded an hour ago (older records would fall to the retention).
    recorded = int(time.time() * 1000) - 3_600_000
    statuses: list[int] = []

    def scenario_for(device: str, stamp: str) -> Callable[[ClientSession, str], Awaitable[None]]:
        async def scenario(session: ClientSession, base: str) -> None:
            async with session.post(
                base + f"/push/onvif?device={device}",
                data=b"<x/>",
                headers={REPLAY_RECEIVED_AT: stamp},
            ) as r:
                statuses.append(r.status)

        return scenario

    serve_gateway(
        settings, scenario_for("live", str(recorded))
    )  # setting off: the header is ignored
    replaying = settings.model_copy(update={"gateway_replay_clock": True})
    serve_gateway(replaying, scenario_for("replayed", str(recorded)))
    serve_gateway(replaying, scenario_for("bad", "yesterday"))
    assert statuses == [200, 200, 400]
    by_key = {m.key(): m for m in _raw_messages(settings, "onvif", 2)}
    assert set(by_key) == {b"live", b"replayed"}
    assert by_key[b"replayed"].timestamp()[1] == recorded
    assert by_key[b"live"].timestamp()[1] > recorded + 3_000_000


def test_unreachable_broker_gets_503_not_a_lost_payload(settings: Settings) -> None:
    down = settings.model_copy(
        update={
            "kafka_bootstrap_servers": f"127.0.0.1:{free_port()}",
            "kafka_timeout_seconds": 1.0,
            "gateway_queue_messages": 1,
        }
    )
    statuses: list[int] = []

    async def scenario(session: ClientSession, base: str) -> None:
        async def post() -> int:
            async with session.post(base + "/push/gat1400", data=b"{}") as r:
                return r.status

        statuses.extend(await asyncio.gather(post(), post()))

    serve_gateway(down, scenario)
    assert statuses == [503, 503]
