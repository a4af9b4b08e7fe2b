"""The wire format of the canonical topics, chosen by settings.

Default: Avro single-object encoding resolved against ``schemas/avro`` (no server needed). With
``STREAMS_SCHEMA_REGISTRY_URL`` set: Confluent framing, schemas registered under
``<topic>-value``. Readers accept both, told apart by the first byte (``C3`` or ``00``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from streams.codecs import avro
from streams.settings import Settings

if TYPE_CHECKING:
    from streams.codecs.avro import SchemaVersion
    from streams.codecs.confluent import ConfluentCodec

CONFLUENT_MAGIC = 0
CONFLUENT_FIRST = bytes([CONFLUENT_MAGIC])
CONFLUENT_HEADER_SIZE = 5  # the magic byte and a 4-byte schema id


class WireFormat:
    def __init__(self, registry_url: str | None = None) -> None:
        self._confluent: ConfluentCodec | None = None
        if registry_url:
            from streams.codecs.confluent import ConfluentCodec

            self._confluent = ConfluentCodec(registry_url)
        self.registry_url = registry_url

    def encode(self, event: BaseModel, topic: str) -> bytes:
        if self._confluent is not None:
            return self._confluent.encode(event, topic)
        return avro.encode(event)

    def decode(self, data: bytes) -> BaseModel:
        if data[:1] == CONFLUENT_FIRST:
            return self._registry_codec().decode(data)
        return avro.decode(data)

    def decode_datum(self, data: bytes) -> dict[str, Any]:
        """The record as plain values (``avro.decode_datum``), for consumers that need no
        models."""
        if data[:1] == CONFLUENT_FIRST:
            return self._registry_codec().decode_datum(data)
        return avro.decode_datum(data)

    def confluent_version(self, data: bytes) -> SchemaVersion | None:
        """For Confluent-framed bytes, the repository version their writer schema is; None when
        it is not one, or the bytes cannot be read (decoding them says why). RegistryError when
        the registry cannot be asked."""
        try:
            return self._registry_codec().repository_version(data)
        except avro.AvroDecodeError:
            return None

    def _registry_codec(self) -> ConfluentCodec:
        if self._confluent is None:
            raise avro.AvroDecodeError(
                "Confluent-framed message, but STREAMS_SCHEMA_REGISTRY_URL is not set"
            )
        return self._confluent


def wire_format(settings: Settings) -> WireFormat:
    return WireFormat(settings.schema_registry_url)
