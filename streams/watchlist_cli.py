"""``streams watchlist``: add, remove, list and load watchlist entries on the compacted topic."""

from __future__ import annotations

import getpass
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from streams.correlate.records import WatchlistEntry, WatchTarget, digest_id
from streams.correlate.watchlist import compile_plate_pattern, read_watchlist_file
from streams.errors import UserError
from streams.kafka_admin import existing_topics
from streams.settings import Settings
from streams.watchlist_topic import publish_entries, read_watchlist, remove_entries


def parse_time(text: str, what: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{what} {text!r} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise ValueError(f"{what} needs a zone, e.g. 2026-12-31T00:00:00Z")
    return when.astimezone(UTC)


def build_entry(
    *,
    plate: str | None,
    embedding: list[float] | None,
    threshold: float | None,
    priority: int,
    reason: str,
    case: str | None,
    expires_at: datetime | None,
    entry_id: str | None,
    created_by: str | None,
    now: datetime,
) -> WatchlistEntry:
    """A checked entry; ValueError says what is wrong (the CLI and the HTTP API share it)."""
    if (plate is None) == (embedding is None):
        raise ValueError("give exactly one of a plate pattern or a face embedding")
    if priority < 1:
        raise ValueError("priority must be 1 (most urgent) or more")
    if not reason.strip():
        raise ValueError("a reason is required: say why the target is watched")
    if plate is not None:
        compile_plate_pattern(plate)
        target = WatchTarget.PLATE
    else:
        if not embedding:
            raise ValueError("the face embedding is empty")
        if threshold is None or not 0 < threshold <= 1:
            raise ValueError("a face entry needs a threshold in (0, 1]")
        target = WatchTarget.FACE
    return WatchlistEntry(
        entry_id=entry_id or digest_id("watchlist-entry", target, plate or "", now.isoformat()),
        target=target,
        pattern=plate.upper() if plate else None,
        embedding=embedding,
        threshold=threshold if embedding is not None else None,
        priority=priority,
        reason=reason,
        case_ref=case,
        created_by=created_by,
        created_at=now,
        expires_at=expires_at,
    )


def _embedding(path: Path) -> list[float]:
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read embedding {path}: {exc}") from None
    if not (
        isinstance(values, list) and values and all(isinstance(v, int | float) for v in values)
    ):
        raise UserError(f"{path}: expected a JSON array of numbers")
    return [float(v) for v in values]


def add_entry(
    settings: Settings,
    *,
    plate: str | None,
    embedding_file: Path | None,
    threshold: float | None,
    priority: int,
    reason: str,
    case: str | None,
    expires: str | None,
    days: float | None,
    entry_id: str | None,
) -> int:
    now = datetime.now(UTC)
    try:
        expires_at = parse_time(expires, "--expires") if expires is not None else None
        if expires_at is None and days is not None:
            expires_at = now + timedelta(days=days)
        entry = build_entry(
            plate=plate,
            embedding=_embedding(embedding_file) if embedding_file is not None else None,
            threshold=threshold,
            priority=priority,
            reason=reason,
            case=case,
            expires_at=expires_at,
            entry_id=entry_id,
            created_by=getpass.getuser(),
            now=now,
        )
    except ValueError as exc:
        raise UserError(str(exc)) from None
    existing_topics(settings)
    publish_entries(settings, [entry])
    print(f"added {entry.entry_id}: {entry.target} {entry.pattern or '(embedding)'}")
    return 0


def load_file(settings: Settings, path: Path) -> int:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    try:
        entries = read_watchlist_file(text, created_at=datetime.now(UTC))
    except ValueError as exc:
        raise UserError(f"{path}: {exc}") from None
    existing_topics(settings)
    publish_entries(settings, entries)
    print(f"loaded {len(entries)} entries from {path}")
    return 0


def remove(settings: Settings, entry_ids: list[str]) -> int:
    existing_topics(settings)
    remove_entries(settings, entry_ids)
    print(f"removed {len(entry_ids)} entries")
    return 0


def list_entries(settings: Settings, as_json: bool) -> int:
    existing_topics(settings)
    for entry in sorted(read_watchlist(settings).entries(), key=lambda e: e.entry_id):
        if as_json:
            sys.stdout.write(entry.model_dump_json() + "\n")
        else:
            expiry = entry.expires_at.isoformat() if entry.expires_at else "never"
            what = entry.pattern or f"face (threshold {entry.threshold})"
            print(
                f"{entry.entry_id}  P{entry.priority}  {entry.target} {what}  "
                f"reason: {entry.reason}  case: {entry.case_ref or '-'}  expires: {expiry}"
            )
    return 0
