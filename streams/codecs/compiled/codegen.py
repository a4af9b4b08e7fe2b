"""Source generation shared by the writer and reader generators: a namespace of constants,
unique names, indentation, separate functions (recursive records, slow paths), ``exec``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from streams.codecs.compiled.schema import Node

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MS = timedelta(milliseconds=1)


class Gen:
    """Shared machinery: a namespace of constants, unique names, nested function bodies.

    Subclasses name their recursive-record functions (``function_prefix``, ``function_params``)
    and write their bodies (:meth:`function_body`).
    """

    function_prefix = ""
    function_params = ""

    def __init__(self) -> None:
        self.ns: dict[str, Any] = {"_EPOCH": EPOCH, "_MS": MS}
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

    def indented(self) -> Indent:
        return Indent(self)

    @contextmanager
    def separate(self, name: str, params: str, *, inlining: bool = False) -> Iterator[None]:
        """Code emitted inside goes into a separate function ``name(params)``; ``inlining``:
        keep the records being inlined (else the function starts afresh)."""
        saved, saved_depth, saved_inlining = self.lines, self.depth, self.inlining
        self.lines, self.depth = [], 1
        if not inlining:
            self.inlining = set()
        yield
        self.sources.append(f"def {name}({params}):\n" + "\n".join(self.lines))
        self.lines, self.depth, self.inlining = saved, saved_depth, saved_inlining

    def function(self, node: Node) -> str:
        """The separate function of a record that contains itself."""
        name = self.functions.get(id(node))
        if name is not None:
            return name
        name = self.tmp(self.function_prefix)
        self.functions[id(node)] = name
        with self.separate(name, self.function_params):
            self.function_body(node)
        return name

    def function_body(self, node: Node) -> None:
        raise NotImplementedError

    def compile(self, entry: str) -> Any:
        source = "\n\n".join(self.sources)
        code = compile(source, f"<avro codec {entry}>", "exec")
        exec(code, self.ns)  # noqa: S102 - the source is generated here from the schema only
        return self.ns[entry]


class Indent:
    def __init__(self, gen: Gen) -> None:
        self.gen = gen

    def __enter__(self) -> None:
        self.gen.depth += 1

    def __exit__(self, *exc: object) -> None:
        self.gen.depth -= 1
