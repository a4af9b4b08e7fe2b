"""Helpers and tables the generated writers use, and the choice of a union branch."""

from __future__ import annotations

import numbers
import sys
from array import array
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from streams.codecs.compiled.errors import AvroEncodeError
from streams.codecs.compiled.schema import INT_MAX, INT_MIN, LONG_MAX, LONG_MIN, MISSING, Node

_LITTLE = sys.byteorder == "little"
# Non-negative longs written as exactly 6 varint bytes: timestamp-millis from 1970-07-18 to
# 2039-09-07; the generated code packs and unpacks these with one struct call.
_SIX_MIN, _SIX_MAX = 1 << 34, 1 << 41


def long_bytes(n: int) -> bytes:
    """The zigzag varint of a long."""
    if not LONG_MIN <= n <= LONG_MAX:
        raise AvroEncodeError(f"{n} does not fit an Avro long (64 bits)")
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def _int_bytes(n: int) -> bytes:
    if not INT_MIN <= n <= INT_MAX:
        raise AvroEncodeError(f"{n} does not fit an Avro int (32 bits)")
    return long_bytes(n)


# Writer: the one-byte zigzag varints of -64..63, indexable by the value itself (negative
# indexes wrap), and the same after union index 1.
_ZZ = [bytes((((i << 1) ^ (i >> 63)) & 0xFF,)) for i in [*range(64), *range(-64, 0)]]
_ZZ_AFTER_1 = [b"\x02" + z for z in _ZZ]


# Varints of lengths, alone and after union index 1: the generated code looks a length up and
# calls _length on a KeyError, which fills in lengths below _KEEP_LENGTHS. (A plain dict: the
# subscript of a dict subclass costs a Python-level method call.)
_LENGTH: dict[int, bytes] = {}
_LENGTH_AFTER_1: dict[int, bytes] = {}
_KEEP_LENGTHS = 4096


def _length(n: int, table: dict[int, bytes]) -> bytes:
    encoded = (b"\x02" if table is _LENGTH_AFTER_1 else b"") + long_bytes(n)
    if 0 <= n < _KEEP_LENGTHS:
        table[n] = encoded
    return encoded


for _n in range(128):
    _length(_n, _LENGTH)
    _length(_n, _LENGTH_AFTER_1)
del _n

# Reader: decoded values of the one-byte varints 0..127, and string lengths of one-byte


def _floats(values: Any) -> bytes:
    # array('f') narrows like a C cast (out of range -> inf), as fastavro does; struct would raise.
    data = array("f", values)
    if not _LITTLE:  # pragma: no cover - little-endian machines only in practice
        data.byteswap()
    return data.tobytes()


def _doubles(values: Any) -> bytes:
    data = array("d", values)
    if not _LITTLE:  # pragma: no cover
        data.byteswap()
    return data.tobytes()


def _float(value: Any) -> bytes:
    return _floats((value,))


def _record_fields(
    value: Any, models: set[type], names: frozenset[str], defaults: dict[str, Any]
) -> Mapping[str, Any]:
    """The field values of a record given as a mapping or a pydantic model (slow path).

    A model class whose instances hold every field is added to ``models``: the generated code
    then reads ``__dict__`` directly. Missing fields take their Avro defaults.
    """
    if isinstance(value, BaseModel):
        fields: Mapping[str, Any] = value.__dict__
        if names <= fields.keys():
            models.add(type(value))
            return fields
    elif isinstance(value, Mapping):
        fields = value
    else:
        raise AvroEncodeError(
            f"a record must be a dict or a pydantic model, not {type(value).__name__}"
        )
    if defaults.keys() <= fields.keys():
        return fields
    return {**defaults, **fields}


def _fits(value: Any, node: Node) -> bool:
    """Whether ``value`` is a valid datum of ``node``, by the rules of fastavro's validation (the
    check fastavro's writer uses to pick a union branch); records may also be pydantic models."""
    kind = node.kind
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("int", "long", "timestamp-millis"):
        if kind == "timestamp-millis" and isinstance(value, datetime):
            return value.tzinfo is not None
        low, high = (INT_MIN, INT_MAX) if kind == "int" else (LONG_MIN, LONG_MAX)
        return (
            isinstance(value, numbers.Integral)
            and not isinstance(value, bool)
            and low <= int(value) <= high
        )
    if kind in ("float", "double"):
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "bytes":
        return isinstance(value, (bytes, bytearray))
    if kind == "fixed":
        return isinstance(value, bytes) and len(value) == node.size
    if kind == "enum":
        return value in node.symbols
    if kind == "union":
        return any(_fits(value, b) for b in node.branches)
    items = node.items
    if kind == "array" and items is not None:
        return (
            isinstance(value, (Sequence, array))
            and not isinstance(value, str)
            and all(_fits(v, items) for v in value)
        )
    if kind == "map" and items is not None:
        return (
            isinstance(value, Mapping)
            and all(isinstance(k, str) for k in value)
            and all(_fits(v, items) for v in value.values())
        )
    fields = _keys(value)
    return fields is not None and all(
        _fits(fields.get(f.name, None if f.default is MISSING else f.default), f.type)
        for f in node.fields
    )


def _keys(value: Any) -> Mapping[str, Any] | None:
    if isinstance(value, BaseModel):
        return value.__dict__
    if isinstance(value, Mapping):
        return value
    return None


def _union_chooser(node: Node) -> Callable[[Any], int]:
    """Index of the branch of a general union a value is written with, picked as fastavro does.

    The first branch the value is valid for wins, except that a later ``double`` is preferred to
    ``float`` and, among records, the one sharing most field names with the value (fastavro's
    ``-type`` key and tuple notation are not supported).
    """
    branches = node.branches

    def choose(value: Any) -> int:
        best = -1
        most = -1
        floating = False
        for index, branch in enumerate(branches):
            if floating:
                if branch.kind == "double":
                    return index
                continue
            if not _fits(value, branch):
                continue
            if branch.kind == "record":
                fields = _keys(value) or {}
                shared = len({f.name for f in branch.fields}.intersection(fields))
                if shared > most:
                    best, most = index, shared
            elif branch.kind == "float":
                best, floating = index, True
            else:
                return index
        if best < 0:
            raise AvroEncodeError(f"{type(value).__name__} value fits no branch of the union")
        return best

    return choose


def _null_union(node: Node) -> tuple[int, Node] | None:
    """For ``["null", X]`` or ``[X, "null"]``: the index of null and X."""
    if node.kind != "union" or len(node.branches) != 2:
        return None
    kinds = [b.kind for b in node.branches]
    if kinds.count("null") != 1:
        return None
    null = kinds.index("null")
    return null, node.branches[1 - null]
