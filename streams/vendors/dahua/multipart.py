"""Splitting what the gateway took from the ``multipart/x-mixed-replace`` attach stream into parts.

A chunk is one bare part, or several parts between ``--<boundary>`` delimiter lines, each with
optional headers. The boundary comes from the Content-Type, else from the first delimiter line.
A chunk may begin with the tail of a part whose delimiter came in an earlier chunk.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from streams.vendors.common import as_int

Headers = dict[bytes, bytes]  # lower-cased header name -> value

_HEADER = re.compile(rb"([A-Za-z][A-Za-z0-9-]*)[ \t]*:[ \t]*(.*)")
_BOUNDARY_LINE = re.compile(rb"^--([!-~]{1,70}?)(?:--)?[ \t]*\r?$", re.MULTILINE)
_BOUNDARY_PARAM = re.compile(r"boundary=\"?([^\";]+)\"?", re.IGNORECASE)
_CONTENT_STARTS = (b"Code=", b"Events[", b"Heartbeat")


def split_parts(body: bytes, content_type: str | None) -> Iterator[tuple[Headers, bytes]]:
    """Every part of a chunk as (headers, content)."""
    delimiter = _delimiter(body, content_type)
    if delimiter is None:
        yield _headers_and_content(body, 0, len(body))
        return
    first = _find_delimiter(body, delimiter, 0)
    if first < 0:
        yield _headers_and_content(body, 0, len(body))
        return
    if body[:first].strip():  # the tail of a part whose delimiter came in an earlier chunk
        yield _headers_and_content(body, 0, _trim_end(body, first))
    at = first
    while at >= 0:
        after = at + len(delimiter)
        if body.startswith(b"--", after):
            return  # closing delimiter
        line_end = body.find(b"\n", after)
        if line_end < 0:
            return
        headers, start = _headers(body, line_end + 1)
        end, following = _framed(body, delimiter, start, headers.get(b"content-length"))
        yield headers, body[start:end]
        at = following


def _delimiter(body: bytes, content_type: str | None) -> bytes | None:
    if content_type:
        match = _BOUNDARY_PARAM.search(content_type)
        if match is not None:
            name = match.group(1).strip()
            if name:
                return b"--" + name.encode("latin-1", "replace")
    if not body.startswith(b"--") and b"\n--" not in body:
        return None
    found = _BOUNDARY_LINE.search(body)
    return None if found is None else b"--" + found.group(1)


def _find_delimiter(body: bytes, delimiter: bytes, start: int) -> int:
    """Position of the next delimiter that starts a line, or -1."""
    if start == 0 and body.startswith(delimiter):
        return 0
    at = body.find(b"\n" + delimiter, max(start - 1, 0))
    return -1 if at < 0 else at + 1


def _framed(body: bytes, delimiter: bytes, start: int, declared: bytes | None) -> tuple[int, int]:
    """Where a part's content ends, and where the next delimiter is (-1: none).

    ``Content-Length`` is trusted when only whitespace follows it up to a delimiter or the end
    (binary JPEG data may contain the delimiter text); otherwise the next delimiter ends it.
    """
    length = None if declared is None else as_int(declared.decode("latin-1"))
    if length is not None and 0 <= length <= len(body) - start:
        stop = start + length
        following = _find_delimiter(body, delimiter, stop)
        if not body[stop : following if following >= 0 else len(body)].strip():
            return stop, following
    following = _find_delimiter(body, delimiter, start)
    return (_trim_end(body, following) if following >= 0 else len(body)), following


def _trim_end(body: bytes, delimiter_at: int) -> int:
    """The end of a part's content: the line break before the delimiter belongs to it."""
    end = delimiter_at
    if end > 0 and body[end - 1 : end] == b"\n":
        end -= 1
        if end > 0 and body[end - 1 : end] == b"\r":
            end -= 1
    return end


def _headers(body: bytes, start: int) -> tuple[Headers, int]:
    """Part headers from ``start``; returns them and where the content begins."""
    headers: Headers = {}
    if body.startswith(_CONTENT_STARTS, start):
        return headers, start  # a bare part: no headers to read
    at = start
    while at < len(body):
        line_end = body.find(b"\n", at)
        stop = len(body) if line_end < 0 else line_end
        line = body[at:stop].rstrip(b"\r")
        if not line.strip():
            return headers, (len(body) if line_end < 0 else line_end + 1)
        match = _HEADER.fullmatch(line)
        if match is None:
            return headers, at  # no blank line: content follows the headers directly
        headers[match.group(1).lower()] = match.group(2).strip()
        at = stop + 1
    return headers, min(at, len(body))


def _headers_and_content(body: bytes, start: int, end: int) -> tuple[Headers, bytes]:
    headers, content_start = _headers(body[:end], start)
    return headers, body[content_start:end]
