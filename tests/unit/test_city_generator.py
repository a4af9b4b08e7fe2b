"""The synthetic city: payloads every adapter reads, a registry and watchlist the rules load,
determinism, and (the key check) the worker's rules run offline agree with the ground truth."""

from __future__ import annotations

import argparse
import itertools
import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from loadtest.captures import CaptureLine, read_captures
from loadtest.city import CLOCK_AHEAD_SECONDS, CityConfig, registry_position
from loadtest.generate import City, add_generate_arguments, generate, run_generate, write_city
from loadtest.score import (
    LineEvents,
    alert_record_of,
    normalize_captures,
    score,
    unique_event_of,
)
from loadtest.truth import read_truth, truth_to_json
from streams.canonical import Alarm, CanonicalEvent, FaceCapture, PlateCapture
from streams.correlate.config import RuleConfig
from streams.correlate.pipeline import run_offline
from streams.correlate.records import Alert
from streams.correlate.watchlist import read_watchlist_file, watchlist_from_entries
from streams.domain.devices import DeviceRegistry
from streams.domain.geo import haversine_m
from streams.domain.plates import one_confusion_apart
from streams.topics import SOURCES
from streams.vendors.clock_ahead import DEVICE_TIME_ATTRIBUTE

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
SMALL = CityConfig(cameras=200, vehicles=800, pedestrians=500, hours=1.0, start=START)
TINY = CityConfig(
    cameras=40, vehicles=120, pedestrians=60, hours=0.5, spread_km=5.0, start=START, seed=7
)


@dataclass
class SmallCity:
    """The small city's lines through the adapters, in ``at`` order."""

    city: City
    out: Path
    devices: DeviceRegistry
    events: list[CanonicalEvent]  # every canonical event, in line order
    by_line: dict[int, list[CanonicalEvent]]
    rejected: dict[int, list[str]]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> SmallCity:
    city = generate(SMALL)
    out = tmp_path_factory.mktemp("city")
    write_city(city, out)
    devices = DeviceRegistry.from_csv(out / "devices.csv")
    events: list[CanonicalEvent] = []
    by_line: dict[int, list[CanonicalEvent]] = {}
    rejected: dict[int, list[str]] = {}
    for line, result in normalize_captures(read_captures(out / "captures.jsonl"), START, devices):
        events += result.events
        by_line[line.line] = result.events
        if result.rejected:
            rejected[line.line] = [r.reason for r in result.rejected]
    return SmallCity(city, out, devices, events, by_line, rejected)


def test_every_good_line_becomes_events_and_every_malformed_line_a_dead_letter(
    small: SmallCity,
) -> None:
    malformed = set(small.city.truth.malformed_lines)
    assert len(malformed) >= 5
    for number, events in small.by_line.items():
        if number in malformed:
            assert number in small.rejected, f"malformed line {number} was accepted"
            assert not events
        else:
            assert number not in small.rejected, (number, small.rejected.get(number))
            assert events, f"line {number} holds no event"
    assert len(small.by_line) == len(small.city.captures)


def test_event_device_ids_are_the_registry_ids_and_the_kafka_keys(small: SmallCity) -> None:
    lines = {line.line: line for line in small.city.captures}
    seen_sources: Counter[str] = Counter()
    for number, events in small.by_line.items():
        for event in events:
            assert event.device_id in small.devices
            assert event.device_id == lines[number].device_id
            assert event.position is not None  # the registry placed it
            seen_sources[event.source] += 1
    assert set(seen_sources) == {"hikvision-isapi", "dahua-cgi", "uniview-lapi", "gat1400"}
    derived = [d.device_id for d in small.devices if ":" in d.device_id]
    assert derived, "some Hikvision/Uniview cameras send no GB/T 28181 code"


def test_registry_lists_every_camera_where_it_stands(small: SmallCity) -> None:
    cameras = small.city.layout.cameras
    assert len(small.devices) == len(cameras) == SMALL.cameras
    systems = Counter(c.coord_system for c in cameras)
    assert systems["wgs84"]
    assert systems["gcj02"]
    for camera in cameras:
        device = small.devices.get(camera.device_id)
        assert device is not None
        assert haversine_m(device.lat, device.lon, camera.lat, camera.lon) < 5.0
        assert device.timezone == "Asia/Shanghai"
        if camera.coord_system != "wgs84":  # listed off the true spot by the datum shift
            listed = registry_position(camera)
            assert haversine_m(*listed, camera.lat, camera.lon) > 100.0
    lats = [c.lat for c in cameras]
    lons = [c.lon for c in cameras]
    assert 30.15 < min(lats) < max(lats) < 30.40
    assert 120.0 < min(lons) < max(lons) < 120.3
    spread = haversine_m(min(lats), min(lons), max(lats), max(lons))
    assert 12_000 < spread < 25_000


def test_capture_file_is_sorted_and_complete(small: SmallCity) -> None:
    lines = read_captures(small.out / "captures.jsonl")
    assert [line.line for line in lines] == list(range(len(lines)))
    assert all(a.at <= b.at for a, b in itertools.pairwise(lines))
    assert {line.source for line in lines} <= set(SOURCES)
    assert any(line.binary and (line.content_type or "").startswith("multipart/") for line in lines)
    assert all(line.content_type for line in lines)
    assert lines == small.city.captures


def test_times_are_on_time_except_the_flushed_buffers(small: SmallCity) -> None:
    truth = small.city.truth
    late_lines = {line for p in truth.passes if p.late for line in p.lines}
    first_line = {line: min(p.lines) for p in truth.passes for line in p.lines}
    lateness = timedelta(seconds=10)
    first_seen: set[str] = set()
    slow_copies = 0
    for number in sorted(small.by_line):
        for event in small.by_line[number]:
            if event.event_id in first_seen:
                continue  # a re-push arrives later by design; the pipeline knows its id
            first_seen.add(event.event_id)
            delay = event.received_at - event.captured_at
            if isinstance(event, PlateCapture) and number not in late_lines and delay > lateness:
                # A slow cascade copy of a pass delivered on time before it.
                assert event.source == "gat1400", number
                assert first_line[number] < number, number
                slow_copies += 1
            elif isinstance(event, PlateCapture):
                assert (delay > lateness) == (number in late_lines), (number, delay)
            assert delay > timedelta(seconds=-5)  # skewed clocks are at most a few s ahead
    assert late_lines
    assert slow_copies


def test_the_mess_is_there(small: SmallCity) -> None:
    counts = small.city.counts
    for name in (
        "duplicates_extra_snapshots",
        "duplicates_repushes",
        "duplicates_cascade_copies",
        "duplicates_face_updates",
        "misreads",
        "unreadable_passes",
        "late_passes",
        "watchlist_hits",
    ):
        assert counts[name] > 0, name
    assert counts["cloned_plates"] == SMALL.cloned_plates
    assert counts["convoys"] >= SMALL.convoys
    assert any(c.skew for c in small.city.layout.cameras)
    # A camera 8 h ahead: the pipeline takes it for a zone error, and keeps the device's time.
    ahead = [c.device_id for c in small.city.layout.cameras if c.skew == CLOCK_AHEAD_SECONDS]
    assert len(ahead) == SMALL.clock_ahead_cameras == 1
    from_ahead = [e for e in small.events if e.device_id == ahead[0]]
    assert from_ahead
    for event in from_ahead:
        device_time = datetime.fromisoformat(event.attributes[DEVICE_TIME_ATTRIBUTE])
        assert device_time - event.captured_at == timedelta(hours=8)
        assert event.captured_at <= event.received_at
    passes = [p for p in small.city.truth.passes if p.device_id == ahead[0]]
    assert passes
    for p in passes:
        true_time = START + timedelta(seconds=p.captured_offset)
        assert abs(p.captured_at - true_time) < timedelta(seconds=1)
    planted = small.city.truth.planted
    expected = small.city.truth.expected
    assert set(planted["cloned_plates"]) == set(expected.cloned_plate)
    assert {tuple(sorted(pair)) for pair in planted["convoys"]} <= set(expected.convoy)
    assert any("*" in e["pattern"] or "?" in e["pattern"] for e in planted["watchlist"])


def test_reads_of_a_pass_differ_by_at_most_one_ocr_confusion(small: SmallCity) -> None:
    misread = 0
    for p in small.city.truth.passes:
        reads = [e for line in p.lines for e in small.by_line[line]]
        assert {e.device_id for e in reads} == {p.device_id}
        if p.plate is None:
            assert all(isinstance(e, PlateCapture) and e.plate_number is None for e in reads)
            continue
        plates = [e.plate_number for e in reads if isinstance(e, PlateCapture)]
        assert all(one_confusion_apart(p.plate, plate or "") for plate in plates)
        best = max(reads, key=lambda e: (e.confidence or 0.0, e.source != "gat1400"))
        assert isinstance(best, PlateCapture)
        assert best.plate_number == p.plate
        misread += any(plate != p.plate for plate in plates)
    assert misread > 50


def test_the_watchlist_file_loads(small: SmallCity) -> None:
    text = (small.out / "watchlist.txt").read_text(encoding="utf-8")
    entries = read_watchlist_file(text, created_at=START)
    ids = {e.entry_id for e in entries}
    assert len(entries) == len(small.city.truth.planted["watchlist"])
    assert {entry for _pass, entry in small.city.truth.expected.watchlist} <= ids


def test_the_rules_offline_agree_with_the_truth(small: SmallCity) -> None:
    """Normalize in ``at`` order with received_at = start + at, run the worker's rules as
    ``streams correlate`` does, and score against the ground truth."""
    now = START + timedelta(hours=3)
    text = (small.out / "watchlist.txt").read_text(encoding="utf-8")
    watchlist = watchlist_from_entries(read_watchlist_file(text, created_at=now))
    records = list(run_offline(small.events, RuleConfig(), watchlist, now))
    unique = [
        unique_event_of(r) for r in records if isinstance(r, PlateCapture | FaceCapture | Alarm)
    ]
    alerts = [alert_record_of(r) for r in records if isinstance(r, Alert)]
    ids = {number: [e.event_id for e in events] for number, events in small.by_line.items()}
    result = score(
        read_truth(small.out / "truth.json"),
        LineEvents(ids, frozenset(small.rejected)),
        unique,
        alerts,
    )
    for kind in ("plate", "face", "alarm"):
        dedup = result["dedup"][kind]
        assert dedup["precision"] >= 0.999, (kind, dedup)
        assert dedup["recall"] >= 0.999, (kind, dedup)
    assert result["dedup"]["plate"]["wrong_plate_number"] == 0
    for rule in ("watchlist", "cloned_plate"):
        found = result["alerts"][rule]
        assert found["expected"] > 0, (rule, found)
        assert found["precision"] >= 0.99, (rule, found)
        assert found["recall"] >= 0.99, (rule, found)
    convoy = result["alerts"]["convoy"]
    assert convoy["found"] >= SMALL.convoys, convoy
    assert convoy["recall"] >= 0.99, convoy
    assert convoy["precision"] >= 0.99, convoy
    assert result["dead_letters"]["ratio"] == 1.0
    assert result["dead_letters"]["unexpected"] == 0
    assert result["late"]["ratio"] == 1.0
    assert result["late"]["landed_flagged_late"] > 0
    assert result["event_ids_claimed_twice"] == 0
    # Flushed buffers hold passes of several snapshots: their late reads were grouped (else
    # the plate precision above would fall).
    assert any(len(p.lines) > 1 for p in small.city.truth.passes if p.late)


# --- determinism, files and the command line -------------------------------------------------


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_same_seed_same_files_other_seed_other_city(tmp_path: Path) -> None:
    write_city(generate(TINY), tmp_path / "a")
    write_city(generate(TINY), tmp_path / "b")
    write_city(generate(CityConfig(**{**TINY.__dict__, "seed": 8})), tmp_path / "c")
    a, b, c = _files(tmp_path / "a"), _files(tmp_path / "b"), _files(tmp_path / "c")
    assert set(a) == {"captures.jsonl", "truth.json", "devices.csv", "watchlist.txt", "city.json"}
    assert a == b
    assert a["captures.jsonl"] != c["captures.jsonl"]


def test_truth_reads_back_as_written(tmp_path: Path) -> None:
    city = generate(TINY)
    write_city(city, tmp_path)
    again = read_truth(tmp_path / "truth.json")
    assert truth_to_json(again) == truth_to_json(city.truth)
    assert again.passes == city.truth.passes
    assert again.late_passes == tuple(p.pass_id for p in city.truth.passes if p.late)


def test_default_start_lies_in_the_past() -> None:
    config = CityConfig(cameras=40, vehicles=60, pedestrians=10, hours=0.1, convoys=0)
    city = generate(config)
    now = datetime.now(UTC)
    assert city.start.microsecond == 0
    assert timedelta(0) < now - city.start - timedelta(hours=0.1) < timedelta(minutes=1)
    received = [city.start + timedelta(seconds=line.at) for line in city.captures]
    assert max(received) < now + timedelta(minutes=2)


def test_bad_configs_are_refused() -> None:
    with pytest.raises(ValueError, match="vendor"):
        generate(CityConfig(cameras=40, vehicles=60, vendor_mix=(("axis", 1.0),), start=START))
    with pytest.raises(ValueError, match="zone"):
        generate(CityConfig(cameras=40, vehicles=60, start=datetime(2026, 3, 2)))  # noqa: DTZ001


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="streams generate")
    add_generate_arguments(parser)
    help_text = parser.format_help()
    for option in ("--out", "--cameras", "--vehicles", "--hours", "--seed", "--start"):
        assert option in help_text
    assert "--vendor-mix" in help_text
    assert "--cascade" in help_text
    args = parser.parse_args(
        [
            "--out",
            str(tmp_path),
            "--cameras",
            "40",
            "--vehicles",
            "100",
            "--pedestrians",
            "20",
            "--hours",
            "0.3",
            "--spread-km",
            "4",
            "--start",
            "2026-03-02T08:00:00Z",
            "--vendor-mix",
            "hikvision-isapi=1,gat1400=1",
            "--repush",
            "0.1",
        ]
    )
    assert run_generate(args) == 0
    printed = capsys.readouterr().out
    assert "payload lines" in printed
    assert str(tmp_path / "captures.jsonl") in printed
    manifest: dict[str, Any] = json.loads((tmp_path / "city.json").read_text())
    assert manifest["start"] == "2026-03-02T08:00:00.000Z"
    assert manifest["config"]["vendor_mix"] == {"hikvision-isapi": 1.0, "gat1400": 1.0}
    lines = read_captures(tmp_path / "captures.jsonl")
    assert manifest["counts"]["payload_lines"] == len(lines)
    assert {line.source for line in lines} == {"hikvision-isapi", "gat1400"}
    with pytest.raises(SystemExit):
        parser.parse_args(["--out", str(tmp_path), "--vendor-mix", "axis=1"])


def test_capture_lines_round_trip() -> None:
    text = CaptureLine(
        3, "dahua-cgi", "33010600001320000001", 1.5, "Code=界".encode(), "text/plain"
    )
    binary = CaptureLine(4, "hikvision-isapi", "x", 2.0, b"\xff\xd8", "multipart/form-data", True)
    assert CaptureLine.from_json(text.to_json()) == text
    assert "payload" in text.to_json()
    assert "payload_b64" in binary.to_json()
    assert CaptureLine.from_json(binary.to_json()) == binary
