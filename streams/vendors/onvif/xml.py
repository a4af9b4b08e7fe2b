"""Safe loading of ONVIF XML (metadata streams, WS-BaseNotification messages).

- A document with a DOCTYPE or ENTITY declaration is refused before it is parsed (no entity
  expansion), and so is one with NUL bytes (UTF-16/32, which would hide a declaration from that
  check).
- Multi-byte legacy encodings (GB2312, GBK, GB18030, Big5) are decoded here, because expat only
  reads UTF-8 and single-byte encodings; the decoded text is checked for declarations again.
- Prefixes and namespace URIs differ between devices, so every tag is reduced to its local name.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from streams.vendors.base import AdapterError

_DECLARATION = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_DECLARATION_TEXT = re.compile(r"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]{1,40})["']""")
# Multi-byte encodings expat cannot read, seen from Chinese devices: decoded here.
_DECODED_HERE = frozenset({"gb2312", "gbk", "gb18030", "big5"})


def parse_xml(body: bytes) -> ET.Element:
    """The root element, every tag by its local name; refuses what could expand entities."""
    if b"\x00" in body:
        raise AdapterError("XML with NUL bytes (UTF-16/32 documents are not accepted)")
    if _DECLARATION.search(body):
        raise AdapterError("XML with a DOCTYPE or ENTITY declaration is refused (entity expansion)")
    source: bytes | str = body
    declared = _ENCODING.match(body)
    if declared is not None and declared.group(1).decode().lower() in _DECODED_HERE:
        try:
            source = body.decode(declared.group(1).decode())
        except UnicodeDecodeError as exc:
            raise AdapterError(f"XML is not valid {declared.group(1).decode()}: {exc}") from None
        if _DECLARATION_TEXT.search(source):
            raise AdapterError("XML with a DOCTYPE or ENTITY declaration is refused")
    try:
        # Safe: no DTD can be present (refused above), so no entity can expand.
        root = ET.fromstring(source)  # noqa: S314
    except ET.ParseError as exc:
        raise AdapterError(f"body is not well-formed XML ({exc})") from None
    except (ValueError, LookupError) as exc:  # unsupported or unknown declared encoding
        raise AdapterError(f"XML encoding not supported ({exc})") from None
    for element in root.iter():
        tag = element.tag
        if tag[:1] == "{":
            element.tag = tag[tag.find("}") + 1 :]
    return root
