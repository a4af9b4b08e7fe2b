"""The schema model: the JSON schema (raw or parsed by fastavro) resolved into linked nodes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
MISSING: Any = object()
LONG_MIN, LONG_MAX = -(1 << 63), (1 << 63) - 1
INT_MIN, INT_MAX = -(1 << 31), (1 << 31) - 1


@dataclass(eq=False)
class Field:
    name: str
    type: Node
    default: Any = MISSING  # the Python value of the Avro default, if the field has one


@dataclass(eq=False)
class Node:
    kind: str  # a primitive name, "timestamp-millis", record, enum, fixed, array, map, union
    name: str = ""  # full name of named types
    fields: list[Field] = field(default_factory=list)
    symbols: list[str] = field(default_factory=list)
    size: int = 0
    items: Node | None = None  # array items, map values
    branches: list[Node] = field(default_factory=list)


def _full_name(name: str, namespace: str) -> str:
    return name if "." in name or not namespace else f"{namespace}.{name}"


def _parse(schema: Any, namespace: str, names: dict[str, Node]) -> Node:
    if isinstance(schema, str):
        if schema in PRIMITIVES:
            return Node(schema)
        node = names.get(_full_name(schema, namespace)) or names.get(schema)
        if node is None:
            raise ValueError(f"unknown Avro type {schema!r}")
        return node
    if isinstance(schema, list):
        return Node("union", branches=[_parse(b, namespace, names) for b in schema])
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
        node = Node("record" if kind == "error" else kind, name=full)
        names[full] = node  # before the fields: a record may refer to itself
        if kind in ("record", "error"):
            for f in schema["fields"]:
                ftype = _parse(f["type"], inner_ns, names)
                default = _default(ftype, f["default"]) if "default" in f else MISSING
                node.fields.append(Field(f["name"], ftype, default))
        elif kind == "enum":
            node.symbols = list(schema["symbols"])
        else:
            node.size = int(schema["size"])
        return node
    logical = schema.get("logicalType")
    if kind == "long" and logical == "timestamp-millis":
        return Node("timestamp-millis")
    if logical in _REFUSED_LOGICAL:
        raise ValueError(f"logical type {logical} is not supported by the compiled codec")
    if kind in PRIMITIVES:
        return Node(kind)
    if kind == "array":
        return Node("array", items=_parse(schema["items"], namespace, names))
    if kind == "map":
        return Node("map", items=_parse(schema["values"], namespace, names))
    return _parse(kind, namespace, names)  # {"type": "SomeNamedType"}


def _default(node: Node, value: Any) -> Any:
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


def parse(schema: Any) -> Node:
    """The resolved schema tree of a JSON schema or of a schema parsed by fastavro."""
    return _parse(schema, "", {})


def fixed_runs(fields: list[Field]) -> list[list[Field]]:
    """Fields split into runs of consecutive doubles (one struct call each) and single fields."""
    runs: list[list[Field]] = []
    for f in fields:
        if f.type.kind == "double" and runs and runs[-1][0].type.kind == "double":
            runs[-1].append(f)
        else:
            runs.append([f])
    return runs


def min_size(node: Node, seen: frozenset[int] = frozenset()) -> int:
    """1 if every value of ``node`` takes at least one byte, else 0."""
    if node.kind == "null" or id(node) in seen:
        return 0
    if node.kind == "record":
        inner = seen | {id(node)}
        return min(1, sum(min_size(f.type, inner) for f in node.fields))
    if node.kind == "fixed":
        return min(1, node.size)
    return 1
