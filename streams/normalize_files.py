"""``streams normalize``: raw payload files in, canonical events out as JSON lines."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson

from streams.settings import Settings
from streams.vendors import normalize
from streams.vendors.base import RawPayload
from streams.worker_context import normalize_context


def _read(path: Path) -> bytes:
    return sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()


def normalize_files(
    settings: Settings,
    source: str,
    files: list[Path],
    *,
    key: str | None = None,
    content_type: str | None = None,
) -> int:
    ctx = normalize_context(settings)
    out = sys.stdout
    for path in files:
        try:
            body = _read(path)
        except OSError as exc:
            line = {
                "kind": "dead_letter",
                "reason": f"cannot read {path}: {exc.strerror}",
                "file": str(path),
            }
            out.write(orjson.dumps(line).decode() + "\n")
            continue
        raw = RawPayload(source, body, datetime.now(UTC), key=key, content_type=content_type)
        result = normalize(raw, ctx)
        for event in result.events:
            out.write(event.model_dump_json() + "\n")
        for rejected in result.rejected:
            line = {
                "kind": "dead_letter",
                "reason": rejected.reason,
                "source": source,
                "file": str(path),
            }
            out.write(orjson.dumps(line).decode() + "\n")
    out.flush()
    return 0
