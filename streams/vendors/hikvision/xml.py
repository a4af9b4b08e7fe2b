"""Safe, forgiving XML loading for ``EventNotificationAlert`` documents.

- ``<!DOCTYPE``/``<!ENTITY`` is refused before parsing, so no entity ever expands or resolves,
  and so are NUL bytes (a UTF-16 document could hide a DOCTYPE from that check).
- A bare ``&`` is escaped before parsing.
- Namespaces are ignored: elements are matched by local name, whatever the namespace (v2.0
  hikvision/isapi, std-cgi v1.0, ``urn:psialliance-org``, ``ns1:`` prefixes, none). An
  undeclared prefix is stripped and the document parsed again.
- A declared multi-byte encoding (GB2312/GBK) is transcoded; undeclared non-UTF-8 text is read
  as GB18030.
"""

from __future__ import annotations

import re
from typing import Any
from xml.etree import ElementTree

from streams.vendors.base import AdapterError
from streams.vendors.hikvision.values import Record

_MAX_DEPTH = 12

_BARE_AMP = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);)")
_PREFIXED_TAG = re.compile(rb"<(/?)[A-Za-z_][\w.-]*:")
_PREFIXED_ATTR = re.compile(rb"\s[A-Za-z_][\w.-]*:[\w.-]+\s*=\s*(?:\"[^\"]*\"|'[^']*')")
_ENCODING_DECL = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def alert_from_xml(data: bytes) -> Record:
    """The ``EventNotificationAlert`` root as nested dicts (see :func:`element_dict`)."""
    if b"&" in data:
        data = _BARE_AMP.sub(b"&amp;", data)
    root = _parse(data)
    tag = root.tag if isinstance(root.tag, str) else ""
    name = tag[tag.find("}") + 1 :]
    if name != "EventNotificationAlert":
        raise AdapterError(f"XML root is <{name[:64]}>, not EventNotificationAlert")
    return element_dict(root, 0)


def _refuse_declarations(data: bytes) -> None:
    """No DTD, so no entity can expand (billion laughs) or resolve (external entities).

    NUL bytes are refused too: a UTF-16 or UTF-32 document could spell a DOCTYPE the byte
    search does not see. Every encoding left is ASCII-compatible.
    """
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise AdapterError("XML with a DOCTYPE or ENTITY declaration is refused")
    if b"\x00" in data:
        raise AdapterError("XML holds NUL bytes (only UTF-8 and single-byte encodings accepted)")


def _fromstring(data: bytes) -> ElementTree.Element:
    _refuse_declarations(data)
    return ElementTree.fromstring(data)  # noqa: S314 - declarations refused just above


def _parse(data: bytes) -> ElementTree.Element:
    try:
        return _fromstring(data)
    except ElementTree.ParseError as exc:
        first = exc
    except ValueError as exc:  # "multi-byte encodings are not supported" (GB2312, GBK)
        return _parse_again(_transcoded(data, str(exc)), str(exc))
    except LookupError as exc:
        raise AdapterError(f"XML declares an unknown encoding ({exc})") from None
    message = str(first)
    if message.startswith("unbound prefix"):
        return _parse_again(_PREFIXED_TAG.sub(rb"<\1", _PREFIXED_ATTR.sub(b"", data)), message)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        # Chinese firmware sends GBK without declaring it; GB18030 is its superset.
        return _parse_again(data.decode("gb18030", "replace").encode("utf-8"), message)
    raise AdapterError(f"XML is not well-formed: {message}")


def _parse_again(data: bytes, first_error: str) -> ElementTree.Element:
    try:
        return _fromstring(data)
    except (ElementTree.ParseError, ValueError, LookupError) as exc:
        raise AdapterError(f"XML is not well-formed: {first_error}; retry: {exc}") from None


def _transcoded(data: bytes, error: str) -> bytes:
    """A document in a declared multi-byte encoding (GB2312, GBK...) re-encoded as UTF-8."""
    match = _ENCODING_DECL.match(data)
    if match is None:
        raise AdapterError(f"XML is not readable: {error}")
    name = match.group(1).decode("ascii")
    try:
        text = data.decode(name, "replace")
    except (LookupError, ValueError):  # not a text codec, or one that cannot replace
        raise AdapterError(f"XML declares an unusable encoding {name!r}") from None
    # The prolog is ASCII in every encoding that gets here, so byte and text offsets agree.
    start, end = match.span(1)
    return (text[:start] + "UTF-8" + text[end:]).encode("utf-8")


_LOCAL_NAMES: dict[str, str] = {}  # "{uri}tag" -> "tag"; bounded, a cache only


def element_dict(element: ElementTree.Element, depth: int = 0) -> dict[str, Any]:
    """Children by local name: text for leaves, dicts for groups, lists for repeats.

    Groups nested deeper than 12 levels become None.
    """
    out: dict[str, Any] = {}
    names = _LOCAL_NAMES
    for child in element:
        tag = child.tag  # always text: the default parser drops comments and PIs
        local = names.get(tag)
        if local is None:
            local = tag[tag.find("}") + 1 :] if tag[:1] == "{" else tag
            if len(names) < 4096:
                names[tag] = local
        value: Any
        if len(child):
            value = element_dict(child, depth + 1) if depth < _MAX_DEPTH else None
        else:
            value = child.text
        if local in out:
            previous = out[local]
            if type(previous) is list:
                previous.append(value)
            else:
                out[local] = [previous, value]
        else:
            out[local] = value
    return out
