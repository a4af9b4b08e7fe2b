"""The errors of the compiled Avro codec."""

from __future__ import annotations


class AvroDecodeError(ValueError):
    """Bytes that are not a canonical event this code can read."""


class AvroEncodeError(ValueError):
    """A value that does not fit the schema it is written with."""
