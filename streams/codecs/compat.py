"""Backward compatibility of Avro schemas: can a reader with the new schema read old data?

Follows the Avro specification's schema resolution rules for the types the project uses.
"""

from __future__ import annotations

from typing import Any

_PROMOTIONS = {
    "int": {"int", "long", "float", "double"},
    "long": {"long", "float", "double"},
    "float": {"float", "double"},
    "string": {"string", "bytes"},
    "bytes": {"bytes", "string"},
}


def _kind(schema: Any) -> str:
    if isinstance(schema, list):
        return "union"
    if isinstance(schema, dict):
        return str(schema["type"])
    return str(schema)


def _named(schema: Any, names: dict[str, Any]) -> Any:
    """Resolve a reference to a named type defined earlier in the same schema."""
    if isinstance(schema, str) and schema in names:
        return names[schema]
    if isinstance(schema, dict) and schema.get("type") in ("record", "enum", "fixed"):
        names[schema["name"]] = schema
        if "namespace" in schema and "." not in schema["name"]:
            names[f"{schema['namespace']}.{schema['name']}"] = schema
    return schema


def problems(
    reader: Any,
    writer: Any,
    path: str = "",
    names: tuple[dict[str, Any], dict[str, Any]] | None = None,
) -> list[str]:
    """Reasons data written with ``writer`` cannot be read with ``reader``; empty if it can."""
    rnames, wnames = names or ({}, {})
    reader, writer = _named(reader, rnames), _named(writer, wnames)
    rk, wk = _kind(reader), _kind(writer)
    where = path or "<root>"
    if wk == "union":
        found: list[str] = []
        for branch in writer:
            found += problems(reader, branch, path, (rnames, wnames))
        return found
    if rk == "union":
        for branch in reader:
            if not problems(branch, writer, path, (dict(rnames), dict(wnames))):
                problems(branch, writer, path, (rnames, wnames))  # keep the names it defines
                return []
        return [f"{where}: no branch of the reader's union reads the writer's {wk}"]
    if wk in _PROMOTIONS and rk in _PROMOTIONS[wk]:
        return []
    if rk != wk:
        return [f"{where}: writer {wk} cannot be read as {rk}"]
    if rk == "record":
        found = []
        writer_fields = {f["name"]: f for f in writer["fields"]}
        for field in reader["fields"]:
            sub = f"{path}.{field['name']}" if path else field["name"]
            if field["name"] in writer_fields:
                found += problems(
                    field["type"], writer_fields[field["name"]]["type"], sub, (rnames, wnames)
                )
            elif "default" not in field:
                found.append(f"{sub}: new field without a default")
        return found
    if rk == "enum":
        missing = set(writer["symbols"]) - set(reader["symbols"])
        if missing and "default" not in reader:
            return [f"{where}: enum symbols {sorted(missing)} removed without a default"]
        return []
    if rk == "array":
        return problems(reader["items"], writer["items"], f"{where}[]", (rnames, wnames))
    if rk == "map":
        return problems(reader["values"], writer["values"], f"{where}{{}}", (rnames, wnames))
    if rk == "fixed" and reader.get("size") != writer.get("size"):
        return [f"{where}: fixed size changed"]
    if (
        isinstance(reader, dict)
        and isinstance(writer, dict)
        and reader.get("logicalType") != writer.get("logicalType")
    ):
        return [f"{where}: logical type changed"]
    return []
