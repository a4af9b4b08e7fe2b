"""``streams correlate``: the worker's dedup and correlation rules over a file of canonical events.

Input: JSON lines as ``streams normalize`` prints them (dead-letter lines are skipped). Output:
the unique events (same shape, with ``absorbed_event_ids`` and ``late``), the alerts
(``kind: "alert"``) and the person-vehicle correlations (``kind: "correlation"``), one JSON
object per line, in the order the rules produce them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import orjson
from pydantic import TypeAdapter, ValidationError

from streams.canonical import CanonicalEvent, GeoPoint
from streams.correlate.config import RuleConfig
from streams.correlate.pipeline import run_offline
from streams.correlate.watchlist import Watchlist, read_watchlist_file, watchlist_from_entries
from streams.domain.devices import DeviceRegistry, DeviceRegistryError
from streams.errors import UserError

_EVENT: TypeAdapter[CanonicalEvent] = TypeAdapter(CanonicalEvent)


def read_events(
    lines: IO[str], devices: DeviceRegistry | None, problems: list[str]
) -> Iterator[CanonicalEvent]:
    """Canonical events from JSON lines; unreadable lines are reported in ``problems``.

    An event without a position gets its device's position from the registry.
    """
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            problems.append(f"line {number}: not JSON ({exc})")
            continue
        if not isinstance(data, dict) or data.get("kind") not in ("plate", "face", "alarm"):
            if not (isinstance(data, dict) and data.get("kind") == "dead_letter"):
                problems.append(f"line {number}: not a canonical event (kind plate/face/alarm)")
            continue
        try:
            event = _EVENT.validate_python(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            problems.append(f"line {number}: {where}: {first['msg']}")
            continue
        if event.position is None and devices is not None:
            device = devices.get(event.device_id)
            if device is not None:
                event = event.model_copy(
                    update={"position": GeoPoint(lat=device.lat, lon=device.lon)}
                )
        yield event


def load_watchlist(path: Path | None, now: datetime) -> Watchlist:
    if path is None:
        return Watchlist()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read watchlist {path}: {exc.strerror}") from None
    try:
        return watchlist_from_entries(read_watchlist_file(text, created_at=now))
    except ValueError as exc:
        raise UserError(f"watchlist {path}: {exc}") from None


def load_devices(path: Path | None) -> DeviceRegistry | None:
    if path is None:
        return None
    try:
        return DeviceRegistry.from_csv(path)
    except FileNotFoundError:
        raise UserError(f"device registry {path} does not exist") from None
    except DeviceRegistryError as exc:
        raise UserError(str(exc)) from None


def correlate_file(
    config: RuleConfig,
    events_path: Path | None,
    devices_path: Path | None,
    watchlist_path: Path | None,
    out: IO[str] | None = None,
) -> int:
    out = out or sys.stdout
    now = datetime.now(UTC)
    devices = load_devices(devices_path)
    watchlist = load_watchlist(watchlist_path, now)
    problems: list[str] = []
    if events_path is None or str(events_path) == "-":
        source: IO[str] = sys.stdin
    else:
        try:
            source = events_path.open(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot read {events_path}: {exc.strerror}") from None
    try:
        events = read_events(source, devices, problems)
        for record in run_offline(events, config, watchlist, now):
            out.write(record.model_dump_json() + "\n")
    finally:
        if source is not sys.stdin:
            source.close()
    out.flush()
    for problem in problems:
        print(f"streams correlate: skipped {problem}", file=sys.stderr)
    return 0
