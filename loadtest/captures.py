"""``captures.jsonl``: the payloads of a scenario, one JSON object per line, sorted by ``at``.

Fields: ``line`` (0-based, the line's number), ``source`` (the raw topic's source), ``device_id``
(the Kafka key the gateway would set: the device's registry id), ``at`` (seconds after the
scenario start when it is received), ``payload`` (the body as text) or ``payload_b64`` (binary
bodies, e.g. multipart with JPEG parts), and ``content_type`` (the HTTP Content-Type).

A payload's received time is ``start + at``, exactly as a replay stamps it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class CaptureLine:
    line: int
    source: str
    device_id: str
    at: float
    body: bytes
    content_type: str | None = None
    binary: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "line": self.line,
            "source": self.source,
            "device_id": self.device_id,
            "at": self.at,
        }
        if self.binary:
            out["payload_b64"] = base64.b64encode(self.body).decode("ascii")
        else:
            out["payload"] = self.body.decode("utf-8")
        if self.content_type is not None:
            out["content_type"] = self.content_type
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaptureLine:
        if "payload_b64" in data:
            body, binary = base64.b64decode(data["payload_b64"]), True
        else:
            body, binary = str(data["payload"]).encode("utf-8"), False
        return cls(
            line=int(data["line"]),
            source=str(data["source"]),
            device_id=str(data["device_id"]),
            at=float(data["at"]),
            body=body,
            content_type=data.get("content_type"),
            binary=binary,
        )

    def received_at(self, start: datetime) -> datetime:
        return start + timedelta(seconds=self.at)


def write_captures(lines: Iterable[CaptureLine], path: Path) -> int:
    """Write the lines; returns how many."""
    count = 0
    with path.open("wb") as handle:
        for line in lines:
            handle.write(orjson.dumps(line.to_json()))
            handle.write(b"\n")
            count += 1
    return count


def iter_captures(path: Path) -> Iterator[CaptureLine]:
    with path.open("rb") as handle:
        for text in handle:
            if text.strip():
                yield CaptureLine.from_json(orjson.loads(text))


def read_captures(path: Path) -> list[CaptureLine]:
    return list(iter_captures(path))
