"""Bindings of Avro records and enums to classes, from pydantic annotations."""

from __future__ import annotations

import types
import typing
from enum import Enum
from typing import Any

from pydantic import BaseModel

from streams.codecs.compiled.schema import Node, parse


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


def _bind(node: Node, annotation: Any, bindings: dict[str, type[Any]]) -> None:
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
