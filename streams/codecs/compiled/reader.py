"""The compiled reader: :func:`compile_reader` and the generator of its source."""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from enum import Enum
from struct import Struct, unpack_from
from struct import error as StructError
from typing import Any, Literal

from pydantic import BaseModel

from streams.canonical.models import construct
from streams.codecs.compiled.codegen import Gen
from streams.codecs.compiled.decoding import (
    _SHORT_LEN,
    _UNZIGZAG,
    _bad_index,
    _raw_varint,
    _read_bytes,
    _read_enum,
    _read_int,
    _read_long,
    _read_str,
)
from streams.codecs.compiled.errors import AvroDecodeError
from streams.codecs.compiled.schema import Node, fixed_runs, min_size, parse

Reader = Callable[[bytes | bytearray | memoryview, int], Any]


class _ReaderGen(Gen):
    function_prefix = "_read_record"
    function_params = "buf, pos, blen"  # returns (value, pos)

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

    def value(self, node: Node, x: str) -> None:
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

    def enum(self, node: Node, x: str) -> None:
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

    def container(self, node: Node, x: str) -> None:
        assert node.items is not None
        is_map = node.kind == "map"
        n, skip = self.tmp("n"), self.tmp("s")
        least = 1 if is_map else min_size(node.items)
        self.emit(f"{x} = {{}}" if is_map else f"{x} = []", "while True:")
        with self.indented():
            self.varint(n)
            self.emit(f"if {n} == 0:", "    break", f"if {n} < 0:")
            with self.indented():
                self.emit(f"{n} = -{n}")
                self.varint(skip)  # the byte size of the block, not needed
            # A count the remaining bytes cannot hold is corrupt; items of no bytes are capped.
            self.emit(f"if {n} > {'blen - pos' if least else 1 << 24}:")
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
                    self.value(Node("string"), k)
                    self.value(node.items, v)
                    self.emit(f"{x}[{k}] = {v}")
                else:
                    it = self.tmp("it")
                    self.value(node.items, it)
                    self.emit(f"{x}.append({it})")

    def union(self, node: Node, x: str) -> None:
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

    def slow_union(self, node: Node) -> str:
        name = self.tmp("_read_union")
        with self.separate(name, "buf, pos, blen", inlining=True):
            self.emit("b, pos = _raw_varint(buf, pos)")
            for index, branch in enumerate(node.branches):
                self.emit(f"{'if' if index == 0 else 'elif'} b == {index << 1}:")
                with self.indented():
                    self.value(branch, "x")
            self.emit("else:", "    raise _bad_index(b, pos)", "return x, pos")
        return name

    def record(self, node: Node, x: str) -> None:
        self.inlining.add(id(node))
        cls = self.bindings.get(node.name)
        literals = {} if cls is None else _check_model(cls, node)
        targets: dict[str, str] = {}
        for run in fixed_runs(node.fields):
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

    def function_body(self, node: Node) -> None:
        self.record(node, "x")
        self.emit("return x, pos")


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


def _check_model(cls: type[Any], node: Node) -> dict[str, frozenset[Any]]:
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
