"""Captures through the real broker and ``streams run`` (pipeline, sinks and search API in one
process) land in the embedded warehouse and are found by every query kind through the CLI;
each search is on the audit trail; searches without a reason or with the wrong role are refused.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from streams.canonical import Alarm, FaceCapture, GeoPoint, PlateCapture, TimeProvenance
from streams.canonical.models import AlarmType, CanonicalEvent
from streams.codecs.avro import encode
from streams.kafka_admin import ensure_topics
from streams.publisher import Publisher
from streams.settings import Settings
from streams.topics import ALARMS, FACE_CAPTURES, PLATE_CAPTURES
from tests.conftest import settings_env
from tests.integration.worker_process import WorkerProcess, post_json, streams_cli

pytestmark = pytest.mark.integration

# Four checkpoints about 1 km apart on one road, and one 100 km away.
DEVICES = {
    "D1": GeoPoint(lat=30.2500, lon=120.1500),
    "D2": GeoPoint(lat=30.2590, lon=120.1500),
    "D3": GeoPoint(lat=30.2680, lon=120.1500),
    "D4": GeoPoint(lat=30.2770, lon=120.1500),
    "D9": GeoPoint(lat=31.1500, lon=120.1500),
}
REASON = ["--reason", "robbery follow-up", "--case", "2026-0412"]


def _plate(plate: str, device: str, at: datetime, n: int) -> PlateCapture:
    return PlateCapture(
        event_id=f"p-{plate}-{device}-{n}",
        source="gat1400",
        device_id=device,
        captured_at=at,
        received_at=at + timedelta(seconds=1),
        time_source=TimeProvenance.SOURCE_OFFSET,
        position=DEVICES[device],
        plate_number=plate,
        confidence=0.9,
    )


def _face(event_id: str, device: str, at: datetime, embedding: list[float]) -> FaceCapture:
    return FaceCapture(
        event_id=event_id,
        source="gat1400",
        device_id=device,
        captured_at=at,
        received_at=at + timedelta(seconds=1),
        time_source=TimeProvenance.SOURCE_OFFSET,
        position=DEVICES[device],
        track_id=event_id,
        quality=0.8,
        embedding=embedding,
    )


def _scenario(t0: datetime) -> list[CanonicalEvent]:
    events: list[CanonicalEvent] = []
    for i, device in enumerate(("D1", "D2", "D3", "D4")):
        at = t0 + timedelta(seconds=60 * i)
        events.append(_plate("浙A12345", device, at, i))
        events.append(_plate("浙B77777", device, at + timedelta(seconds=10), i))  # companion
    events.append(_plate("浙C11111", "D1", t0 + timedelta(seconds=5), 0))
    events.append(_plate("浙A12345", "D9", t0 + timedelta(seconds=30), 9))  # a second car
    events.append(_plate("苏A1234S", "D2", t0 + timedelta(seconds=300), 0))  # misread twin
    face = [1.0 if j == 0 else 0.01 * j for j in range(128)]
    similar = [v + (0.02 if j == 5 else 0.0) for j, v in enumerate(face)]
    other = [1.0 if j == 64 else 0.0 for j in range(128)]
    events.append(_face("f-1", "D1", t0 + timedelta(seconds=2), face))
    events.append(_face("f-2", "D3", t0 + timedelta(seconds=125), similar))
    events.append(_face("f-3", "D4", t0 + timedelta(seconds=190), other))
    at = t0 + timedelta(seconds=62)
    events.append(
        Alarm(
            event_id="a-1",
            source="dahua-cgi",
            device_id="D2",
            captured_at=at,
            received_at=at + timedelta(seconds=1),
            time_source=TimeProvenance.REAL_UTC,
            position=DEVICES["D2"],
            alarm_type=AlarmType.INTRUSION,
            vendor_event_type="CrossRegionDetection",
        )
    )
    return sorted(events, key=lambda e: e.captured_at)


def _search(settings: Settings, key: str, *args: str) -> list[dict[str, Any]]:
    done = streams_cli(settings, "search", *args, *REASON, "--token", key, "--json")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_landed_events_are_found_by_every_kind_and_every_search_is_audited(
    settings: Settings, tmp_path: Path
) -> None:
    ensure_topics(settings)
    keys = {}
    for user, role in (("ivy", "investigator"), ("aud", "auditor")):
        made = streams_cli(settings, "users", "add", user, "--role", role)
        assert made.returncode == 0, made.stderr
        keys[role] = made.stdout.split()[-1]
    inv = keys["investigator"]

    t0 = (datetime.now(UTC) - timedelta(minutes=10)).replace(microsecond=0)
    publisher = Publisher(settings)
    topic_of = {
        "plate": settings.topic(PLATE_CAPTURES.name),
        "face": settings.topic(FACE_CAPTURES.name),
        "alarm": settings.topic(ALARMS.name),
    }
    for event in _scenario(t0):
        publisher.produce(topic_of[event.kind], encode(event), event.device_id.encode())
    publisher.flush_sync()

    run = WorkerProcess(settings, tmp_path / "run.log", command="run").start()
    try:
        since = (t0 - timedelta(minutes=1)).isoformat()
        until = (t0 + timedelta(minutes=10)).isoformat()

        def landed() -> bool:
            plates = _search(settings, inv, "plate", "--devices", *DEVICES, "--since", since)
            faces = _search(settings, inv, "trajectory", "--track-id", "f-3")
            return len(plates) == 11 and len(faces) == 1

        run.wait_for(landed, 90, "landing every pass")

        exact = _search(settings, inv, "plate", "浙A12345")
        assert sorted(r["device_id"] for r in exact) == ["D1", "D2", "D3", "D4", "D9"]
        assert [r["captured_at"] for r in exact] == sorted(
            (r["captured_at"] for r in exact), reverse=True
        )  # newest first
        wildcard = _search(settings, inv, "plate", "浙?1*")
        assert {r["plate_number"] for r in wildcard} == {"浙A12345", "浙C11111"}
        fuzzy = _search(settings, inv, "plate", "浙A12345", "--fuzzy")
        assert {r["plate_number"] for r in fuzzy} == {"浙A12345", "苏A1234S"}

        path = _search(settings, inv, "trajectory", "--plate", "浙B77777")
        assert [r["device_id"] for r in path] == ["D1", "D2", "D3", "D4"]
        first = _search(settings, inv, "first-seen", "浙A12345")
        assert len(first) == 1
        assert first[0]["first_device_id"] == "D1"
        assert first[0]["last_device_id"] == "D4"

        d2 = f"{DEVICES['D2'].lat},{DEVICES['D2'].lon},200"
        area = _search(settings, inv, "area", "--area", d2, "--since", since, "--until", until)
        assert {r.get("event_id") for r in area} >= {"a-1", "p-浙A12345-D2-1", "p-浙B77777-D2-1"}
        assert all(r["device_id"] == "D2" for r in area)

        def window(device: str, start: int, end: int) -> str:
            point = DEVICES[device]
            low, high = t0 + timedelta(seconds=start), t0 + timedelta(seconds=end)
            return f"{point.lat},{point.lon},200@{low.isoformat()}/{high.isoformat()}"

        both = _search(
            settings,
            inv,
            "collision",
            "--sets",
            window("D1", -10, 20),
            "--sets",
            window("D3", 110, 140),
        )
        assert {r["plate_number"] for r in both} == {"浙A12345", "浙B77777"}

        companions = _search(settings, inv, "cotravel", "浙A12345", "--since", since)
        assert companions[0]["plate_number"] == "浙B77777"
        assert companions[0]["shared_devices"] == 4
        assert "浙C11111" not in {r["plate_number"] for r in companions}

        faces = _search(settings, inv, "face", "--event-id", "f-1", "--top-k", "2")
        assert [r["event_id"] for r in faces] == ["f-2", "f-3"]  # the query face itself is left out
        assert faces[0]["distance"] < 0.01 < faces[1]["distance"]

        def alerted() -> bool:
            return bool(_search(settings, inv, "alerts", "--rules", "cloned_plate"))

        run.wait_for(alerted, 60, "landing the cloned-plate alert")
        cloned = _search(settings, inv, "alerts", "--rules", "cloned_plate")
        # The sighting 100 km away conflicts with each of the four on the road.
        assert len(cloned) == 4
        assert all(a["plate_numbers"] == ["浙A12345"] and "D9" in a["device_ids"] for a in cloned)
        relations = _search(settings, inv, "correlations", "--plate", "浙A12345")
        assert relations
        assert relations[0]["relation"] == "person_vehicle"
        hour = t0.replace(minute=0, second=0).isoformat()  # buckets that start in the range
        stats = _search(settings, inv, "device-stats", "--devices", "D1", "--since", hour)
        assert sum(r["events"] for r in stats if r["kind"] == "plate") == 3

        # Refusals: no reason (CLI and HTTP), and a role that may not search.
        refused = streams_cli(settings, "search", "plate", "浙A12345", "--token", inv)
        assert refused.returncode != 0
        assert "reason" in refused.stderr
        url = f"{run.api_url}/api/v1/search/plate"
        assert post_json(url, {"query": {"plate": "浙A12345"}}, inv) == 400
        body = {"reason": "robbery follow-up", "case_ref": "2026-0412", "query": {"plate": "x"}}
        assert post_json(url, body, keys["auditor"]) == 403

        trail = streams_cli(
            settings,
            "audit",
            "--user",
            "ivy",
            "--limit",
            "1000",
            "--json",
            "--token",
            keys["auditor"],
        )
        assert trail.returncode == 0, trail.stderr
        rows = [json.loads(line) for line in trail.stdout.splitlines()]
        answered = {r["kind"] for r in rows if r["outcome"] == "answered"}
        assert answered >= {
            "plate",
            "trajectory",
            "first-seen",
            "area",
            "collision",
            "cotravel",
            "face",
            "alerts",
            "correlations",
            "device-stats",
        }
        assert sum(r["outcome"] == "refused" for r in rows) == 2
        assert all(r["case_ref"] == "2026-0412" for r in rows if r["outcome"] == "answered")
        not_auditor = streams_cli(settings, "audit", "--token", inv)
        assert not_auditor.returncode != 0
        assert "auditor" in not_auditor.stderr
    finally:
        assert run.stop() == 0, run.log_tail()


def test_the_api_alone_serves_search_and_the_cli_goes_through_it(
    settings: Settings, tmp_path: Path
) -> None:
    made = streams_cli(settings, "users", "add", "solo", "--role", "investigator")
    assert made.returncode == 0, made.stderr
    key = made.stdout.split()[-1]
    log = tmp_path / "api.log"
    with log.open("wb") as out:
        api = subprocess.Popen(
            [sys.executable, "-m", "streams", "api"],
            env=settings_env(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://{settings.api_host}:{settings.api_port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/readyz", timeout=2) as response:  # noqa: S310
                    assert json.loads(response.read())["status"] == "ready"
                    break
            except OSError:
                assert api.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.3)
        # The API holds the embedded warehouse: the CLI can only answer through it.
        found = _search(settings, key, "plate", "浙A12345")
        assert found == []
        with urllib.request.urlopen(base + "/openapi.json", timeout=5) as response:  # noqa: S310
            assert "/api/v1/search/plate" in json.loads(response.read())["paths"]
    finally:
        api.send_signal(signal.SIGINT)
        api.wait(30)
    trail = streams_cli(settings, "users", "list")  # the warehouse is free again
    assert trail.returncode == 0, trail.stderr
    assert "solo" in trail.stdout
