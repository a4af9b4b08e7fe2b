"""Avro single-object encoding of the canonical events, resolved against ``schemas/avro``.

A message is ``C3 01`` + the 8-byte CRC-64-AVRO fingerprint of the writer schema (little endian)
+ the Avro binary body. Readers find the writer schema by fingerprint among the versions in the
repository and resolve it to the newest version of that record, so no registry server is
needed and older messages stay readable.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form
from pydantic import BaseModel

from streams.canonical import Alarm, DeadLetter, FaceCapture, PlateCapture

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "avro"
MAGIC = b"\xc3\x01"
_FILE = re.compile(r"^([a-z_]+)\.v(\d+)\.avsc$")

MODELS: dict[str, type[BaseModel]] = {
    "streams.canonical.PlateCapture": PlateCapture,
    "streams.canonical.FaceCapture": FaceCapture,
    "streams.canonical.Alarm": Alarm,
    "streams.canonical.DeadLetter": DeadLetter,
}


class AvroDecodeError(ValueError):
    """Bytes that are not a canonical event this code can read."""


@dataclass(frozen=True)
class SchemaVersion:
    name: str  # full record name, e.g. streams.canonical.PlateCapture
    file: str  # e.g. plate_capture
    version: int
    schema: Any  # parsed by fastavro
    fingerprint: bytes  # 8 bytes, as written in the header


class SchemaStore:
    """Every schema version in the repository, by fingerprint and by record name."""

    def __init__(self, directory: Path = SCHEMA_DIR) -> None:
        self.by_fingerprint: dict[bytes, SchemaVersion] = {}
        self.latest: dict[str, SchemaVersion] = {}
        self.versions: dict[str, list[SchemaVersion]] = {}
        for path in sorted(directory.glob("*.avsc")):
            match = _FILE.match(path.name)
            if not match:
                raise ValueError(f"schema file {path.name} is not named <record>.v<N>.avsc")
            parsed: Any = fastavro.parse_schema(json.loads(path.read_text(encoding="utf-8")))
            fp = bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))
            version = SchemaVersion(parsed["name"], match[1], int(match[2]), parsed, fp)
            self.by_fingerprint[fp] = version
            self.versions.setdefault(version.name, []).append(version)
        for name, versions in self.versions.items():
            versions.sort(key=lambda v: v.version)
            self.latest[name] = versions[-1]


@cache
def default_store() -> SchemaStore:
    return SchemaStore()


def record_name(model: type[BaseModel]) -> str:
    for name, cls in MODELS.items():
        if cls is model:
            return name
    raise KeyError(f"{model.__name__} has no Avro schema")


def encode(event: BaseModel, store: SchemaStore | None = None) -> bytes:
    """Single-object encoding of a canonical event with the newest schema of its record."""
    store = store or default_store()
    version = store.latest[record_name(type(event))]
    buffer = io.BytesIO()
    buffer.write(MAGIC)
    buffer.write(version.fingerprint)
    fastavro.schemaless_writer(buffer, version.schema, event.model_dump())
    return buffer.getvalue()


def decode_dict(data: bytes, store: SchemaStore | None = None) -> tuple[str, dict[str, Any]]:
    """The record name and the datum, resolved to the newest schema of that record."""
    store = store or default_store()
    if len(data) < 10 or data[:2] != MAGIC:
        raise AvroDecodeError("not Avro single-object encoding (missing C3 01 header)")
    writer = store.by_fingerprint.get(data[2:10])
    if writer is None:
        raise AvroDecodeError(f"unknown schema fingerprint {data[2:10].hex()}")
    reader = store.latest[writer.name]
    try:
        datum = fastavro.schemaless_reader(
            io.BytesIO(data[10:]), writer.schema, reader.schema if reader is not writer else None
        )
    except Exception as exc:  # fastavro raises several types for truncated or corrupt bodies
        raise AvroDecodeError(f"corrupt {writer.name} body: {exc}") from exc
    if not isinstance(datum, dict):
        raise AvroDecodeError(f"{writer.name} body is not a record")
    return writer.name, datum


def decode(data: bytes, store: SchemaStore | None = None) -> BaseModel:
    """A canonical event (PlateCapture, FaceCapture, Alarm or DeadLetter) from its bytes."""
    name, datum = decode_dict(data, store)
    return MODELS[name].model_validate(datum)
