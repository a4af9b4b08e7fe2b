"""``streams replay``: send a capture file into the raw topics, or through the ingest gateway.

A capture file holds JSON lines ``{"source", "device_id", "at", "payload" | "payload_b64",
"content_type"?}``, sorted by ``at`` (seconds from the scenario's start), as ``streams generate``
writes them. Pacing: real time times a speed-up, a fixed rate, or as fast as possible.

Event time: a payload recorded at ``at`` is stamped as received at ``start + at`` (the start from
``--start`` or the ``city.json`` beside the file), so windows and lateness see the traffic as it
was recorded however fast it is replayed; ``--wall-clock`` stamps the send time instead.

Every payload's intended send time is kept: latencies measured from it include the time a slow
receiver made the replay wait (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from streams.errors import UserError
from streams.settings import Settings
from streams.topics import SOURCES, raw_topic_name

MANIFEST = "city.json"


class ReplayError(UserError):
    pass


@dataclass(frozen=True)
class Capture:
    line: int
    source: str
    device_id: str
    at: float
    body: bytes
    content_type: str | None


def read_captures(path: Path) -> Iterator[Capture]:
    """The captures of a file, checked line by line (a bad line stops the replay, with its
    number: a capture file is produced by tools, so a bad line means a broken file)."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ReplayError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        for number, raw in enumerate(handle):
            if not raw.strip():
                continue
            try:
                data = orjson.loads(raw)
                source = data["source"]
                if source not in SOURCES:
                    raise ValueError(f"unknown source {source!r}")
                if "payload_b64" in data:
                    body = base64.b64decode(data["payload_b64"], validate=True)
                else:
                    body = str(data["payload"]).encode()
                yield Capture(
                    line=int(data.get("line", number)),
                    source=source,
                    device_id=str(data["device_id"]),
                    at=float(data["at"]),
                    body=body,
                    content_type=data.get("content_type"),
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise ReplayError(f"{path}:{number + 1}: not a capture line ({exc})") from None


def manifest_start(path: Path) -> datetime | None:
    """The scenario start from the ``city.json`` beside a capture file, if there is one."""
    manifest = path.parent / MANIFEST
    if not manifest.is_file():
        return None
    start = json.loads(manifest.read_text(encoding="utf-8")).get("start")
    return datetime.fromisoformat(start) if start else None


@dataclass(frozen=True)
class Pacing:
    """One of: ``speedup`` (recorded time / speedup), ``rate`` (payloads/s), or neither (as
    fast as possible)."""

    speedup: float | None = None
    rate: float | None = None

    def offset(self, index: int, at: float) -> float | None:
        """Seconds after the replay's start this payload is due; None: no schedule."""
        if self.speedup is not None:
            return at / self.speedup
        if self.rate is not None:
            return index / self.rate
        return None

    def describe(self) -> str:
        if self.speedup is not None:
            return f"recorded time x{self.speedup:g}"
        if self.rate is not None:
            return f"{self.rate:g} payloads/s"
        return "as fast as possible"


@dataclass
class ReplayResult:
    sent: int = 0
    failed: int = 0
    refused: int = 0  # answered 4xx by the gateway (counted, not retried)
    started: float = 0.0  # wall clock (epoch seconds)
    finished: float = 0.0
    # Per capture line: the wall time (epoch seconds) it was due.
    intended: dict[int, float] = field(default_factory=dict)
    # Per second of the replay: payloads sent in it.
    sent_per_second: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return max(self.finished - self.started, 1e-9)

    def summary(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "failed": self.failed,
            "refused": self.refused,
            "seconds": round(self.seconds, 2),
            "rate": round(self.sent / self.seconds, 1),
        }


Progress = Callable[[ReplayResult, int], None]


class _Schedule:
    """Waits until each payload is due and records when that was."""

    def __init__(self, pacing: Pacing, result: ReplayResult) -> None:
        self.pacing = pacing
        self.result = result
        self.t0 = time.time()
        result.started = self.t0

    def due(self, index: int, capture: Capture) -> float:
        """Seconds to wait before this payload (0 when due or late), recording its intended
        wall time."""
        offset = self.pacing.offset(index, capture.at)
        now = time.time()
        intended = now if offset is None else self.t0 + offset
        self.result.intended[capture.line] = intended
        return max(intended - now, 0.0)

    def count(self) -> None:
        second = int(time.time() - self.t0)
        self.result.sent_per_second[second] = self.result.sent_per_second.get(second, 0) + 1


def _received_ms(start: datetime | None, capture: Capture) -> int:
    if start is None:
        return 0  # the producer's (or gateway's) clock
    return int(start.timestamp() * 1000 + capture.at * 1000)


def replay_to_kafka(
    settings: Settings,
    captures: Iterator[Capture],
    pacing: Pacing,
    start: datetime | None,
    progress: Progress | None = None,
) -> ReplayResult:
    """Produce each payload to ``raw.<source>``, keyed by device, with its content type."""
    from confluent_kafka import Producer

    from streams.publisher import producer_config

    producer = Producer(producer_config(settings))
    result = ReplayResult()
    lock = threading.Lock()

    def delivered(err: Any, _msg: Any) -> None:
        with lock:
            if err is None:
                result.sent += 1
            else:
                result.failed += 1
                if len(result.errors) < 10:
                    result.errors.append(str(err))

    schedule = _Schedule(pacing, result)
    topics = {s: settings.topic(raw_topic_name(s)) for s in SOURCES}
    last_report = time.monotonic()
    index = 0
    for index, capture in enumerate(captures):
        wait = schedule.due(index, capture)
        if wait > 0.001:
            producer.poll(wait)
            time.sleep(max(0.0, schedule.result.intended[capture.line] - time.time()))
        headers: list[tuple[str, str | bytes | None]] = (
            [("content-type", capture.content_type.encode())] if capture.content_type else []
        )
        while True:
            try:
                producer.produce(
                    topics[capture.source],
                    capture.body,
                    capture.device_id.encode(),
                    headers=headers,
                    timestamp=_received_ms(start, capture),
                    on_delivery=delivered,
                )
                break
            except BufferError:
                producer.poll(0.05)
        schedule.count()
        producer.poll(0)
        if progress is not None and time.monotonic() - last_report >= 1.0:
            last_report = time.monotonic()
            progress(result, index + 1)
    remaining = producer.flush(max(settings.kafka_timeout_seconds, 30))
    result.failed += remaining
    result.finished = time.time()
    if progress is not None:
        progress(result, index + 1)
    return result


def gateway_route(capture: Capture) -> str:
    """The path a camera or platform of this source pushes to."""
    if capture.source == "gat1400":
        head = capture.body[:200]
        if b"FaceListObject" in head:
            return "/VIID/Faces"
        if b"SubscribeNotificationListObject" in head:
            return "/VIID/SubscribeNotifications"
        return "/VIID/MotorVehicles"
    if capture.source == "hikvision-isapi":
        return "/ISAPI/Event/notification/alertStream"
    if capture.source == "uniview-lapi":
        return "/LAPI/V1.0/System/Event/Notification/Structure"
    return f"/push/{capture.source}"


def replay_to_gateway(
    url: str,
    captures: Iterator[Capture],
    pacing: Pacing,
    start: datetime | None,
    progress: Progress | None = None,
    concurrency: int = 64,
) -> ReplayResult:
    """POST each payload to the gateway as its vendor would, ``concurrency`` at a time; a 503
    (backpressure) is retried after the Retry-After the gateway names."""
    return asyncio.run(_to_gateway(url.rstrip("/"), captures, pacing, start, progress, concurrency))


async def _to_gateway(
    url: str,
    captures: Iterator[Capture],
    pacing: Pacing,
    start: datetime | None,
    progress: Progress | None,
    concurrency: int,
) -> ReplayResult:
    from aiohttp import ClientError, ClientSession, ClientTimeout, TCPConnector

    from streams.gateway.server import REPLAY_RECEIVED_AT

    result = ReplayResult()
    schedule = _Schedule(pacing, result)
    slots = asyncio.Semaphore(concurrency)
    tasks: set[asyncio.Task[None]] = set()

    async def send(session: ClientSession, capture: Capture) -> None:
        headers = {"X-Device-Id": capture.device_id}
        if capture.content_type:
            headers["Content-Type"] = capture.content_type
        stamp = _received_ms(start, capture)
        if stamp:
            headers[REPLAY_RECEIVED_AT] = str(stamp)
        last = "gave up after 20 attempts (503)"
        try:
            for _attempt in range(20):
                try:
                    async with session.post(
                        url + gateway_route(capture), data=capture.body, headers=headers
                    ) as answer:
                        await answer.read()
                        if answer.status == 503:
                            await asyncio.sleep(float(answer.headers.get("Retry-After", "1")))
                            continue
                        if answer.status >= 500:
                            raise ClientError(f"HTTP {answer.status}")
                        if answer.status >= 400:
                            result.refused += 1  # e.g. a malformed GA/T 1400 batch: forwarded
                        result.sent += 1
                        schedule.count()
                        return
                except (ClientError, TimeoutError) as exc:
                    last = str(exc) or type(exc).__name__
                    await asyncio.sleep(0.5)
            result.failed += 1
            if len(result.errors) < 10:
                result.errors.append(f"line {capture.line}: {last}")
        finally:
            slots.release()

    last_report = time.monotonic()
    index = 0
    connector = TCPConnector(limit=concurrency)
    async with ClientSession(connector=connector, timeout=ClientTimeout(total=60)) as session:
        for index, capture in enumerate(captures):
            wait = schedule.due(index, capture)
            if wait > 0.001:
                await asyncio.sleep(wait)
            await slots.acquire()
            task = asyncio.create_task(send(session, capture))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            if progress is not None and time.monotonic() - last_report >= 1.0:
                last_report = time.monotonic()
                progress(result, index + 1)
        if tasks:
            await asyncio.gather(*tasks)
    result.finished = time.time()
    if progress is not None:
        progress(result, index + 1)
    return result


def print_progress(result: ReplayResult, offered: int) -> None:
    elapsed = max(time.time() - result.started, 1e-9)
    print(
        f"  replay: {offered} offered, {result.sent} sent ({result.sent / elapsed:,.0f}/s), "
        f"{result.failed} failed, {elapsed:,.0f}s",
        flush=True,
    )


def _check_retention(start: datetime) -> None:
    """Records stamped older than the raw topics keep records are deleted by the broker before
    the pipeline reads them."""
    from streams.topics import RAW

    hours = min(spec.retention_hours or 10**6 for spec in RAW.values())
    oldest = datetime.now(UTC) - timedelta(hours=hours) + timedelta(minutes=30)
    if start < oldest:
        raise ReplayError(
            f"the recorded start {start.isoformat()} is older than the raw topics' retention "
            f"({hours} h): the broker would delete the replayed payloads before they are "
            "read; give a later --start (e.g. now minus the duration) or --wall-clock"
        )


def run_replay(
    settings: Settings,
    path: Path,
    pacing: Pacing,
    *,
    gateway: str | None = None,
    start: datetime | None = None,
    wall_clock: bool = False,
    quiet: bool = False,
) -> ReplayResult:
    """The command: checks the file first, then replays it with progress once a second."""
    event_start = None if wall_clock else (start or manifest_start(path))
    if event_start is not None:
        _check_retention(event_start)
    captures = read_captures(path)
    progress = None if quiet else print_progress
    if not quiet:
        stamp = event_start.isoformat() if event_start else "the send time"
        target = gateway or f"Kafka at {settings.kafka_bootstrap_servers}"
        print(f"replaying {path} to {target}, {pacing.describe()}; received times from {stamp}")
    if gateway is not None:
        return replay_to_gateway(gateway, captures, pacing, event_start, progress)
    from streams.kafka_admin import ensure_topics

    ensure_topics(settings)
    return replay_to_kafka(settings, captures, pacing, event_start, progress)
