"""The compiled writer: :func:`compile_writer` and the generator of its source."""

from __future__ import annotations

from collections.abc import Callable
from struct import Struct
from typing import Any

from streams.codecs.compiled.codegen import Gen
from streams.codecs.compiled.encoding import (
    _LENGTH,
    _LENGTH_AFTER_1,
    _SIX_MAX,
    _SIX_MIN,
    _ZZ,
    _ZZ_AFTER_1,
    _doubles,
    _float,
    _floats,
    _int_bytes,
    _length,
    _null_union,
    _record_fields,
    _union_chooser,
)
from streams.codecs.compiled.encoding import (
    long_bytes as _long_bytes,
)
from streams.codecs.compiled.errors import AvroEncodeError
from streams.codecs.compiled.schema import MISSING, Node, fixed_runs, parse

Writer = Callable[[Any], bytes]


class _WriterGen(Gen):
    """Generates code that appends the encoded parts of a value with ``ap`` (the ``append`` of
    a list joined at the end: cheaper than growing a bytearray part by part)."""

    function_prefix = "_write_record"
    function_params = "v, ap"  # a writer of a record that contains itself

    def __init__(self) -> None:
        super().__init__()
        self.ns.update(
            _long_bytes=_long_bytes,
            _int_bytes=_int_bytes,
            _floats=_floats,
            _doubles=_doubles,
            _float=_float,
            _record_fields=_record_fields,
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

    def value(self, node: Node, x: str, lead: int | None = None) -> None:
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

    def container(self, node: Node, x: str) -> None:
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

    def union(self, node: Node, x: str) -> None:
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

    def record(self, node: Node, v: str, lead: int | None = None) -> None:
        self.inlining.add(id(node))
        d = self.tmp("d")
        models = self.const(set(), "_models")
        names = self.const(frozenset(f.name for f in node.fields), "_names")
        defaults = self.const(
            {f.name: f.default for f in node.fields if f.default is not MISSING}, "_defaults"
        )
        self.emit(
            f"if type({v}) in {models}:",
            f"    {d} = {v}.__dict__",
            "else:",
            f"    {d} = _record_fields({v}, {models}, {names}, {defaults})",
        )
        for run in fixed_runs(node.fields):
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

    def function_body(self, node: Node) -> None:
        self.record(node, "v")
        self.emit("pass")


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
