"""Confluent Schema Registry framing of the canonical events.

A message is ``00`` (magic byte) + the 4-byte big-endian schema id the registry gave the writer
schema + the Avro binary body -- the same body :mod:`streams.codecs.avro` writes after its
single-object header, made by the same compiled writers and readers.

Encoding registers the newest repository version of the event's record under the subject
``<topic>-value`` (TopicNameStrategy) on first use per topic and record, and keeps the id.
Decoding fetches the writer schema by id from the registry on first use per id and keeps it: a
writer schema that is a version in ``schemas/avro`` (same parsing canonical form) is read like a
single-object message (compiled reader for the newest version, fastavro resolution to the newest
for older ones); any other writer schema of a canonical record is resolved to the newest repository
version by fastavro and the result validated by pydantic.

Registry calls are blocking HTTP requests (``confluent_kafka.schema_registry``), made once per
topic and record and once per schema id; everything else is in memory.

Errors: :class:`ConfluentDecodeError` (also an :class:`AvroDecodeError`) for bytes that cannot be
decoded -- bad framing, a schema id the registry does not know, a body that does not fit;
:class:`RegistryError` when the registry cannot be reached, answers nonsense or rejects a
schema. Both are :class:`ConfluentCodecError`, a ``ValueError``, with one-line messages.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import fastavro
import httpx2
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient, SchemaRegistryError
from fastavro.schema import fingerprint, to_parsing_canonical_form
from pydantic import BaseModel

from streams.codecs.avro import (
    MODELS,
    AvroDecodeError,
    SchemaStore,
    SchemaVersion,
    default_store,
    record_name,
)
from streams.codecs.compiled import Reader, Writer
from streams.codecs.wire import CONFLUENT_HEADER_SIZE as HEADER_SIZE
from streams.codecs.wire import CONFLUENT_MAGIC as MAGIC_BYTE
from streams.errors import UserError

__all__ = [
    "HEADER_SIZE",
    "MAGIC_BYTE",
    "ConfluentCodec",
    "ConfluentCodecError",
    "ConfluentDecodeError",
    "RegistryError",
    "frame_header",
    "schema_id_of",
    "schema_json",
    "subject_for",
]


class ConfluentCodecError(ValueError):
    """The Confluent-framed codec failed (decoding bytes or talking to the registry)."""


class ConfluentDecodeError(ConfluentCodecError, AvroDecodeError):
    """Bytes that are not a Confluent-framed canonical event this code can read."""


class RegistryError(ConfluentCodecError, UserError):
    """The schema registry is unreachable, answered something unexpected or rejected a schema.
    Never a fault of the record at hand: the CLI prints it as one line, and a worker stops."""


def frame_header(schema_id: int) -> bytes:
    """The 5-byte Confluent header of a message written with ``schema_id``."""
    if not 0 <= schema_id < 1 << 32:
        raise ValueError(f"schema id {schema_id} does not fit in 4 bytes")
    return bytes((MAGIC_BYTE,)) + schema_id.to_bytes(4, "big")


def schema_id_of(data: bytes | bytearray | memoryview) -> int:
    """The schema id in the header of a Confluent-framed message; ConfluentDecodeError if the
    bytes are not framed so (wrong magic byte, shorter than the header)."""
    if len(data) < HEADER_SIZE:
        raise ConfluentDecodeError(
            f"not Confluent framing: {len(data)} bytes, shorter than the 5-byte header"
        )
    if data[0] != MAGIC_BYTE:
        raise ConfluentDecodeError(
            f"not Confluent framing: magic byte 0x{data[0]:02x}, expected 0x00"
        )
    return int.from_bytes(data[1:HEADER_SIZE], "big")


def subject_for(topic: str) -> str:
    """The registry subject of the values of ``topic`` (TopicNameStrategy)."""
    return f"{topic}-value"


def _plain(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _plain(v) for k, v in schema.items() if not k.startswith("__")}
    if isinstance(schema, list):
        return [_plain(v) for v in schema]
    return schema


def schema_json(version: SchemaVersion) -> str:
    """The schema of ``version`` as the JSON text registered for it: the repository schema as
    fastavro parsed it (full names, docs and defaults kept) without fastavro's own keys."""
    return json.dumps(_plain(version.schema), ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class _Writing:
    header: bytes
    writer: Writer


@dataclass(frozen=True)
class _Reading:
    """How to read bodies written with one registry schema id."""

    model: type[BaseModel]
    name: str
    reader: Reader | None  # compiled reader, or None: fastavro resolution + validation
    writer_schema: Any
    reader_schema: Any  # None when no resolution is needed
    datum_reader: Reader | None = None  # compiled reader to plain values, or None: fastavro
    version: SchemaVersion | None = None  # the repository version the writer schema is, if any


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


class ConfluentCodec:
    """Canonical events as Avro with Confluent wire framing, schema ids from a registry.

    ``ConfluentCodec(url).encode(event, topic) -> bytes`` and ``.decode(data) -> model``. ``url``
    is the registry's base URL (several may be given comma-separated); ``config`` adds
    ``SchemaRegistryClient`` settings (``basic.auth.user.info``, ``ssl.ca.location``, ...).
    ``timeout`` (seconds) and ``max_retries`` apply to each registry request. The registry
    client is :attr:`client`.
    """

    def __init__(
        self,
        url: str,
        *,
        store: SchemaStore | None = None,
        timeout: float = 10.0,
        max_retries: int = 2,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.url = url
        self.store = store or default_store()
        conf: dict[str, Any] = {"url": url, "timeout": timeout, "max.retries": max_retries}
        conf.update(config or {})
        try:
            self.client = SchemaRegistryClient(conf)
        except (TypeError, ValueError) as exc:
            raise RegistryError(f"schema registry {url}: bad client settings: {exc}") from exc
        self._writing: dict[tuple[str, type[BaseModel]], _Writing] = {}
        self._reading: dict[int, _Reading] = {}

    def close(self) -> None:
        """Close the registry client's HTTP session (the codec is unusable for ids and topics it
        has not seen yet)."""
        self.client.close()

    # -- encoding ----------------------------------------------------------------------------

    def encode(self, event: BaseModel, topic: str) -> bytes:
        """The Confluent-framed Avro bytes of ``event`` for ``topic``, written with the newest
        schema of its record (registered under ``<topic>-value`` on first use).

        Raises RegistryError if the registry cannot register the schema, AvroEncodeError for
        values that do not fit the schema."""
        writing = self._writing.get((topic, type(event)))
        if writing is None:
            writing = self._register(topic, type(event))
        return writing.header + writing.writer(event)

    def _register(self, topic: str, model: type[BaseModel]) -> _Writing:
        version = self.store.latest[record_name(model)]
        subject = subject_for(topic)
        schema = Schema(schema_json(version), "AVRO")
        what = f"registering {version.name} v{version.version} under subject {subject!r}"
        try:
            schema_id = self.client.register_schema(subject, schema)
        except SchemaRegistryError as exc:
            raise RegistryError(
                f"schema registry {self.url} rejected {version.name} v{version.version} "
                f"under subject {subject!r}: {_one_line(exc)}"
            ) from exc
        except httpx2.HTTPError as exc:
            raise RegistryError(
                f"schema registry {self.url} unreachable while {what}: {_one_line(exc)}"
            ) from exc
        except Exception as exc:  # a server that is not a schema registry, a malformed answer
            raise RegistryError(
                f"schema registry {self.url}: unexpected answer while {what}: {_one_line(exc)}"
            ) from exc
        if not isinstance(schema_id, int) or not 0 <= schema_id < 1 << 32:
            raise RegistryError(
                f"schema registry {self.url} answered schema id {schema_id!r} while {what}"
            )
        writing = _Writing(frame_header(schema_id), self.store.body_writer(model))
        self._writing[(topic, model)] = writing
        # Our own messages decode without asking the registry what the id means.
        self._reading.setdefault(schema_id, self._reading_of(version, version.schema))
        return writing

    # -- decoding ----------------------------------------------------------------------------

    def decode(self, data: bytes | bytearray | memoryview) -> BaseModel:
        """A canonical event from its Confluent-framed bytes, resolved to the newest schema of
        its record.

        Raises ConfluentDecodeError for bytes that cannot be read, RegistryError if the writer
        schema of an id not seen before cannot be fetched."""
        schema_id, reading, datum = self._read(data, models=True)
        if isinstance(datum, BaseModel):
            return datum
        try:
            return reading.model.model_validate(datum)
        except ValueError as exc:  # pydantic.ValidationError
            raise ConfluentDecodeError(
                f"schema id {schema_id}: {reading.name} does not validate: {_one_line(exc)}"
            ) from exc

    def decode_datum(self, data: bytes | bytearray | memoryview) -> dict[str, Any]:
        """The datum of Confluent-framed bytes resolved to the newest schema of its record, as
        plain values (see :func:`streams.codecs.avro.decode_datum`); errors as :meth:`decode`."""
        _schema_id, _reading, datum = self._read(data, models=False)
        assert isinstance(datum, dict)
        return datum

    def repository_version(self, data: bytes) -> SchemaVersion | None:
        """The repository version that the writer schema of these Confluent-framed bytes is,
        or None for a writer schema outside the repository; errors as :meth:`decode`."""
        schema_id = schema_id_of(data)
        return (self._reading.get(schema_id) or self._lookup(schema_id)).version

    def _read(
        self, data: bytes | bytearray | memoryview, *, models: bool
    ) -> tuple[int, _Reading, Any]:
        """The schema id, how it is read, and the compiled reader's model (``models``) or the
        datum as a dict."""
        if type(data) is not bytes:
            data = bytes(data)
        schema_id = schema_id_of(data)
        reading = self._reading.get(schema_id) or self._lookup(schema_id)
        reader = reading.reader if models else reading.datum_reader
        try:
            if reader is not None:
                return schema_id, reading, reader(data, HEADER_SIZE)
            datum = fastavro.schemaless_reader(
                io.BytesIO(data[HEADER_SIZE:]), reading.writer_schema, reading.reader_schema
            )
        except AvroDecodeError as exc:
            raise ConfluentDecodeError(f"schema id {schema_id}: {_one_line(exc)}") from exc
        except Exception as exc:  # fastavro raises several types for truncated or corrupt bodies
            raise ConfluentDecodeError(
                f"schema id {schema_id}: corrupt {reading.name} body: {_one_line(exc)}"
            ) from exc
        if not isinstance(datum, dict):
            raise ConfluentDecodeError(
                f"schema id {schema_id}: {reading.name} body is not a record"
            )
        return schema_id, reading, datum

    def _lookup(self, schema_id: int) -> _Reading:
        what = f"schema registry {self.url}"
        try:
            registered = self.client.get_schema(schema_id)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                raise ConfluentDecodeError(
                    f"schema id {schema_id} is unknown to {what}: {_one_line(exc)}"
                ) from exc
            raise RegistryError(
                f"{what} failed to give schema id {schema_id}: {_one_line(exc)}"
            ) from exc
        except httpx2.HTTPError as exc:
            raise RegistryError(
                f"{what} unreachable while looking up schema id {schema_id}: {_one_line(exc)}"
            ) from exc
        except Exception as exc:  # a server that is not a schema registry, a malformed answer
            raise RegistryError(
                f"{what}: unexpected answer for schema id {schema_id}: {_one_line(exc)}"
            ) from exc
        if registered.schema_type not in (None, "AVRO"):
            raise ConfluentDecodeError(
                f"schema id {schema_id} is a {registered.schema_type} schema, not Avro"
            )
        if registered.references:
            raise ConfluentDecodeError(
                f"schema id {schema_id} refers to other subjects; schema references are not "
                "supported"
            )
        try:
            parsed: Any = fastavro.parse_schema(json.loads(registered.schema_str or ""))
            fp = bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))
        except Exception as exc:  # json, fastavro.SchemaParseException, ...
            raise ConfluentDecodeError(
                f"schema id {schema_id} is not a usable Avro schema: {_one_line(exc)}"
            ) from exc
        known = self.store.by_fingerprint.get(fp)
        if known is not None:
            if known.name not in MODELS:
                raise ConfluentDecodeError(
                    f"schema id {schema_id} is record {known.name}, not a canonical event"
                )
            reading = self._reading_of(known, known.schema)
        elif isinstance(parsed, dict) and parsed.get("type") == "record":
            name = parsed["name"]
            if name not in self.store.latest or name not in MODELS:
                raise ConfluentDecodeError(
                    f"schema id {schema_id} is record {name}, not a canonical event"
                )
            reading = self._reading_of(self.store.latest[name], parsed, in_repo=False)
        else:
            raise ConfluentDecodeError(f"schema id {schema_id} is not an Avro record schema")
        self._reading[schema_id] = reading
        return reading

    def _reading_of(
        self, version: SchemaVersion, writer_schema: Any, *, in_repo: bool = True
    ) -> _Reading:
        """How to read bodies written with ``writer_schema``: ``version`` itself when
        ``in_repo``, else a schema outside the repository for the record of ``version``."""
        newest = self.store.latest[version.name].schema
        model = MODELS[version.name]
        known = version if in_repo else None
        if in_repo:
            reader = self.store.reader(version.fingerprint)
            if reader is not None:
                datum_reader = self.store.datum_reader(version.fingerprint)
                return _Reading(
                    model, version.name, reader, writer_schema, None, datum_reader, known
                )
        resolve_to = None if writer_schema is newest else newest
        return _Reading(model, version.name, None, writer_schema, resolve_to, version=known)
