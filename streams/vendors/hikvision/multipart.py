"""``multipart/form-data`` and ``multipart/mixed`` bodies: event documents and their pictures.

Parts are classified by Content-Type (JPEG magic for ``application/octet-stream`` or no type
at all), never by name. Each picture keeps the names a document may refer to it by. Pictures
before the first document belong to it; with several documents (an alertStream chunk) each
picture belongs to the document before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from streams.vendors.common import as_int


@dataclass(frozen=True, slots=True)
class Picture:
    """An image part of a multipart body."""

    data: bytes
    keys: tuple[str, ...]  # part name, filename, Content-ID: what a document may refer to


Document = tuple[bytes, list[Picture]]  # an event document and the pictures that go with it
PartKind = Literal["document", "image", "empty", "other"]


def delimiter_of(content_type: str | None, body: bytes) -> bytes | None:
    """The delimiter line (``--`` + boundary) of a multipart body, or None for a bare document.

    The boundary comes from the Content-Type when the body holds it, else from a body that
    starts with ``--``.
    """
    if content_type:
        lowered = content_type.lower()
        if "multipart/" in lowered:
            at = lowered.find("boundary=")
            if at != -1:
                value = content_type[at + 9 :].split(";", 1)[0].strip().strip('"').strip()
                if value:
                    delimiter = b"--" + value.encode("latin-1", "replace")
                    if delimiter in body:
                        return delimiter
    start = body[:512].lstrip()
    if start.startswith(b"--"):
        line = start.split(b"\n", 1)[0].rstrip(b"\r").rstrip()
        if len(line) > 2:
            return line
    return None


def split_multipart(body: bytes, delimiter: bytes) -> tuple[list[Document], int]:
    """Event documents with the pictures that go with each, and the count of other parts."""
    documents: list[Document] = []
    leading: list[Picture] = []
    stray = 0
    size = len(body)
    pos = body.find(delimiter)
    while pos != -1:
        start = pos + len(delimiter)
        if body.startswith(b"--", start):
            break  # closing delimiter
        line_end = body.find(b"\n", start)
        if line_end == -1:
            break
        head_start = line_end + 1
        if body.startswith(b"\r\n", head_start) or body.startswith(b"\n", head_start):
            headers: dict[str, str] = {}
            content_start = head_start + (2 if body[head_start] == 13 else 1)
        else:
            head_end = body.find(b"\r\n\r\n", head_start)
            gap = 4
            bare = body.find(b"\n\n", head_start)
            if bare != -1 and (head_end == -1 or bare < head_end):
                head_end, gap = bare, 2
            if head_end == -1:
                break
            headers = _headers(body[head_start:head_end])
            content_start = head_end + gap
        length = as_int(headers.get("content-length"))
        if length is not None and 0 <= length <= size - content_start:
            content = body[content_start : content_start + length]
            pos = body.find(delimiter, content_start + length)
        else:
            pos = body.find(delimiter, content_start)
            content = body[content_start : size if pos == -1 else pos]
            if content.endswith(b"\r\n"):
                content = content[:-2]
            elif content.endswith(b"\n"):
                content = content[:-1]
        kind = part_kind(headers.get("content-type", ""), content)
        if kind == "document":
            documents.append((content, leading if not documents else []))
            leading = []
        elif kind == "image":
            name, filename = _disposition(headers.get("content-disposition", ""))
            content_id = headers.get("content-id", "").strip("<> ") or None
            keys = tuple(k for k in (name, filename, content_id) if k)
            picture = Picture(content, keys)
            (documents[-1][1] if documents else leading).append(picture)
        else:
            stray += 1
    return documents, stray


def part_kind(content_type: str, content: bytes) -> PartKind:
    """What a part holds, from its Content-Type, else from its first bytes."""
    ctype = content_type.split(";", 1)[0].strip().lower()
    if not content:
        return "empty"
    if "xml" in ctype or "json" in ctype:
        return "document"
    if ctype.startswith("image/"):
        return "image"
    if content.startswith(b"\xff\xd8"):
        return "image"  # application/octet-stream from older firmware, or no type at all
    head = content[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] in (b"<", b"{"):
        return "document"
    return "other"


def _headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.split(b"\n"):
        name, sep, value = line.partition(b":")
        if sep:
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode(
                "utf-8", "replace"
            )
    return headers


def _disposition(value: str) -> tuple[str | None, str | None]:
    """``name`` and ``filename`` of a Content-Disposition header."""
    name = filename = None
    for item in value.split(";"):
        key, sep, text = item.partition("=")
        if not sep:
            continue
        key = key.strip().lower()
        text = text.strip().strip('"')
        if key == "name":
            name = text or None
        elif key == "filename":
            filename = text or None
    return name, filename
