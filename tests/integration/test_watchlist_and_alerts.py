"""Managing the watchlist by the search API (supervisors only) and the CLI on a running
backbone, and following the alerts."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from streams.canonical import PlateCapture, TimeProvenance
from streams.codecs.avro import encode
from streams.kafka_admin import ensure_topics
from streams.publisher import Publisher
from streams.settings import Settings
from streams.topics import PLATE_CAPTURES
from tests.integration.worker_process import WorkerProcess, add_users, streams_cli

pytestmark = pytest.mark.integration


def _call(
    url: str, method: str, path: str, body: Any = None, key: str | None = None
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(  # noqa: S310 (loopback)
        url + path, data=data, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def _capture(plate: str, device: str) -> PlateCapture:
    now = datetime.now(UTC)
    return PlateCapture(
        event_id=f"{plate}-{now.timestamp()}",
        source="hikvision-isapi",
        device_id=device,
        captured_at=now - timedelta(milliseconds=200),
        received_at=now,
        time_source=TimeProvenance.SOURCE_OFFSET,
        plate_number=plate,
        confidence=0.9,
    )


def test_entries_added_by_api_and_cli_raise_alerts_and_removal_stops_them(
    settings: Settings, tmp_path: Path
) -> None:
    ensure_topics(settings)
    # The first keys are made on the warehouse directly, before anything holds it.
    keys = add_users(settings, ("sup", "supervisor"), ("inv", "investigator"))
    worker = WorkerProcess(settings, tmp_path / "worker.log", command="run").start()
    api, supervisor = worker.api_url, keys["supervisor"]
    try:
        entry = {"plate": "苏E12345", "reason": "stolen vehicle", "priority": 1, "case_ref": "C-1"}
        assert _call(api, "POST", "/api/v1/watchlist", entry)[0] == 401
        assert _call(api, "POST", "/api/v1/watchlist", entry, keys["investigator"])[0] == 403
        status, answer = _call(api, "POST", "/api/v1/watchlist", entry, supervisor)
        assert status == 201, answer
        assert answer["added"]["created_by"] == "sup"
        entry_id = answer["added"]["entry_id"]
        no_reason = {"plate": "苏E12345"}
        assert _call(api, "POST", "/api/v1/watchlist", no_reason, supervisor)[0] == 400
        bad = {"plate": "X*Y!", "reason": "r"}
        assert _call(api, "POST", "/api/v1/watchlist", bad, supervisor)[0] == 400

        added = streams_cli(settings, "watchlist", "add", "--plate", "浙A9*", "--reason", "case 7")
        assert added.returncode == 0, added.stderr
        refused = streams_cli(settings, "watchlist", "add", "--plate", "浙A9*")
        assert refused.returncode == 2
        assert "reason" in refused.stderr

        def applied() -> bool:
            entries = _call(worker.url, "GET", "/watchlist")[1]["entries"]
            return {e["pattern"] for e in entries} == {"苏E12345", "浙A9*"}

        worker.wait_for(applied, 30, "applying both entries")
        listed = streams_cli(settings, "watchlist", "list", "--json")
        assert {json.loads(line)["pattern"] for line in listed.stdout.splitlines()} == {
            "苏E12345",
            "浙A9*",
        }

        publisher = Publisher(settings)
        topic = settings.topic(PLATE_CAPTURES.name)
        for plate in ("苏E12345", "浙A98765", "京N00000"):
            event = _capture(plate, "31010100001320000001")
            publisher.produce(topic, encode(event), event.device_id.encode())
        publisher.flush_sync()
        tail = streams_cli(
            settings,
            "alerts",
            "tail",
            "--from-beginning",
            "--json",
            "--limit",
            "2",
            "--idle-exit",
            "30",
        )
        alerts = [json.loads(line) for line in tail.stdout.splitlines()]
        assert sorted(a["plate_numbers"][0] for a in alerts) == ["浙A98765", "苏E12345"]
        hit = next(a for a in alerts if a["plate_numbers"] == ["苏E12345"])
        assert (hit["priority"], hit["reason"], hit["case_ref"]) == (1, "stolen vehicle", "C-1")
        text = streams_cli(settings, "alerts", "tail", "--from-beginning", "--limit", "1")
        assert "watchlist" in text.stdout
        assert "P" in text.stdout

        removal = f"/api/v1/watchlist/{entry_id}"
        assert _call(api, "DELETE", removal, key=keys["investigator"])[0] == 403
        assert _call(api, "DELETE", removal, key=supervisor)[0] == 200
        worker.wait_for(
            lambda: all(
                e["entry_id"] != entry_id
                for e in _call(worker.url, "GET", "/watchlist")[1]["entries"]
            ),
            30,
            "removing the entry",
        )
        event = _capture("苏E12345", "31010100001320000002")
        publisher.produce(topic, encode(event), event.device_id.encode())
        publisher.flush_sync()
        time.sleep(3)
        again = streams_cli(
            settings, "alerts", "tail", "--from-beginning", "--json", "--idle-exit", "5"
        )
        assert len(again.stdout.splitlines()) == 2  # nothing new for the removed entry
    finally:
        assert worker.stop() == 0, worker.log_tail()
