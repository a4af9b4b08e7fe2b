"""Replay pieces that need no broker: the capture file reader, pacing, routes, percentiles."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from loadtest.report import percentiles
from streams.replay import Capture, Pacing, ReplayError, gateway_route, read_captures


def _write(path: Path, lines: list[object]) -> Path:
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return path


def test_capture_lines_text_and_binary(tmp_path: Path) -> None:
    body = b"--b\r\nbinary\x00\xff"
    path = _write(
        tmp_path / "c.jsonl",
        [
            {"line": 0, "source": "gat1400", "device_id": "d1", "at": 0.5, "payload": "{}"},
            {
                "line": 1,
                "source": "hikvision-isapi",
                "device_id": "d2",
                "at": 1,
                "payload_b64": base64.b64encode(body).decode(),
                "content_type": "multipart/form-data; boundary=b",
            },
        ],
    )
    first, second = read_captures(path)
    assert first == Capture(0, "gat1400", "d1", 0.5, b"{}", None)
    assert second.body == body
    assert second.content_type == "multipart/form-data; boundary=b"


@pytest.mark.parametrize(
    "bad",
    [
        {"source": "axis", "device_id": "d", "at": 0, "payload": "x"},
        {"source": "onvif", "at": 0, "payload": "x"},
        {"source": "onvif", "device_id": "d", "at": "soon", "payload": "x"},
        {"source": "onvif", "device_id": "d", "at": 0, "payload_b64": "***"},
    ],
)
def test_a_broken_line_is_named(tmp_path: Path, bad: dict[str, object]) -> None:
    path = _write(tmp_path / "c.jsonl", [bad])
    with pytest.raises(ReplayError, match=r"c\.jsonl:1: not a capture line"):
        list(read_captures(path))


def test_pacing_schedules() -> None:
    assert Pacing(speedup=60).offset(5, 120.0) == 2.0
    assert Pacing(rate=100).offset(50, 999.0) == 0.5
    assert Pacing().offset(3, 10.0) is None
    assert "x60" in Pacing(speedup=60).describe()


def test_gateway_routes_follow_the_vendor() -> None:
    def route(source: str, body: bytes) -> str:
        return gateway_route(Capture(0, source, "d", 0.0, body, None))

    assert route("gat1400", b'{"FaceListObject": {}}') == "/VIID/Faces"
    assert route("gat1400", b'{"MotorVehicleListObject": {}}') == "/VIID/MotorVehicles"
    assert route("gat1400", b'{"SubscribeNotificationListObject": {}}') == (
        "/VIID/SubscribeNotifications"
    )
    assert route("hikvision-isapi", b"<x/>").startswith("/ISAPI/")
    assert route("uniview-lapi", b"{}").startswith("/LAPI/")
    assert route("dahua-cgi", b"Code=x") == "/push/dahua-cgi"


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 1001)]
    figures = percentiles(values)
    assert figures["count"] == 1000
    assert figures["p50"] == 500.0
    assert figures["p99"] == 990.0
    assert figures["p99_9"] == 999.0
    assert figures["max"] == 1000.0
    assert percentiles([])["p99"] is None


def test_a_start_older_than_the_raw_retention_is_refused(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from streams.replay import run_replay
    from streams.settings import Settings

    path = _write(tmp_path / "c.jsonl", [])
    old = datetime.now(UTC) - timedelta(days=10)
    with pytest.raises(ReplayError, match="older than the raw topics' retention"):
        run_replay(Settings(), path, Pacing(), start=old, quiet=True)
