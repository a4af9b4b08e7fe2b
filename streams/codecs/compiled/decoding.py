"""Helpers and tables the generated readers use."""

from __future__ import annotations

from typing import Any

from streams.codecs.compiled.errors import AvroDecodeError
from streams.codecs.compiled.schema import INT_MAX, INT_MIN

# Reader: decoded values of the one-byte varints 0..127, and string lengths of one-byte
# varints (-1: longer varint or negative length, see _read_str).
_UNZIGZAG = tuple((b >> 1) ^ -(b & 1) for b in range(128))
_SHORT_LEN = tuple(b >> 1 if b < 128 and not b & 1 else -1 for b in range(256))


def _raw_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """The unsigned varint at ``pos`` (still zigzag-encoded) and the position after it."""
    value = 0
    shift = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            break
        shift += 7
        if shift >= 70:
            raise AvroDecodeError("varint longer than 10 bytes")
    if value >> 64:
        raise AvroDecodeError("varint does not fit 64 bits")
    return value, pos


def _read_long(buf: bytes, pos: int) -> tuple[int, int]:
    z = buf[pos]
    if z < 0x80:
        pos += 1
    elif buf[pos + 1] < 0x80:  # two bytes: the common case that reaches this function
        z = (z & 0x7F) | buf[pos + 1] << 7
        pos += 2
    else:
        z, pos = _raw_varint(buf, pos)
    return (z >> 1) ^ -(z & 1), pos


def _read_int(buf: bytes, pos: int) -> tuple[int, int]:
    z = buf[pos]
    if z >= 0x80 and buf[pos + 1] < 0x80:  # two bytes: always in range
        z = (z & 0x7F) | buf[pos + 1] << 7
        return (z >> 1) ^ -(z & 1), pos + 2
    n, pos = _read_long(buf, pos)
    if not INT_MIN <= n <= INT_MAX:
        raise AvroDecodeError(f"{n} does not fit an Avro int")
    return n, pos


def _read_str(buf: bytes, pos: int) -> tuple[str, int]:
    n, pos = _read_long(buf, pos)
    if n < 0:
        raise AvroDecodeError(f"negative length {n}")
    end = pos + n
    return buf[pos:end].decode(), end


def _read_bytes(buf: bytes, pos: int) -> tuple[bytes, int]:
    n, pos = _read_long(buf, pos)
    if n < 0:
        raise AvroDecodeError(f"negative length {n}")
    end = pos + n
    return buf[pos:end], end


def _read_enum(buf: bytes, pos: int, table: dict[int, Any], name: str) -> tuple[Any, int]:
    z, pos = _raw_varint(buf, pos)
    if z not in table:
        raise AvroDecodeError(f"enum index {(z >> 1) ^ -(z & 1)} out of range for {name}")
    return table[z], pos


def _bad_index(z: int, pos: int) -> AvroDecodeError:
    return AvroDecodeError(f"union index {(z >> 1) ^ -(z & 1)} out of range at {pos}")
