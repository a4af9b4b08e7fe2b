"""The snapManager flattened form rebuilt into the nested object the JSON form carries.

``Events[0].EventBaseInfo.Code=TrafficJunction`` and ``Events[0].Object.BoundingBox[2]=5954``
lines become ``{"Events": [{"EventBaseInfo": {"Code": ...}, "Object": {"BoundingBox": [...]}}]}``.
Values stay text; the first of two conflicting lines wins.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

FLAT_LINE = re.compile(r"^[ \t]*Events\[\d+\]", re.MULTILINE)
_FLAT_DEPTH = 16  # deeper key paths are not Dahua's (and would only cost recursion)


def flattened_events(text: str) -> list[Any]:
    """The ``Events`` list of ``Events[i].a.b[0]=v`` lines (its items may be any value)."""
    root: dict[Any, Any] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        path = _key_path(key.strip())
        if path is not None:
            _put(root, path, value.strip())
    events = _listify(root).get("Events")
    if isinstance(events, dict):
        events = list(events.values())
    return events if isinstance(events, list) else []


@lru_cache(maxsize=4096)
def _key_path(key: str) -> tuple[str | int, ...] | None:
    """``Events[0].Object.BoundingBox[2]`` -> ``("Events", 0, "Object", "BoundingBox", 2)``.

    Cached: every event of a device repeats the same few hundred key names.
    """
    path: list[str | int] = []
    for segment in key.split("."):
        name, bracket, rest = segment.partition("[")
        if not name or "]" in name:
            return None
        path.append(name)
        if bracket:
            if rest[-1:] != "]":
                return None
            for index in rest[:-1].split("]["):
                if not (index.isdigit() and index.isascii() and len(index) <= 6):
                    return None
                path.append(int(index))
    return tuple(path) if len(path) <= _FLAT_DEPTH else None


def _put(root: dict[Any, Any], path: tuple[str | int, ...], value: str) -> None:
    node = root
    for step in path[:-1]:
        child = node.get(step)
        if child is None:
            child = node[step] = {}
        elif not isinstance(child, dict):
            return  # a scalar already sits where a container is wanted: keep the first
        node = child
    node.setdefault(path[-1], value)


def _listify(node: dict[Any, Any]) -> dict[Any, Any]:
    for key, value in node.items():
        if isinstance(value, dict):
            value = _listify(value)
            if value and all(isinstance(k, int) for k in value):
                node[key] = [value[k] for k in sorted(value)]
            else:
                node[key] = {str(k): v for k, v in value.items()}
    return node
