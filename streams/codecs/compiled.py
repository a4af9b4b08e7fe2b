"""Avro binary encoders and decoders compiled from a schema into specialised Python functions.

fastavro interprets the schema for every datum (and validates union branches holding records to
pick one). Here the Python source of a writer and of a reader that do only the work of one
schema is generated once and compiled with ``exec``: fields become dictionary look-ups, runs of
doubles one ``struct`` call, ``["null", X]`` an ``is None`` test, usual timestamps one ``struct``
call, one- and two-byte varints table look-ups or inline arithmetic. The bytes are exactly what
fastavro's ``schemaless_writer`` writes (Avro 1.11 binary encoding); the tests check this.

Supported: record, enum, array, map, union, fixed, null, boolean, int, long, float, double,
bytes, string, and ``timestamp-millis`` on long. Logical types fastavro turns into other Python
types (date, uuid, decimal, ...) are refused at compile time; unknown ones are ignored, as the
specification says.

Writer (:func:`compile_writer`): a record value is a ``dict`` or a pydantic model, whose fields
are read from its ``__dict__`` (nested models alike); a ``dict`` lacking a field gets the
field's Avro default. Enums take the symbol as ``str`` or ``StrEnum`` member. timestamp-millis
takes an aware ``datetime`` (exact integer milliseconds, rounded down as fastavro does) or an
``int``. A union picks its branch from the value as fastavro does (``None`` -> null, then the
first branch the value is valid for). ``int`` values outside 32 bits and ``long`` values outside
64 bits are refused (fastavro would write such an ``int`` as a long). Failures raise
:class:`AvroEncodeError`.

Reader (:func:`compile_reader`): ``bindings`` maps the Avro *full name* of a record or enum to
the class it decodes to: a pydantic model (one :func:`streams.canonical.construct` can build,
i.e. a canonical model) or an ``Enum`` whose values are the symbols. :func:`model_bindings`
derives them from a model's field annotations. Bound records become model instances without
validation -- the same instance state ``construct`` gives (fields in declared order), built
inline, which is checked against ``construct`` when compiling -- and ``Literal`` fields (``kind``)
are checked; unbound records decode to ``dict`` (schema order) and unbound enums to ``str``, as
fastavro's ``schemaless_reader`` does. timestamp-millis decodes to UTC ``datetime``, bytes to
``bytes``. A datum must end exactly at the end of the data: truncated, corrupt or trailing bytes
raise :class:`AvroDecodeError`, never ``IndexError`` or the like.
"""

from __future__ import annotations

import numbers
import sys
import types
import typing
from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from struct import Struct, unpack_from
from struct import error as StructError
from typing import Any, Literal

from pydantic import BaseModel

from streams.canonical.models import construct

__all__ = [
    "AvroDecodeError",
    "AvroEncodeError",
    "Reader",
    "Writer",
    "compile_reader",
    "compile_writer",
    "model_bindings",
]

Writer = Callable[[Any], bytes]
Reader = Callable[[bytes | bytearray | memoryview, int], Any]


class AvroDecodeError(ValueError):
    """Bytes that are not a canonical event this code can read."""


class AvroEncodeError(ValueError):
    """A value that does not fit the schema it is written with."""


# --------------------------------------------------------------------------------------------
# Schema model: the JSON schema (raw or parsed by fastavro) resolved into linked nodes.

PRIMITIVES = frozenset(("null", "boolean", "int", "long", "float", "double", "bytes", "string"))
# Logical types fastavro turns into other Python types; decoding them as their base type would
# silently disagree with fastavro, so they are refused.
_REFUSED_LOGICAL = frozenset(
    (
        "decimal",
        "uuid",
        "date",
        "time-millis",
        "time-micros",
        "timestamp-micros",
        "local-timestamp-millis",
        "local-timestamp-micros",
    )
)
_MISSING: Any = object()


@dataclass(eq=False)
class _Field:
    name: str
    type: _Node
    default: Any = _MISSING  # the Python value of the Avro default, if the field has one


@dataclass(eq=False)
class _Node:
    kind: str  # a primitive name, "timestamp-millis", record, enum, fixed, array, map, union
    name: str = ""  # full name of named types
    fields: list[_Field] = field(default_factory=list)
    symbols: list[str] = field(default_factory=list)
    size: int = 0
    items: _Node | None = None  # array items, map values
    branches: list[_Node] = field(default_factory=list)


def _full_name(name: str, namespace: str) -> str:
    return name if "." in name or not namespace else f"{namespace}.{name}"


def _parse(schema: Any, namespace: str, names: dict[str, _Node]) -> _Node:
    if isinstance(schema, str):
        if schema in PRIMITIVES:
            return _Node(schema)
        node = names.get(_full_name(schema, namespace)) or names.get(schema)
        if node is None:
            raise ValueError(f"unknown Avro type {schema!r}")
        return node
    if isinstance(schema, list):
        return _Node("union", branches=[_parse(b, namespace, names) for b in schema])
    if not isinstance(schema, dict):
        raise ValueError(f"not an Avro schema: {schema!r}")
    kind = schema["type"]
    if isinstance(kind, (dict, list)):
        return _parse(kind, namespace, names)
    if kind in ("record", "error", "enum", "fixed"):
        name = schema["name"]
        if "." in name:
            full = name
        else:
            namespace = schema.get("namespace", namespace)
            full = _full_name(name, namespace)
        inner_ns = full.rpartition(".")[0]
        node = _Node("record" if kind == "error" else kind, name=full)
        names[full] = node  # before the fields: a record may refer to itself
        if kind in ("record", "error"):
            for f in schema["fields"]:
                ftype = _parse(f["type"], inner_ns, names)
                default = _default(ftype, f["default"]) if "default" in f else _MISSING
                node.fields.append(_Field(f["name"], ftype, default))
        elif kind == "enum":
            node.symbols = list(schema["symbols"])
        else:
            node.size = int(schema["size"])
        return node
    logical = schema.get("logicalType")
    if kind == "long" and logical == "timestamp-millis":
        return _Node("timestamp-millis")
    if logical in _REFUSED_LOGICAL:
        raise ValueError(f"logical type {logical} is not supported by the compiled codec")
    if kind in PRIMITIVES:
        return _Node(kind)
    if kind == "array":
        return _Node("array", items=_parse(schema["items"], namespace, names))
    if kind == "map":
        return _Node("map", items=_parse(schema["values"], namespace, names))
    return _parse(kind, namespace, names)  # {"type": "SomeNamedType"}


def _default(node: _Node, value: Any) -> Any:
    """The Python value a writer uses for an Avro JSON default."""
    if node.kind == "union":
        return _default(node.branches[0], value)
    if node.kind in ("bytes", "fixed") and isinstance(value, str):
        return value.encode("latin-1")  # JSON defaults of bytes are code points 0-255
    if node.kind == "record" and isinstance(value, dict):
        return {
            f.name: _default(f.type, value[f.name]) if f.name in value else f.default
            for f in node.fields
        }
    if node.kind == "array" and isinstance(value, list) and node.items is not None:
        return [_default(node.items, v) for v in value]
    if node.kind == "map" and isinstance(value, dict) and node.items is not None:
        return {k: _default(node.items, v) for k, v in value.items()}
    return value


def parse(schema: Any) -> _Node:
    """The resolved schema tree of a JSON schema or of a schema parsed by fastavro."""
    return _parse(schema, "", {})


# --------------------------------------------------------------------------------------------
# Helpers and tables used by the generated code.

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LONG_MIN, _LONG_MAX = -(1 << 63), (1 << 63) - 1
_INT_MIN, _INT_MAX = -(1 << 31), (1 << 31) - 1
_LITTLE = sys.byteorder == "little"
_MS = timedelta(milliseconds=1)
# Non-negative longs written as exactly 6 varint bytes: timestamp-millis from 1970-07-18 to
# 2039-09-07; the generated code packs and unpacks these with one struct call.
_SIX_MIN, _SIX_MAX = 1 << 34, 1 << 41


def _long_bytes(n: int) -> bytes:
    """The zigzag varint of a long."""
    if not _LONG_MIN <= n <= _LONG_MAX:
        raise AvroEncodeError(f"{n} does not fit an Avro long (64 bits)")
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def _int_bytes(n: int) -> bytes:
    if not _INT_MIN <= n <= _INT_MAX:
        raise AvroEncodeError(f"{n} does not fit an Avro int (32 bits)")
    return _long_bytes(n)


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
    encoded = (b"\x02" if table is _LENGTH_AFTER_1 else b"") + _long_bytes(n)
    if 0 <= n < _KEEP_LENGTHS:
        table[n] = encoded
    return encoded


for _n in range(128):
    _length(_n, _LENGTH)
    _length(_n, _LENGTH_AFTER_1)
del _n

# Reader: decoded values of the one-byte varints 0..127, and string lengths of one-byte
# varints (-1: longer varint or negative length, see _read_str).
_UNZIGZAG = tuple((b >> 1) ^ -(b & 1) for b in range(128))
_SHORT_LEN = tuple(b >> 1 if b < 128 and not b & 1 else -1 for b in range(256))


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
    if not _INT_MIN <= n <= _INT_MAX:
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


def _fits(value: Any, node: _Node) -> bool:
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
        low, high = (_INT_MIN, _INT_MAX) if kind == "int" else (_LONG_MIN, _LONG_MAX)
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
        _fits(fields.get(f.name, None if f.default is _MISSING else f.default), f.type)
        for f in node.fields
    )


def _keys(value: Any) -> Mapping[str, Any] | None:
    if isinstance(value, BaseModel):
        return value.__dict__
    if isinstance(value, Mapping):
        return value
    return None


def _union_chooser(node: _Node) -> Callable[[Any], int]:
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


def _null_union(node: _Node) -> tuple[int, _Node] | None:
    """For ``["null", X]`` or ``[X, "null"]``: the index of null and X."""
    if node.kind != "union" or len(node.branches) != 2:
        return None
    kinds = [b.kind for b in node.branches]
    if kinds.count("null") != 1:
        return None
    null = kinds.index("null")
    return null, node.branches[1 - null]


# --------------------------------------------------------------------------------------------
# Code generation.


class _Gen:
    """Shared machinery: a namespace of constants, unique names, nested function bodies."""

    def __init__(self) -> None:
        self.ns: dict[str, Any] = {}
        self.sources: list[str] = []
        self.lines: list[str] = []
        self.depth = 0
        self.counter = 0
        self.inlining: set[int] = set()
        self.functions: dict[int, str] = {}

    def emit(self, *lines: str) -> None:
        self.lines.extend("    " * self.depth + line for line in lines)

    def tmp(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def const(self, value: Any, prefix: str = "_c") -> str:
        name = self.tmp(prefix)
        self.ns[name] = value
        return name

    def indented(self) -> _Indent:
        return _Indent(self)

    def compile(self, entry: str) -> Any:
        source = "\n\n".join(self.sources)
        code = compile(source, f"<avro codec {entry}>", "exec")
        exec(code, self.ns)  # noqa: S102 - the source is generated here from the schema only
        return self.ns[entry]


class _Indent:
    def __init__(self, gen: _Gen) -> None:
        self.gen = gen

    def __enter__(self) -> None:
        self.gen.depth += 1

    def __exit__(self, *exc: object) -> None:
        self.gen.depth -= 1


def _fixed_runs(fields: list[_Field]) -> list[list[_Field]]:
    """Fields split into runs of consecutive doubles (one struct call each) and single fields."""
    runs: list[list[_Field]] = []
    for f in fields:
        if f.type.kind == "double" and runs and runs[-1][0].type.kind == "double":
            runs[-1].append(f)
        else:
            runs.append([f])
    return runs


class _WriterGen(_Gen):
    """Generates code that appends the encoded parts of a value with ``ap`` (the ``append`` of
    a list joined at the end: cheaper than growing a bytearray part by part)."""

    def __init__(self) -> None:
        super().__init__()
        self.ns.update(
            _long_bytes=_long_bytes,
            _int_bytes=_int_bytes,
            _floats=_floats,
            _doubles=_doubles,
            _float=_float,
            _record_fields=_record_fields,
            _EPOCH=_EPOCH,
            _MS=_MS,
            _Err=AvroEncodeError,
            _ZZ=_ZZ,
            _ZZ_AFTER_1=_ZZ_AFTER_1,
            _LENGTH=_LENGTH,
            _LENGTH_AFTER_1=_LENGTH_AFTER_1,
            _length=_length,
            _pack_d=Struct("<d").pack,
            _pack_1d=Struct("<Bd").pack,
            _pack_IH=Struct("<IH").pack,
            _pack_H=Struct("<H").pack,
            _pack_1H=Struct("<BH").pack,
        )

    def index(self, i: int) -> None:
        self.emit(f"ap({_long_bytes(i)!r})")

    def integer(self, x: str, kind: str, after_1: bool = False) -> None:
        """An int or long, one- and two-byte varints inline; ``after_1``: preceded by union
        index 1, written in the same part."""
        z = self.tmp("z")
        self.emit(
            f"if -64 <= {x} < 64:",
            f"    ap({'_ZZ_AFTER_1' if after_1 else '_ZZ'}[{x}])",
            f"elif -8192 <= {x} < 8192:",
            f"    {z} = ({x} << 1) ^ ({x} >> 63)",
            f"    ap({'_pack_1H(2, ' if after_1 else '_pack_H('}"
            f"{z} & 0x7F | 0x80 | ({z} >> 7) << 8))",
            "else:",
        )
        if after_1:
            self.emit("    ap(b'\\x02')")
        self.emit(f"    ap(_{kind}_bytes({x}))")

    def length(self, n: str, after_1: bool = False) -> None:
        """A length (or count): ``n`` may be an expression."""
        table = "_LENGTH_AFTER_1" if after_1 else "_LENGTH"
        self.emit(
            "try:",
            f"    ap({table}[{n}])",
            "except KeyError:",
            f"    ap(_length({n}, {table}))",
        )

    def string(self, x: str, after_1: bool = False) -> None:
        """A string; ``x`` may be an expression (evaluated once)."""
        b = self.tmp("b")
        self.emit(f"{b} = {x}.encode()")
        self.length(f"len({b})", after_1)
        self.emit(f"ap({b})")

    def value(self, node: _Node, x: str, lead: int | None = None) -> None:
        """Code writing the value in variable ``x``; ``lead``: a union index to write first."""
        kind = node.kind
        if lead == 1 and kind in ("int", "long"):
            self.integer(x, kind, after_1=True)
            return
        if lead == 1 and kind == "string":
            self.string(x, after_1=True)
            return
        if lead == 1 and kind == "double":
            self.emit(f"ap(_pack_1d(2, {x}))")
            return
        if lead is not None and not (kind == "record" and id(node) not in self.inlining):
            self.index(lead)
            lead = None
        if kind == "null":
            return
        if kind == "boolean":
            self.emit(f"ap(b'\\x01' if {x} else b'\\x00')")
        elif kind in ("int", "long"):
            self.integer(x, kind)
        elif kind == "timestamp-millis":
            self.emit(
                f"if type({x}) is not int:",
                f"    {x} = ({x} - _EPOCH) // _MS",  # exact: timedelta // timedelta is integral
                # The usual 6 varint bytes of 2 * x (zigzag of x >= 0) in one pack.
                f"if {_SIX_MIN} <= {x} < {_SIX_MAX}:",
                f"    ap(_pack_IH(({x} << 1 & 0x7E) | ({x} << 2 & 0x7F00) | ({x} << 3 & 0x7F0000)"
                f" | ({x} << 4 & 0x7F000000) | 0x80808080,"
                f" ({x} >> 27 & 0x7F) | ({x} >> 26 & 0x7F00) | 0x80))",
                "else:",
                f"    ap(_long_bytes({x}))",
            )
        elif kind == "float":
            self.emit(f"ap(_float({x}))")
        elif kind == "double":
            self.emit(f"ap(_pack_d({x}))")
        elif kind == "string":
            self.string(x)
        elif kind == "bytes":
            self.length(f"len({x})")
            self.emit(f"ap(bytes({x}))")
        elif kind == "fixed":
            self.emit(
                f"if len({x}) != {node.size}:",
                f"    raise _Err('fixed {node.name} takes {node.size} bytes')",
                f"ap(bytes({x}))",
            )
        elif kind == "enum":
            table = self.const({s: _long_bytes(i) for i, s in enumerate(node.symbols)}, "_enum")
            self.emit(f"ap({table}[{x}])")
        elif kind in ("array", "map"):
            self.container(node, x)
        elif kind == "union":
            self.union(node, x)
        elif kind == "record":
            if id(node) in self.inlining:
                self.emit(f"{self.function(node)}({x}, ap)")
            else:
                self.record(node, x, lead)
        else:  # pragma: no cover - _parse produces no other kinds
            raise ValueError(f"cannot write Avro type {kind}")

    def container(self, node: _Node, x: str) -> None:
        assert node.items is not None
        n = self.tmp("n")
        self.emit(f"{n} = len({x})", f"if {n}:")
        with self.indented():
            self.length(n)
            if node.kind == "array" and node.items.kind in ("float", "double"):
                self.emit(f"ap(_{node.items.kind}s({x}))")
            elif node.kind == "array":
                item = self.tmp("it")
                self.emit(f"for {item} in {x}:")
                with self.indented():
                    self.value(node.items, item)
                    self.emit("pass")
            else:
                k, v = self.tmp("k"), self.tmp("v")
                self.emit(f"for {k}, {v} in {x}.items():")
                with self.indented():
                    self.string(k)
                    self.value(node.items, v)
        self.emit("ap(b'\\x00')")

    def union(self, node: _Node, x: str) -> None:
        simple = _null_union(node)
        if simple is not None:
            null, other = simple
            self.emit(f"if {x} is None:")
            with self.indented():
                self.index(null)
            self.emit("else:")
            with self.indented():
                self.value(other, x, lead=1 - null)
            return
        chooser = self.const(_union_chooser(node), "_choose")
        i = self.tmp("i")
        self.emit(f"{i} = {chooser}({x})")
        for index, branch in enumerate(node.branches):
            self.emit(f"{'if' if index == 0 else 'elif'} {i} == {index}:")
            with self.indented():
                self.value(branch, x, lead=index)
                self.emit("pass")

    def record(self, node: _Node, v: str, lead: int | None = None) -> None:
        self.inlining.add(id(node))
        d = self.tmp("d")
        models = self.const(set(), "_models")
        names = self.const(frozenset(f.name for f in node.fields), "_names")
        defaults = self.const(
            {f.name: f.default for f in node.fields if f.default is not _MISSING}, "_defaults"
        )
        self.emit(
            f"if type({v}) in {models}:",
            f"    {d} = {v}.__dict__",
            "else:",
            f"    {d} = _record_fields({v}, {models}, {names}, {defaults})",
        )
        for run in _fixed_runs(node.fields):
            if run[0].type.kind == "double":
                fmt = "<" + ("B" if lead is not None else "") + "d" * len(run)
                args = [f"{d}[{f.name!r}]" for f in run]
                if lead is not None:
                    args.insert(0, str(lead << 1))
                    lead = None
                self.emit(f"ap({self.const(Struct(fmt).pack, '_pack')}({', '.join(args)}))")
            elif run[0].type.kind == "string" and lead is None:
                self.string(f"{d}[{run[0].name!r}]")
            else:
                x = self.tmp("x")
                self.emit(f"{x} = {d}[{run[0].name!r}]")
                self.value(run[0].type, x, lead)
                lead = None
        if lead is not None:  # a record without fields
            self.index(lead)
        self.inlining.discard(id(node))

    def function(self, node: _Node) -> str:
        """A separate writer function ``name(v, ap)`` of a record that contains itself."""
        name = self.functions.get(id(node))
        if name is not None:
            return name
        name = self.tmp("_write_record")
        self.functions[id(node)] = name
        saved, saved_depth, saved_inlining = self.lines, self.depth, self.inlining
        self.lines, self.depth, self.inlining = [], 1, set()
        self.record(node, "v")
        self.emit("pass")
        self.sources.append(f"def {name}(v, ap):\n" + "\n".join(self.lines))
        self.lines, self.depth, self.inlining = saved, saved_depth, saved_inlining
        return name


def compile_writer(schema: Any, *, prefix: bytes = b"") -> Writer:
    """A function writing a datum of ``schema`` as Avro binary, after ``prefix`` (e.g. a header).

    ``schema`` is the JSON schema, raw or parsed by fastavro.
    """
    root = parse(schema)
    gen = _WriterGen()
    gen.ns["_PREFIX"] = bytes(prefix)
    gen.ns["_WHAT"] = root.name or root.kind
    gen.depth = 2
    gen.value(root, "v")
    gen.emit("pass")
    gen.sources.append(
        "def write(v):\n"
        "    parts = [_PREFIX]\n"
        "    ap = parts.append\n"
        "    try:\n" + "\n".join(gen.lines) + "\n"
        "    except _Err:\n"
        "        raise\n"
        "    except Exception as exc:\n"
        "        raise _Err(f'cannot write {_WHAT}: {type(exc).__name__}: {exc}') from exc\n"
        "    return b''.join(parts)\n"
    )
    writer: Writer = gen.compile("write")
    return writer


class _ReaderGen(_Gen):
    def __init__(self, bindings: Mapping[str, type[Any]]) -> None:
        super().__init__()
        self.bindings = bindings
        self.ns.update(
            _read_long=_read_long,
            _read_int=_read_int,
            _read_enum=_read_enum,
            _raw_varint=_raw_varint,
            _bad_index=_bad_index,
            _read_str=_read_str,
            _read_bytes=_read_bytes,
            _EPOCH=_EPOCH,
            _MS=_MS,
            _StructError=StructError,
            _unpack_IH=Struct("<IH").unpack_from,
            _unpack_from=unpack_from,
            _construct=construct,
            _new=object.__new__,
            _set=set,
            _Err=AvroDecodeError,
            _BOOL=(False, True),
            _UNZIGZAG=_UNZIGZAG,
            _SHORT_LEN=_SHORT_LEN,
            _unpack_d=Struct("<d").unpack_from,
            _unpack_f=Struct("<f").unpack_from,
        )

    def varint(self, n: str, slow: str = "_read_long") -> None:
        self.emit(
            f"{n} = buf[pos]",
            f"if {n} < 128:",
            "    pos += 1",
            f"    {n} = _UNZIGZAG[{n}]",
            "else:",
            f"    {n}, pos = {slow}(buf, pos)",
        )

    def sized(self, x: str, decode: bool, skip: int = 0) -> None:
        """A string or bytes at ``pos + skip``. Lengths are not checked against the data here:
        a slice past the end is short but moves ``pos`` past ``blen``, which the next read or
        the final ``pos == blen`` check turns into an error."""
        n = self.tmp("n")
        at = f"pos + {skip}" if skip else "pos"
        self.emit(
            f"{n} = _SHORT_LEN[buf[{at}]]",
            f"if {n} >= 0:",
            f"    pos += {n} + {skip + 1}",
            f"    {x} = buf[pos - {n}:pos]{'.decode()' if decode else ''}",
            "else:",
            f"    {x}, pos = {'_read_str' if decode else '_read_bytes'}(buf, {at})",
        )

    def value(self, node: _Node, x: str) -> None:
        kind = node.kind
        if kind == "null":
            self.emit(f"{x} = None")
        elif kind == "boolean":
            self.emit(f"{x} = _BOOL[buf[pos]]", "pos += 1")
        elif kind == "int":
            self.varint(x, "_read_int")
        elif kind == "long":
            self.varint(x)
        elif kind == "timestamp-millis":
            lo, hi = self.tmp("lo"), self.tmp("hi")
            self.emit(
                "try:",
                f"    {lo}, {hi} = _unpack_IH(buf, pos)",
                "except _StructError:",
                f"    {lo} = {hi} = 0",
                # The usual 6 varint bytes (five with the continuation bit, a sixth without) of
                # an even zigzag value 2 * x: x in one go.
                f"if {lo} & 0x80808081 == 0x80808080 and {hi} & 0x8080 == 0x80:",
                f"    {x} = _EPOCH + _MS * (({lo} >> 1 & 0x3F) | ({lo} >> 2 & 0x1FC0)"
                f" | ({lo} >> 3 & 0xFE000) | ({lo} >> 4 & 0x7F00000)"
                f" | (({hi} & 0x7F) | ({hi} >> 1 & 0x3F80)) << 27)",
                "    pos += 6",
                "else:",
                f"    {x}, pos = _read_long(buf, pos)",
                f"    {x} = _EPOCH + _MS * {x}",
            )
        elif kind == "float":
            self.emit(f"{x}, = _unpack_f(buf, pos)", "pos += 4")
        elif kind == "double":
            self.emit(f"{x}, = _unpack_d(buf, pos)", "pos += 8")
        elif kind == "string":
            self.sized(x, decode=True)
        elif kind == "bytes":
            self.sized(x, decode=False)
        elif kind == "fixed":  # a short slice moves pos past blen: an error later
            self.emit(f"pos += {node.size}", f"{x} = buf[pos - {node.size}:pos]")
        elif kind == "enum":
            self.enum(node, x)
        elif kind in ("array", "map"):
            self.container(node, x)
        elif kind == "union":
            self.union(node, x)
        elif kind == "record":
            if id(node) in self.inlining:
                self.emit(f"{x}, pos = {self.function(node)}(buf, pos, blen)")
            else:
                self.record(node, x)
        else:  # pragma: no cover - _parse produces no other kinds
            raise ValueError(f"cannot read Avro type {kind}")

    def enum(self, node: _Node, x: str) -> None:
        cls = self.bindings.get(node.name)
        if cls is None:
            values: list[Any] = list(node.symbols)
        elif isinstance(cls, type) and issubclass(cls, Enum):
            try:
                values = [cls(s) for s in node.symbols]
            except ValueError as exc:
                raise ValueError(f"{cls.__name__} lacks a symbol of enum {node.name}") from exc
        else:
            raise TypeError(f"enum {node.name} can only be bound to an Enum, not {cls!r}")
        table = {i << 1: v for i, v in enumerate(values)}
        short = self.const({z: v for z, v in table.items() if z < 128}, "_enum")
        self.emit(
            "try:",
            f"    {x} = {short}[buf[pos]]",
            "except KeyError:",  # a multi-byte (non-minimal or big) index, or a bad one
            f"    {x}, pos = _read_enum(buf, pos, {self.const(table, '_enum')}, {node.name!r})",
            "else:",
            "    pos += 1",
        )

    def container(self, node: _Node, x: str) -> None:
        assert node.items is not None
        is_map = node.kind == "map"
        n, skip = self.tmp("n"), self.tmp("s")
        min_size = 1 if is_map else _min_size(node.items)
        self.emit(f"{x} = {{}}" if is_map else f"{x} = []", "while True:")
        with self.indented():
            self.varint(n)
            self.emit(f"if {n} == 0:", "    break", f"if {n} < 0:")
            with self.indented():
                self.emit(f"{n} = -{n}")
                self.varint(skip)  # the byte size of the block, not needed
            # A count the remaining bytes cannot hold is corrupt; items of no bytes are capped.
            self.emit(f"if {n} > {'blen - pos' if min_size else 1 << 24}:")
            self.emit(f"    raise _Err('block of ' + str({n}) + ' items overruns the data')")
            if not is_map and node.items.kind in ("float", "double"):
                code, size = ("f", 4) if node.items.kind == "float" else ("d", 8)
                self.emit(
                    f"{x}.extend(_unpack_from('<%d{code}' % {n}, buf, pos))",
                    f"pos += {size} * {n}",
                )
                return
            self.emit(f"for _ in range({n}):")
            with self.indented():
                if is_map:
                    k, v = self.tmp("k"), self.tmp("v")
                    self.value(_Node("string"), k)
                    self.value(node.items, v)
                    self.emit(f"{x}[{k}] = {v}")
                else:
                    it = self.tmp("it")
                    self.value(node.items, it)
                    self.emit(f"{x}.append({it})")

    def union(self, node: _Node, x: str) -> None:
        """Dispatch on the index byte; a multi-byte (non-minimal or big) index goes to a
        separate function, so that the branches are not inlined twice."""
        b = self.tmp("b")
        self.emit(f"{b} = buf[pos]")
        order = sorted(range(len(node.branches)), key=lambda i: node.branches[i].kind == "null")
        first = True
        for index in order:
            if index >= 64:
                continue
            branch = node.branches[index]
            self.emit(f"{'if' if first else 'elif'} {b} == {index << 1}:")
            first = False
            with self.indented():
                if branch.kind in ("string", "bytes"):
                    self.sized(x, decode=branch.kind == "string", skip=1)
                else:
                    self.emit("pos += 1")
                    self.value(branch, x)
        self.emit("else:", f"    {x}, pos = {self.slow_union(node)}(buf, pos, blen)")

    def slow_union(self, node: _Node) -> str:
        name = self.tmp("_read_union")
        saved, saved_depth = self.lines, self.depth
        self.lines, self.depth = [], 1
        self.emit("b, pos = _raw_varint(buf, pos)")
        for index, branch in enumerate(node.branches):
            self.emit(f"{'if' if index == 0 else 'elif'} b == {index << 1}:")
            with self.indented():
                self.value(branch, "x")
        self.emit("else:", "    raise _bad_index(b, pos)", "return x, pos")
        self.sources.append(f"def {name}(buf, pos, blen):\n" + "\n".join(self.lines))
        self.lines, self.depth = saved, saved_depth
        return name

    def record(self, node: _Node, x: str) -> None:
        self.inlining.add(id(node))
        cls = self.bindings.get(node.name)
        literals = {} if cls is None else _check_model(cls, node)
        targets: dict[str, str] = {}
        for run in _fixed_runs(node.fields):
            names = [self.tmp("f") for _ in run]
            targets.update((f.name, t) for f, t in zip(run, names, strict=True))
            if len(run) > 1:
                unpack = self.const(Struct("<" + "d" * len(run)).unpack_from, "_unpack")
                self.emit(f"{', '.join(names)} = {unpack}(buf, pos)", f"pos += {8 * len(run)}")
            else:
                self.value(run[0].type, names[0])
        for name, allowed in literals.items():
            message = f"{node.name}.{name} must be one of {sorted(allowed)!r}, not "
            self.emit(
                f"if {targets[name]} not in {self.const(allowed, '_literal')}:",
                f"    raise _Err({self.const(message, '_message')} + repr({targets[name]}))",
            )
        if cls is None:
            values = ", ".join(f"{name!r}: {t}" for name, t in targets.items())
            self.emit(f"{x} = {{{values}}}")
        else:
            self.build(cls, targets, x)
        self.inlining.discard(id(node))

    def build(self, cls: type[Any], targets: dict[str, str], x: str) -> None:
        """A model instance from the field variables: what construct() builds, inlined when the
        model has exactly the record's fields and the inlined build is checked to match it."""
        model = self.const(cls, "_model")
        order = list(cls.model_fields)
        setters = _slot_setters(cls, order) if set(order) == set(targets) else None
        if setters is None:
            values = ", ".join(f"{name!r}: {t}" for name, t in targets.items())
            self.emit(f"{x} = _construct({model}, {{{values}}})")
            return
        set_dict, set_fields, set_extra, set_private = (self.const(s, "_setter") for s in setters)
        values = ", ".join(f"{name!r}: {targets[name]}" for name in order)
        fields_set = self.const(frozenset(order), "_fields_set")
        self.emit(
            f"{x} = _new({model})",
            f"{set_dict}({x}, {{{values}}})",
            f"{set_fields}({x}, _set({fields_set}))",
            f"{set_extra}({x}, None)",
            f"{set_private}({x}, None)",
        )

    def function(self, node: _Node) -> str:
        """A separate reader ``name(buf, pos, blen) -> (value, pos)`` of a recursive record."""
        name = self.functions.get(id(node))
        if name is not None:
            return name
        name = self.tmp("_read_record")
        self.functions[id(node)] = name
        saved, saved_depth, saved_inlining = self.lines, self.depth, self.inlining
        self.lines, self.depth, self.inlining = [], 1, set()
        self.record(node, "x")
        self.emit("return x, pos")
        self.sources.append(f"def {name}(buf, pos, blen):\n" + "\n".join(self.lines))
        self.lines, self.depth, self.inlining = saved, saved_depth, saved_inlining
        return name


_SLOTS = ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__")
Setter = Callable[[Any, Any], None]


def _slot_setters(cls: type[Any], order: list[str]) -> tuple[Setter, ...] | None:
    """Setters of the instance state construct() fills in, if building an instance with them
    gives exactly what construct() gives (checked here on a sample); else None."""
    setters: list[Setter] = []
    for slot in _SLOTS:
        owner = next((c for c in cls.__mro__ if slot in vars(c)), None)
        descriptor = vars(owner).get(slot) if owner is not None else None
        setter = getattr(descriptor, "__set__", None)
        if setter is None:
            return None
        setters.append(setter)
    sample = {name: object() for name in order}
    try:
        expected = construct(cls, dict(sample))
        built = object.__new__(cls)
        setters[0](built, dict(sample))
        setters[1](built, set(order))
        setters[2](built, None)
        setters[3](built, None)
        same = all(
            list(vars(expected).items()) == list(vars(built).items())
            if slot == "__dict__"
            else getattr(expected, slot) == getattr(built, slot)
            for slot in _SLOTS
        )
        same = same and expected.__getstate__() == built.__getstate__()
    except Exception:  # any surprise means: use construct() itself
        return None
    return tuple(setters) if same else None


def _min_size(node: _Node, seen: frozenset[int] = frozenset()) -> int:
    """1 if every value of ``node`` takes at least one byte, else 0."""
    if node.kind == "null" or id(node) in seen:
        return 0
    if node.kind == "record":
        inner = seen | {id(node)}
        return min(1, sum(_min_size(f.type, inner) for f in node.fields))
    if node.kind == "fixed":
        return min(1, node.size)
    return 1


def _check_model(cls: type[Any], node: _Node) -> dict[str, frozenset[Any]]:
    """Check a record's binding; return the allowed values of its ``Literal`` fields."""
    if not (isinstance(cls, type) and issubclass(cls, BaseModel)):
        raise TypeError(f"record {node.name} can only be bound to a pydantic model, not {cls!r}")
    try:
        construct(cls, {})  # raises KeyError for models construct() does not know
    except KeyError:
        raise ValueError(
            f"construct() cannot build {cls.__name__} (not a canonical model)"
        ) from None
    fields = cls.model_fields
    unknown = [f.name for f in node.fields if f.name not in fields]
    if unknown:
        raise ValueError(f"{cls.__name__} has no field(s) {unknown} of Avro record {node.name}")
    literals: dict[str, frozenset[Any]] = {}
    for f in node.fields:
        annotation = fields[f.name].annotation
        if typing.get_origin(annotation) is Literal:
            literals[f.name] = frozenset(typing.get_args(annotation))
    return literals


def compile_reader(schema: Any, bindings: Mapping[str, type[Any]] | None = None) -> Reader:
    """A function ``read(data, pos)`` decoding one datum of ``schema`` from ``data[pos:]``.

    ``bindings`` maps Avro full names of records to pydantic models and of enums to ``Enum``
    classes (see :func:`model_bindings`); unbound ones decode to ``dict`` and ``str``. The datum
    must end at the end of ``data``.
    """
    root = parse(schema)
    gen = _ReaderGen(bindings or {})
    gen.ns["_WHAT"] = root.name or root.kind
    gen.depth = 2
    gen.value(root, "x")
    gen.sources.append(
        "def read(data, pos=0):\n"
        "    buf = data if type(data) is bytes else bytes(data)\n"
        "    blen = len(buf)\n"
        "    if not 0 <= pos <= blen:\n"
        "        raise _Err(f'start {pos} outside the {blen} bytes')\n"
        "    try:\n" + "\n".join(gen.lines) + "\n"
        "    except _Err:\n"
        "        raise\n"
        "    except Exception as exc:\n"
        "        raise _Err(f'corrupt {_WHAT}: {type(exc).__name__}: {exc}') from exc\n"
        "    if pos != blen:\n"
        "        raise _Err(f'truncated {_WHAT}' if pos > blen else\n"
        "                   f'{blen - pos} bytes left after {_WHAT}')\n"
        "    return x\n"
    )
    reader: Reader = gen.compile("read")
    return reader


# --------------------------------------------------------------------------------------------
# Bindings from pydantic annotations.


def model_bindings(schema: Any, model: type[BaseModel]) -> dict[str, type[Any]]:
    """Avro full name -> class for every record and enum of ``schema`` that ``model`` types.

    Walks the schema and the model's field annotations together: a record field typed as a
    pydantic model binds that record, a ``StrEnum`` binds the enum, through ``X | None``,
    ``list[X]`` and ``dict[str, X]``. The Avro and Python names need not agree (the dead letter's
    ``Header`` record is ``MessageHeader``).
    """
    bindings: dict[str, type[Any]] = {}
    _bind(parse(schema), model, bindings)
    return bindings


def _strip(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _bind(node: _Node, annotation: Any, bindings: dict[str, type[Any]]) -> None:
    annotation = _strip(annotation)
    origin = typing.get_origin(annotation)
    if node.kind == "union":
        branches = [b for b in node.branches if b.kind != "null"]
        if origin in (typing.Union, types.UnionType):
            args = [_strip(a) for a in typing.get_args(annotation) if a is not type(None)]
        else:
            args = [annotation]
        if len(branches) == 1 and len(args) == 1:
            _bind(branches[0], args[0], bindings)
        return
    if node.kind == "record" and isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if node.name in bindings:
            return
        bindings[node.name] = annotation
        for f in node.fields:
            info = annotation.model_fields.get(f.name)
            if info is not None:
                _bind(f.type, info.annotation, bindings)
    elif node.kind == "enum" and isinstance(annotation, type) and issubclass(annotation, Enum):
        bindings[node.name] = annotation
    elif node.kind == "array" and origin in (list, tuple) and node.items is not None:
        _bind(node.items, typing.get_args(annotation)[0], bindings)
    elif node.kind == "map" and origin is dict and node.items is not None:
        _bind(node.items, typing.get_args(annotation)[1], bindings)
