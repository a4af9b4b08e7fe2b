"""Avro single-object encoding of the canonical events, resolved against ``schemas/avro``.

A message is ``C3 01`` + the 8-byte CRC-64-AVRO fingerprint of the writer schema (little endian)
+ the Avro binary body. Readers find the writer schema by fingerprint among the versions in the
repository and resolve it to the newest version of that record, so no registry server is
needed and older messages stay readable.

Encoding uses a writer compiled from the newest schema of the record
(:mod:`streams.codecs.compiled`: byte for byte what fastavro writes, several times faster).
Decoding a body written with the newest schema uses a compiled reader that builds the models
directly, without pydantic validation (the Avro types are checked, and ``Literal`` fields such as
``kind``; value constraints such as confidence in 0..1 are not); a body written with an older
version is resolved to the newest by fastavro and validated by pydantic. ``decode_datum`` reads
the same bytes to plain values (dicts, enum symbols) for consumers that need no models. The
compiled functions are made on first use and kept per schema version in the :class:`SchemaStore`.
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
from streams.canonical.models import keep_wire_bytes, wire_bytes
from streams.codecs.compiled import (
    AvroDecodeError,
    AvroEncodeError,
    Reader,
    Writer,
    compile_reader,
    compile_writer,
    model_bindings,
)
from streams.correlate.records import Alert, Correlation, WatchlistEntry

__all__ = [
    "MAGIC",
    "MODELS",
    "SCHEMA_DIR",
    "AvroDecodeError",
    "AvroEncodeError",
    "SchemaStore",
    "SchemaVersion",
    "decode",
    "decode_datum",
    "decode_dict",
    "default_store",
    "encode",
    "record_name",
]

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "avro"
MAGIC = b"\xc3\x01"
_FILE = re.compile(r"^([a-z_]+)\.v(\d+)\.avsc$")

MODELS: dict[str, type[BaseModel]] = {
    "streams.canonical.PlateCapture": PlateCapture,
    "streams.canonical.FaceCapture": FaceCapture,
    "streams.canonical.Alarm": Alarm,
    "streams.canonical.DeadLetter": DeadLetter,
    "streams.correlate.Alert": Alert,
    "streams.correlate.Correlation": Correlation,
    "streams.correlate.WatchlistEntry": WatchlistEntry,
}


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
        # Compiled codecs, made on first use: writers by model class (newest version, header
        # included), readers by writer fingerprint (None: an older version, read by fastavro).
        self._writers: dict[type[BaseModel], Writer] = {}
        self._body_writers: dict[type[BaseModel], Writer] = {}  # the same, without the header
        self._readers: dict[bytes, Reader | None] = {}
        self._by_header: dict[bytes, Reader] = {}  # C3 01 + fingerprint -> compiled reader
        # Readers to plain values (records as dicts, enums as str), for consumers that need no
        # models (the warehouse sink): by writer fingerprint, and by header.
        self._datum_readers: dict[bytes, Reader | None] = {}
        self._datum_by_header: dict[bytes, Reader] = {}

    def writer(self, model: type[BaseModel]) -> Writer:
        """The compiled single-object encoder of ``model`` with the newest schema of its record."""
        writer = self._writers.get(model)
        if writer is None:
            version = self.latest[record_name(model)]
            writer = compile_writer(version.schema, prefix=MAGIC + version.fingerprint)
            self._writers[model] = writer
        return writer

    def body_writer(self, model: type[BaseModel]) -> Writer:
        """The compiled encoder of ``model`` with the newest schema of its record, writing the
        Avro body alone (no single-object header), for other framings (Confluent's)."""
        writer = self._body_writers.get(model)
        if writer is None:
            writer = compile_writer(self.latest[record_name(model)].schema)
            self._body_writers[model] = writer
        return writer

    def reader(self, fp: bytes) -> Reader | None:
        """The compiled body decoder of the writer schema ``fp`` if it is the newest version of
        a record with a model, else None (fastavro resolves older versions)."""
        return self._compiled_reader(fp, to_models=True)

    def datum_reader(self, fp: bytes) -> Reader | None:
        """The compiled body decoder of the writer schema ``fp`` to plain values if it is the
        newest version of its record, else None (fastavro resolves older versions)."""
        return self._compiled_reader(fp, to_models=False)

    def _compiled_reader(self, fp: bytes, *, to_models: bool) -> Reader | None:
        readers, by_header = (
            (self._readers, self._by_header)
            if to_models
            else (self._datum_readers, self._datum_by_header)
        )
        if fp in readers:
            return readers[fp]
        version = self.by_fingerprint.get(fp)
        if version is None:
            raise AvroDecodeError(f"unknown schema fingerprint {fp.hex()}")
        reader: Reader | None = None
        if self.latest[version.name] is version:
            if not to_models:
                reader = compile_reader(version.schema)
            elif (model := MODELS.get(version.name)) is not None:
                reader = compile_reader(version.schema, model_bindings(version.schema, model))
        if reader is not None:
            by_header[MAGIC + fp] = reader
        readers[fp] = reader
        return reader


@cache
def default_store() -> SchemaStore:
    return SchemaStore()


def record_name(model: type[BaseModel]) -> str:
    for name, cls in MODELS.items():
        if cls is model:
            return name
    raise KeyError(f"{model.__name__} has no Avro schema")


def encode(event: BaseModel, store: SchemaStore | None = None) -> bytes:
    """Single-object encoding of a canonical event with the newest schema of its record.

    Raises AvroEncodeError for values that do not fit the schema.
    """
    if store is None:
        data = wire_bytes(event)
        if data is not None:  # decoded from these bytes with the newest schema: the same
            return data
    store = store or default_store()
    writer = store._writers.get(type(event)) or store.writer(type(event))
    return writer(event)


def decode_dict(data: bytes, store: SchemaStore | None = None) -> tuple[str, dict[str, Any]]:
    """The record name and the datum, resolved to the newest schema of that record."""
    store = store or default_store()
    if len(data) < 10 or data[:2] != MAGIC:
        raise AvroDecodeError("not Avro single-object encoding (missing C3 01 header)")
    writer = store.by_fingerprint.get(bytes(data[2:10]))
    if writer is None:
        raise AvroDecodeError(f"unknown schema fingerprint {bytes(data[2:10]).hex()}")
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


def _compiled_for(data: bytes, store: SchemaStore, *, to_models: bool) -> Reader | None:
    """The compiled reader of the message's writer schema; None for an older version (resolved
    by fastavro)."""
    reader = (store._by_header if to_models else store._datum_by_header).get(data[:10])
    if reader is not None:
        return reader
    if len(data) < 10 or data[:2] != MAGIC:
        raise AvroDecodeError("not Avro single-object encoding (missing C3 01 header)")
    return store._compiled_reader(data[2:10], to_models=to_models)


def decode_datum(data: bytes, store: SchemaStore | None = None) -> dict[str, Any]:
    """The datum of a single-object message, resolved to the newest schema of its record:
    records as dicts, enums as their symbols, timestamps as UTC datetimes. No models are built
    and nothing is validated beyond the Avro types (the record's ``kind`` field says which)."""
    store = store or default_store()
    if type(data) is not bytes:
        data = bytes(data)
    reader = _compiled_for(data, store, to_models=False)
    if reader is None:
        return decode_dict(data, store)[1]
    datum: dict[str, Any] = reader(data, 10)
    return datum


def decode(data: bytes, store: SchemaStore | None = None) -> BaseModel:
    """A canonical event (PlateCapture, FaceCapture, Alarm or DeadLetter) from its bytes.

    Bodies written with the newest schema are decoded by the compiled reader straight into the
    model (built without validation); older versions are resolved by fastavro and validated.
    """
    own_store = store is not None  # another store's bytes are not what ``encode`` writes
    store = store or default_store()
    if type(data) is not bytes:
        data = bytes(data)
    reader = _compiled_for(data, store, to_models=True)
    if reader is None:
        name, datum = decode_dict(data, store)
        return MODELS[name].model_validate(datum)
    event: BaseModel = reader(data, 10)
    if not own_store:
        keep_wire_bytes(event, data)
    return event
