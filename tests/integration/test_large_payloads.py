"""Vendor bodies of several megabytes (inline JPEGs) pass the gateway, the raw topic and the
normalize stage, and an unusable one reaches the dead-letter topic whole: the broker's default
record limit (about 1 MB) must not stand in the way of a body the gateway accepted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from aiohttp import ClientSession

from streams.canonical import DeadLetter, PlateCapture
from streams.kafka_admin import ensure_topics, message_limit
from streams.settings import Settings
from streams.topics import DEAD_LETTERS, PLATE_CAPTURES
from tests.integration.gateway_server import serve_gateway
from tests.integration.kafka_reading import read_topic
from tests.integration.worker_process import WorkerProcess

pytestmark = pytest.mark.integration

ANPR = Path(__file__).parents[1] / "vendors" / "fixtures" / "hikvision-isapi" / "anpr_multipart.bin"
BOUNDARY = "bigbody0a1b2c"
IMAGE_BYTES = 3 * 1024 * 1024


def multipart_with_image(xml: bytes, image: bytes) -> bytes:
    parts = [
        (b'name="anpr.xml"; filename="anpr.xml"', b"text/xml", xml),
        (
            b'name="licensePlatePicture.jpg"; filename="licensePlatePicture.jpg"',
            b"image/jpeg",
            image,
        ),
    ]
    out = b""
    for disposition, kind, body in parts:
        out += b"--" + BOUNDARY.encode() + b"\r\n"
        out += b"Content-Disposition: form-data; " + disposition + b"\r\n"
        out += b"Content-Type: " + kind + b"\r\n"
        out += b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body + b"\r\n"
    return out + b"--" + BOUNDARY.encode() + b"--\r\n"


def test_megabyte_bodies_reach_events_and_dead_letters(settings: Settings, tmp_path: Path) -> None:
    text = ANPR.read_bytes()
    xml = text[text.index(b"<?xml") : text.index(b"</EventNotificationAlert>") + 25]
    image = b"\xff\xd8\xff\xe0" + os.urandom(IMAGE_BYTES) + b"\xff\xd9"
    good = multipart_with_image(xml, image)
    bad = b"\x00not a vendor body" + os.urandom(IMAGE_BYTES)
    assert len(good) > 3_000_000
    assert len(bad) < message_limit(settings) < settings.gateway_max_body_bytes * 2
    ensure_topics(settings)

    statuses: list[int] = []

    async def push(session: ClientSession, base: str) -> None:
        for body, kind in (
            (good, f"multipart/form-data; boundary={BOUNDARY}"),
            (bad, "application/xml"),
        ):
            headers = {"Content-Type": kind, "X-Device-Id": "cam-big"}
            url = base.rstrip("/") + "/ISAPI/Event/notification/alert"
            async with session.post(url, data=body, headers=headers) as response:
                statuses.append(response.status)

    serve_gateway(settings, push)
    assert statuses == [200, 200]

    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    try:
        plates = read_topic(settings, settings.topic(PLATE_CAPTURES.name), 1)
        letters = read_topic(settings, settings.topic(DEAD_LETTERS.name), 1)
    finally:
        assert worker.stop() == 0, worker.log_tail()

    [plate] = plates
    assert isinstance(plate, PlateCapture)
    assert plate.plate_number is not None
    # The image became a reference (a hash of its bytes), never inline bytes on the topic.
    assert plate.images
    [letter] = letters
    assert isinstance(letter, DeadLetter)
    assert letter.payload == bad
