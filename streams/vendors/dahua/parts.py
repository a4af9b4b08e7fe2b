"""Parts of a chunk -> event records: ``Heartbeat``, ``Code=...`` blocks, snapManager lines, images.

A text part holds one or more ``Code=<Code>;action=<a>;index=<n>[;data=<JSON>]`` blocks, or the
snapManager flattened form; ``image/jpeg`` parts belong to the record(s) of the text part before
them and become image references. Parts that are none of these are kept as unrecognised.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from streams.canonical import ImageKind, ImageRef
from streams.vendors.base import Rejected
from streams.vendors.common import as_str, inline_image
from streams.vendors.dahua.codes import FACE_CODES, TRAFFIC_PREFIX
from streams.vendors.dahua.flattened import FLAT_LINE, flattened_events
from streams.vendors.dahua.multipart import split_parts
from streams.vendors.json_body import exact_json, rounded_id

_CODE_LINE = re.compile(r"^[ \t]*Code=", re.MULTILINE)
_DATA_KEY = re.compile(r";[ \t]*data[ \t]*=", re.IGNORECASE)
_JPEG = b"\xff\xd8\xff"
_ID_KEYS = ("EventID", "GroupID", "IndexInGroup")


@dataclass(slots=True)
class Record:
    """One event as the device sent it: its code, action, channel index and data object."""

    code: str
    action: str | None
    index: str | None
    data: dict[str, Any]
    raw: bytes
    images: list[ImageRef] = field(default_factory=list)


@dataclass(slots=True)
class ParsedBody:
    records: list[Record] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    heartbeats: int = 0
    unrecognised: list[tuple[str, bytes]] = field(default_factory=list)


def parse_body(body: bytes, content_type: str | None) -> ParsedBody:
    parsed = ParsedBody()
    current: list[Record] = []  # the records the following image parts belong to
    for headers, content in split_parts(body, content_type):
        kind = headers.get(b"content-type", b"").strip().lower()
        if kind.startswith(b"image/") or content.startswith(_JPEG):
            if current and content:
                image_kind = _image_kind(current[0].code, len(current[0].images))
                ref = inline_image(content, image_kind)
                for record in current:
                    record.images.append(ref)
            continue
        current = []
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError as exc:
            if b"Code=" in content or b"Events[" in content:  # an event, broken in transit
                reason = f"part is not UTF-8 text ({exc.reason} at byte {exc.start})"
                parsed.rejected.append(Rejected(reason, content))
            else:
                parsed.unrecognised.append((shown(repr(content[:60])), content))
            continue
        text = text.strip().lstrip("\ufeff").strip()
        if not text:
            continue
        if len(text) == 9 and text.lower() == "heartbeat":
            parsed.heartbeats += 1
            continue
        if text.startswith("Code=") or _CODE_LINE.search(text) is not None:
            current = _code_blocks(text, parsed)
        elif FLAT_LINE.search(text) is not None:
            current = _flattened(text, content, parsed)
        else:
            parsed.unrecognised.append((shown(text), content))
    return parsed


def shown(text: str) -> str:
    """Text quoted for a message, cut at 60 characters."""
    return repr(text) if len(text) <= 60 else repr(text[:60]) + "..."


def _image_kind(code: str, position: int) -> ImageKind:
    if position == 0:
        return ImageKind.SCENE
    if code.startswith(TRAFFIC_PREFIX):
        return ImageKind.PLATE
    if code in FACE_CODES:
        return ImageKind.FACE
    return ImageKind.OTHER


def _code_blocks(text: str, parsed: ParsedBody) -> list[Record]:
    if text.startswith("Code=") and text.count("Code=") == 1:
        starts = [0]  # the common case: one event per part
    else:
        starts = [m.start() for m in _CODE_LINE.finditer(text)]
    lead = text[: starts[0]].strip()
    if lead:
        parsed.unrecognised.append((shown(lead), lead.encode("utf-8")))
    records: list[Record] = []
    for i, begin in enumerate(starts):
        block = text[begin : starts[i + 1] if i + 1 < len(starts) else len(text)].strip()
        record_bytes = block.encode("utf-8")
        found = _DATA_KEY.search(block)
        head = block if found is None else block[: found.start()]
        fields: dict[str, str] = {}
        for pair in head.split(";"):
            key, sep, value = pair.partition("=")
            if sep:
                fields.setdefault(key.strip().lower(), value.strip())
        data: dict[str, Any] = {}
        if found is not None:
            payload = block[found.end() :].strip()
            if payload:
                try:
                    loaded = orjson.loads(payload)
                except orjson.JSONDecodeError as exc:
                    parsed.rejected.append(Rejected(f"data= is not JSON ({exc})", record_bytes))
                    continue
                if isinstance(loaded, dict) and _lost_precision(loaded):
                    loaded = exact_json(payload, loaded)
                if not isinstance(loaded, dict):
                    parsed.rejected.append(Rejected("data= is not a JSON object", record_bytes))
                    continue
                data = loaded
        records.append(
            Record(
                code=fields.get("code", ""),
                action=fields.get("action"),
                index=fields.get("index"),
                data=data,
                raw=record_bytes,
            )
        )
    parsed.records.extend(records)
    return records


def _flattened(text: str, content: bytes, parsed: ParsedBody) -> list[Record]:
    """snapManager ``Events[i].a.b[0]=v`` lines -> one record per event ``i``."""
    records: list[Record] = []
    for event in flattened_events(text):
        if not isinstance(event, dict):
            continue
        base = event.get("EventBaseInfo")
        base = base if isinstance(base, dict) else {}
        code = as_str(base.get("Code")) or as_str(event.get("Code")) or ""
        action = as_str(base.get("Action")) or as_str(event.get("Action"))
        index = as_str(base.get("Index")) or as_str(event.get("Index"))
        records.append(Record(code=code, action=action, index=index, data=event, raw=content))
    if not records:
        parsed.rejected.append(Rejected("Events[n] lines hold no event object", content))
    parsed.records.extend(records)
    return records


def _lost_precision(data: Mapping[str, Any]) -> bool:
    """Ids are never fractional: a float among them is a 20+ digit number orjson rounded."""
    return rounded_id(data, _ID_KEYS) or rounded_id(data.get("TrafficCar"), ("GroupID",))
