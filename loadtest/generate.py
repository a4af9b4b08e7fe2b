"""A synthetic city with ground truth: ``generate(config)`` builds it in memory, ``write_city``
writes its files, ``add_generate_arguments`` / ``run_generate`` are the ``streams generate``
command.

Files written to the output directory:

- ``captures.jsonl``: the payloads, sorted by receive offset (:mod:`loadtest.captures`);
- ``truth.json``: the ground truth and the expected alerts (:mod:`loadtest.truth`);
- ``devices.csv``: the device registry (``STREAMS_DEVICES_CSV``, ``streams correlate --devices``);
- ``watchlist.txt``: plate patterns (``streams watchlist load``, ``streams correlate --watchlist``);
- ``city.json``: the manifest: start, duration, counts, config, file names.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from loadtest.captures import CaptureLine, write_captures
from loadtest.city import (
    DEFAULT_MIX,
    VENDORS,
    Layout,
    build_layout,
    registry_position,
    write_devices_csv,
)
from loadtest.city import CityConfig as CityConfig  # re-exported: generate(CityConfig(...))
from loadtest.emit import emit
from loadtest.expected import expected_alerts
from loadtest.mess import inject
from loadtest.scene import make_alarms, make_faces
from loadtest.traffic import Traffic, make_passes, make_vehicles
from loadtest.truth import Truth, write_truth
from loadtest.watch import make_watchlist
from streams.canonical.models import rfc3339_millis
from streams.domain.geo import to_wgs84

Progress = Callable[[str], None]

CAPTURES = "captures.jsonl"
TRUTH = "truth.json"
DEVICES = "devices.csv"
WATCHLIST = "watchlist.txt"
MANIFEST = "city.json"


@dataclass
class City:
    config: CityConfig
    start: datetime
    layout: Layout
    traffic: Traffic
    captures: list[CaptureLine]
    truth: Truth
    counts: dict[str, int]


def scenario_start(config: CityConfig, now: datetime | None = None) -> datetime:
    """The configured start, else now (whole seconds) minus the duration: replayed at once,
    the whole scenario lies in the past."""
    if config.start is not None:
        if config.start.tzinfo is None:
            raise ValueError("the start time needs a zone (e.g. 2026-03-02T08:00:00Z)")
        return config.start.astimezone(UTC)
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    return now - timedelta(seconds=round(config.duration_seconds))


def config_json(config: CityConfig) -> dict[str, Any]:
    data = asdict(config)
    data["start"] = None if config.start is None else rfc3339_millis(config.start)
    data["vendor_mix"] = {name: weight for name, weight in config.vendor_mix}
    return data


def _quiet(_message: str) -> None:
    pass


def generate(config: CityConfig, progress: Progress | None = None) -> City:
    """The whole city in memory; the same config gives the same city (bar a start of None,
    which follows the clock)."""
    say = progress or _quiet
    start = scenario_start(config)
    config = replace(config, start=start)
    seed = config.seed
    say(f"roads and {config.cameras} cameras")
    layout = build_layout(config)
    say(f"{config.vehicles} vehicles and their trips")
    vehicles = make_vehicles(random.Random(f"{seed}:plates"), config.vehicles)
    passes = make_passes(random.Random(f"{seed}:trips"), layout, vehicles)
    say(f"{config.pedestrians} pedestrians, alarms, watchlist")
    faces = make_faces(random.Random(f"{seed}:faces"), layout, config.pedestrians)
    alarms = make_alarms(random.Random(f"{seed}:alarms"), layout)
    watchlist = make_watchlist(
        random.Random(f"{seed}:watchlist"),
        vehicles,
        config.convoys,
        config.watchlist_exact,
        config.watchlist_wildcards,
    )
    passes.sort(key=lambda p: (p.t, p.camera, p.vehicle))
    for n, p in enumerate(passes, 1):
        p.pass_id = f"P{n:07d}"
    faces.sort(key=lambda f: (f.t, f.camera, f.number))
    for n, f in enumerate(faces, 1):
        f.track_id = f"F{n:07d}"
    alarms.sort(key=lambda a: (a.t, a.camera))
    for n, a in enumerate(alarms, 1):
        a.alarm_id = f"A{n:06d}"
    clones = sorted({v.plate for v in vehicles if v.role == "clone"})
    convoys = [(vehicles[2 * k].plate, vehicles[2 * k + 1].plate) for k in range(config.convoys)]
    traffic = Traffic(vehicles, passes, faces, alarms, watchlist, clones, convoys)
    inject(random.Random(f"{seed}:mess"), layout, traffic)
    say(f"payloads of {len(passes)} passes, {len(faces)} face tracks, {len(alarms)} alarms")
    emitted = emit(random.Random(f"{seed}:payloads"), layout, traffic, start)
    say("expected alerts")
    positions = {
        c.device_id: to_wgs84(*registry_position(c), c.coord_system) for c in layout.cameras
    }
    expected = expected_alerts(emitted.passes, positions, watchlist)
    cameras = layout.cameras
    truth = Truth(
        start=start,
        duration_seconds=config.duration_seconds,
        config=config_json(config),
        passes=tuple(emitted.passes),
        faces=tuple(emitted.faces),
        alarms=tuple(emitted.alarms),
        malformed_lines=tuple(emitted.malformed_lines),
        expected=expected,
        planted={
            "cloned_plates": clones,
            "convoys": [list(pair) for pair in convoys],
            "watchlist": [
                {"entry_id": e.entry_id, "pattern": e.pattern, "priority": e.priority}
                for e in watchlist
            ],
            "outages": [
                {
                    "device_id": cameras[camera].device_id,
                    "offline_from": round(begin, 3),
                    "offline_to": round(end, 3),
                    "flushed_at": round(flush, 3),
                }
                for camera, begin, end, flush in traffic.outages
            ],
        },
    )
    counts = _counts(emitted.lines, truth, emitted.counts)
    return City(config, start, layout, traffic, emitted.lines, truth, counts)


def _counts(lines: list[CaptureLine], truth: Truth, emitted: Counter[str]) -> dict[str, int]:
    by_source = Counter(line.source for line in lines)
    expected = truth.expected
    counts = {
        "payload_lines": len(lines),
        "passes": len(truth.passes),
        "unreadable_passes": sum(1 for p in truth.passes if p.plate is None),
        "face_tracks": len(truth.faces),
        "alarms": len(truth.alarms),
        "malformed": len(truth.malformed_lines),
        "duplicates_extra_snapshots": emitted["extra_snapshots"],
        "duplicates_repushes": emitted["repushes"],
        "duplicates_cascade_copies": emitted["cascade_copies"],
        "duplicates_face_updates": emitted["face_updates"] - len(truth.faces),
        "misreads": emitted["misreads"],
        "late_passes": sum(1 for p in truth.passes if p.late),
        "late_faces": sum(1 for f in truth.faces if f.late),
        "late_alarms": sum(1 for a in truth.alarms if a.late),
        "cloned_plates": len(expected.cloned_plate),
        "convoys": len(expected.convoy),
        "watchlist_entries": len(truth.planted.get("watchlist", ())),
        "watchlist_hits": len(expected.watchlist),
    }
    counts.update({f"lines_{source}": n for source, n in sorted(by_source.items())})
    return counts


def write_city(city: City, out_dir: Path, progress: Progress | None = None) -> dict[str, Any]:
    """Write the city's files; returns the manifest (also written as ``city.json``)."""
    say = progress or _quiet
    out_dir.mkdir(parents=True, exist_ok=True)
    say(f"writing {len(city.captures)} payload lines")
    write_captures(city.captures, out_dir / CAPTURES)
    write_truth(city.truth, out_dir / TRUTH)
    write_devices_csv(city.layout.cameras, out_dir / DEVICES)
    entries = city.traffic.watchlist
    lines = ["# plate pattern,priority (* any run, ? one character)"]
    lines += [f"{e.pattern},{e.priority}" for e in entries]
    (out_dir / WATCHLIST).write_text("\n".join(lines) + "\n", encoding="utf-8")
    manifest: dict[str, Any] = {
        "start": rfc3339_millis(city.start),
        "duration_seconds": city.config.duration_seconds,
        "counts": city.counts,
        "config": config_json(city.config),
        "files": {
            "captures": CAPTURES,
            "truth": TRUTH,
            "devices": DEVICES,
            "watchlist": WATCHLIST,
        },
    }
    (out_dir / MANIFEST).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return manifest


# --- command line ----------------------------------------------------------------------------

_RATES: tuple[tuple[str, str], ...] = (
    ("multi_snapshot", "share of plate passes read 2-3 times within ~2 s at one device"),
    ("misread", "share of multi-snapshot passes with one read an OCR confusion off"),
    ("unreadable", "share of passes without a readable plate"),
    ("repush", "share of payloads the device sends again, byte for byte, 2-60 s later"),
    ("cascade", "share of passes (of GB/T 28181 cameras) the GA/T 1400 platform re-delivers"),
    ("skewed_devices", "share of devices whose clock is 1-4 s off"),
    ("malformed", "share of payload lines that are malformed (at least 5)"),
    ("face_cameras", "share of cameras that also capture faces"),
    ("alarms_per_camera_hour", "alarms per camera and hour"),
)
_COUNTS: tuple[tuple[str, str], ...] = (
    ("offline_cameras", "cameras that go offline and flush their buffer late"),
    ("clock_ahead_cameras", "cameras whose clock runs 8 h ahead (local time sent as UTC)"),
    ("cloned_plates", "plates carried by two vehicles in far-apart districts"),
    ("convoys", "pairs of vehicles driving together (the leader is watchlisted)"),
    ("watchlist_exact", "exact watchlist entries besides the convoy leaders"),
    ("watchlist_wildcards", "wildcard watchlist entries (each matching a few vehicles)"),
)


def _mix(text: str) -> tuple[tuple[str, float], ...]:
    mix: list[tuple[str, float]] = []
    for item in text.split(","):
        name, sep, weight = item.partition("=")
        if not sep or name.strip() not in VENDORS:
            raise argparse.ArgumentTypeError(
                f"{item!r}: expected source=weight with a source of {', '.join(VENDORS)}"
            )
        try:
            mix.append((name.strip(), float(weight)))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{item!r}: weight is not a number") from None
    return tuple(mix)


def _start(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise argparse.ArgumentTypeError("the start needs a zone, e.g. 2026-03-02T08:00:00Z")
    return when.astimezone(UTC)


def add_generate_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = CityConfig()
    mix = ",".join(f"{name}={weight:g}" for name, weight in DEFAULT_MIX)
    parser.add_argument("--out", type=Path, required=True, help="directory to write the city to")
    parser.add_argument(
        "--cameras", type=int, default=defaults.cameras, help="cameras (default %(default)s)"
    )
    parser.add_argument(
        "--vehicles", type=int, default=defaults.vehicles, help="vehicles (default %(default)s)"
    )
    parser.add_argument(
        "--pedestrians",
        type=int,
        default=defaults.pedestrians,
        help="pedestrians whose faces cameras capture (default %(default)s)",
    )
    parser.add_argument(
        "--hours", type=float, default=defaults.hours, help="duration (default %(default)s)"
    )
    parser.add_argument(
        "--seed", type=int, default=defaults.seed, help="random seed (default %(default)s)"
    )
    parser.add_argument(
        "--start",
        type=_start,
        default=None,
        help="scenario start, ISO 8601 with zone (default: now minus the duration)",
    )
    parser.add_argument(
        "--vendor-mix",
        type=_mix,
        default=DEFAULT_MIX,
        help=f"camera share per source, source=weight,... (default {mix})",
    )
    parser.add_argument(
        "--spread-km",
        type=float,
        default=defaults.spread_km,
        help="width of the road network around Hangzhou (default %(default)s km)",
    )
    for name, text in _RATES:
        value = getattr(defaults, name)
        parser.add_argument(
            f"--{name.replace('_', '-')}", type=float, default=value, help=f"{text} ({value:g})"
        )
    for name, text in _COUNTS:
        value = getattr(defaults, name)
        parser.add_argument(
            f"--{name.replace('_', '-')}", type=int, default=value, help=f"{text} ({value})"
        )


def config_from_args(args: argparse.Namespace) -> CityConfig:
    rates = {name: getattr(args, name) for name, _text in (*_RATES, *_COUNTS)}
    return CityConfig(
        seed=args.seed,
        cameras=args.cameras,
        vehicles=args.vehicles,
        pedestrians=args.pedestrians,
        hours=args.hours,
        start=args.start,
        vendor_mix=args.vendor_mix,
        spread_km=args.spread_km,
        **rates,
    )


def run_generate(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    began = time.monotonic()
    large = config.vehicles * config.hours >= 2000 or config.cameras >= 1000

    def progress(message: str) -> None:
        if large:
            print(f"[{time.monotonic() - began:6.1f}s] {message}", file=sys.stderr, flush=True)

    try:
        city = generate(config, progress)
    except ValueError as exc:
        print(f"streams generate: {exc}", file=sys.stderr)
        return 2
    manifest = write_city(city, args.out, progress)
    counts = manifest["counts"]
    out: Path = args.out
    print(f"city written to {out} in {time.monotonic() - began:.1f}s")
    print(f"  start {manifest['start']}, {config.hours:g} h, seed {config.seed}")
    print(
        f"  {counts['payload_lines']} payload lines: {counts['passes']} passes, "
        f"{counts['face_tracks']} face tracks, {counts['alarms']} alarms, "
        f"{counts['malformed']} malformed"
    )
    print(
        f"  duplicates: {counts['duplicates_extra_snapshots']} extra snapshots, "
        f"{counts['duplicates_repushes']} re-pushes, "
        f"{counts['duplicates_cascade_copies']} cascade copies; "
        f"{counts['late_passes']} late passes"
    )
    print(
        f"  expected alerts: {counts['watchlist_hits']} watchlist hits, "
        f"{counts['cloned_plates']} cloned plates, {counts['convoys']} convoys"
    )
    for name in (CAPTURES, TRUTH, DEVICES, WATCHLIST, MANIFEST):
        print(f"  {out / name}")
    return 0
