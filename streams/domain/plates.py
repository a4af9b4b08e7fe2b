"""Canonical licence plates, plate kinds, plate colours and OCR-confusion helpers.

Pure functions on the per-event hot path: every table is built at import, parsing is length
dispatch plus set look-ups (no regular expressions). Reference: vendor-formats.md §8 and §10.

Rules of :func:`canonical_plate`:

1. NFKC (full-width to half-width), upper-case, delete separators: spaces of any width, tabs,
   ``·`` ``•`` ``・`` ``‧`` ``.`` ``_``, ``-`` and the Unicode dashes.
2. Unreadable -> ``None``: empty after step 1 (all-dash reads), or a sentinel (``UNKNOWN``,
   ``NONE``, ``NO_PLATE``, ``无车牌``, ``车牌``, ``未识别`` ...).
3. Chinese formats, kind in brackets. ``I``/``O`` become ``1``/``0`` in serial positions only,
   never in the authority letter (``O`` is a real authority letter) nor in ``WJ``:

   - province + authority letter (A-Z but I) + 5 serial characters [standard]
   - province + letter + 4 serial + 警 学 挂 使 领 港 澳 试 超 [police, coach, trailer, embassy,
     consulate, hong_kong, macau, test, oversize]
   - province + letter + 4 serial + 应急, or 应急 + province + 3 digits + team code [emergency]
   - province + letter + energy letter (ABCDEFGHJK) + serial + 4 digits, or + 5 digits + energy
     letter [new_energy]
   - 使 + 6 digits, or 6 digits + 使 [embassy]
   - WJ + province + 4 serial + serial or branch character 消边通森金警电 [armed_police]
   - legacy military-region character 军北南广沈兰成济海空 + letter + 5 digits [military]
   - 民航 + 5 serial [civil_aviation]

   A read that fits none is retried without an HCNetSDK colour prefix (蓝 黄 白 黑 绿 黄绿 渐变绿,
   optionally + 色/牌); the remainder must then fit a Chinese format.
4. Otherwise 4-10 ASCII letters and digits, at least one digit, not one repeated character, are
   kept as read, I and O included (foreign plates use them) [foreign_or_unknown]. Current
   military plates (two letters + 5 digits, format unverified) land here as well.
5. Anything else -> ``None``: other characters, ``*`` and ``?`` included (a partial read is not a
   plate, and they are the wildcards of plate search), and Chinese reads that fit no format
   (truncated or misread), because a canonical plate must be exact-searchable; the raw read
   stays on the event.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from enum import StrEnum
from typing import Final

__all__ = [
    "PLATE_KINDS",
    "PROVINCES",
    "PlateColor",
    "canonical_plate",
    "canonical_plate_color",
    "fold_plate",
    "ocr_confusion_variants",
    "one_confusion_apart",
    "plate_kind",
]

PROVINCES: Final = frozenset("京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼")

PLATE_KINDS: Final = frozenset(
    {
        "standard",
        "new_energy",
        "police",
        "coach",
        "trailer",
        "embassy",
        "consulate",
        "hong_kong",
        "macau",
        "test",
        "oversize",
        "emergency",
        "armed_police",
        "military",
        "civil_aviation",
        "foreign_or_unknown",
    }
)

_DIGITS: Final = "0123456789"
_LETTERS: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LETTER_SET: Final = frozenset(_LETTERS)
_AUTHORITY: Final = _LETTER_SET - {"I"}
# A string, not a set: `not s.strip(chars)` tests "only these characters" in C.
_SERIAL: Final = _DIGITS + _LETTERS.replace("I", "").replace("O", "")
_SERIAL_SET: Final = frozenset(_SERIAL)
_ENERGY: Final = frozenset("ABCDEFGHJK")
_SUFFIX_KINDS: Final[Mapping[str, str]] = {
    "警": "police",
    "学": "coach",
    "挂": "trailer",
    "使": "embassy",
    "领": "consulate",
    "港": "hong_kong",
    "澳": "macau",
    "试": "test",
    "超": "oversize",
}
_WJ_BRANCH: Final = frozenset("消边通森金警电")
_MILITARY_LEADS: Final = frozenset("军北南广沈兰成济海空")
_SEPARATORS: Final = " \t\r\n\v\f\u00a0\u3000·•・‧._-\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
_SEPARATOR_SET: Final = frozenset(_SEPARATORS)
_DELETE: Final = str.maketrans("", "", _SEPARATORS)
_SENTINELS: Final = frozenset(
    {"UNKNOWN", "UNKNOW", "NONE", "NULL", "NOPLATE"}
    | {"无车牌", "无牌", "车牌", "未识别", "未知", "无"}
)
_COLOUR_PREFIXES: Final = tuple(
    sorted(
        (
            base + tail
            for base in ("蓝", "黄", "白", "黑", "绿", "黄绿", "渐变绿")
            for tail in ("", "色", "牌")
        ),
        key=len,
        reverse=True,
    )
)
_COLOUR_FIRST: Final = frozenset(p[0] for p in _COLOUR_PREFIXES)

_Parsed = tuple[str, str]


def _only(text: str, chars: str) -> bool:
    return not text.strip(chars)


def _fix(serial: str) -> str:
    # I and O never appear in serials; `in` + replace beats a dict-based str.translate.
    if "I" in serial or "O" in serial:
        return serial.replace("I", "1").replace("O", "0")
    return serial


def _provincial(s: str) -> _Parsed | None:
    n = len(s)
    if n not in (7, 8) or s[1] not in _AUTHORITY:
        return None
    head = s[:2]
    if n == 7:
        kind = _SUFFIX_KINDS.get(s[6])
        if kind is not None:
            body = _fix(s[2:6])
            return (head + body + s[6], kind) if _only(body, _SERIAL) else None
        body = _fix(s[2:])
        return (head + body, "standard") if _only(body, _SERIAL) else None
    if s[6:] == "应急":
        body = _fix(s[2:6])
        return (head + body + "应急", "emergency") if _only(body, _SERIAL) else None
    body = _fix(s[2:])
    if body[0] in _ENERGY:
        ok = body[1] in _SERIAL_SET and _only(body[2:], _DIGITS)
    else:
        ok = body[5] in _ENERGY and _only(body[:5], _DIGITS)
    return (head + body, "new_energy") if ok else None


def _parse_chinese(s: str) -> _Parsed | None:
    """Chinese formats only; ``s`` is already cleaned."""
    n = len(s)
    c0 = s[0]
    if c0 in PROVINCES:
        return _provincial(s)
    if n == 7:
        if c0 == "使":
            body = _fix(s[1:])
            return ("使" + body, "embassy") if _only(body, _DIGITS) else None
        if s[6] == "使":
            body = _fix(s[:6])
            return (body + "使", "embassy") if _only(body, _DIGITS) else None
        if c0 in _MILITARY_LEADS:
            body = _fix(s[2:])
            ok = s[1] in _LETTER_SET and _only(body, _DIGITS)
            return (s[:2] + body, "military") if ok else None
        if s.startswith("应急") and s[2] in PROVINCES:
            body = _fix(s[3:])
            ok = _only(body[:3], _DIGITS) and body[3] in _SERIAL_SET
            return (s[:3] + body, "emergency") if ok else None
        if s.startswith("民航"):
            body = _fix(s[2:])
            return ("民航" + body, "civil_aviation") if _only(body, _SERIAL) else None
        return None
    if n == 8 and s.startswith("WJ") and s[2] in PROVINCES:
        body = _fix(s[3:7])
        last = s[7] if s[7] in _WJ_BRANCH else _fix(s[7])
        ok = _only(body, _SERIAL) and (last in _SERIAL_SET or last in _WJ_BRANCH)
        return (s[:3] + body + last, "armed_police") if ok else None
    return None


def _parse(s: str) -> _Parsed | None:
    parsed = _parse_chinese(s)
    if parsed is not None:
        return parsed
    if (
        4 <= len(s) <= 10
        and s.isascii()
        and s.isalnum()
        and not s.isalpha()
        and s.count(s[0]) != len(s)
    ):
        return s, "foreign_or_unknown"
    if s[0] in _COLOUR_FIRST:
        for prefix in _COLOUR_PREFIXES:
            if s.startswith(prefix) and len(s) > len(prefix):
                parsed = _parse_chinese(s[len(prefix) :])
                if parsed is not None:
                    return parsed
    return None


def _canonical(raw: str) -> _Parsed | None:
    s = raw if raw.isascii() else unicodedata.normalize("NFKC", raw)
    s = s.upper()
    if not _SEPARATOR_SET.isdisjoint(s):
        # Most vendors send no separators; translate (slow on non-ASCII) only when needed.
        s = s.translate(_DELETE)
    if not s or s in _SENTINELS:
        return None
    return _parse(s)


def canonical_plate(raw: str | None) -> str | None:
    """The canonical plate number of a vendor read, or ``None`` when unreadable (module doc)."""
    if raw is None:
        return None
    parsed = _canonical(raw)
    return None if parsed is None else parsed[0]


def plate_kind(plate: str) -> str:
    """One of :data:`PLATE_KINDS`; anything :func:`canonical_plate` rejects is
    ``"foreign_or_unknown"`` too. Accepts raw reads as well as canonical plates."""
    parsed = _canonical(plate)
    return "foreign_or_unknown" if parsed is None else parsed[1]


class PlateColor(StrEnum):
    BLUE = "blue"
    YELLOW = "yellow"
    WHITE = "white"
    BLACK = "black"
    GREEN = "green"
    YELLOW_GREEN = "yellow_green"
    OTHER = "other"
    UNKNOWN = "unknown"


_C = PlateColor

# Gradient green (small NEV) has no canonical value of its own: it is green. Red, orange,
# golden, brown and mixed-colour plates are vendor extras: other.
_INT_CODES: Final[Mapping[str, Mapping[int, PlateColor]]] = {
    # HCNetSDK VCA_PLATE_COLOR; 5 is civil-aviation black.
    "hikvision-isapi": {
        0: _C.BLUE,
        1: _C.YELLOW,
        2: _C.WHITE,
        3: _C.BLACK,
        4: _C.GREEN,
        5: _C.BLACK,
        6: _C.OTHER,
        7: _C.OTHER,
        0xFF: _C.OTHER,
    },
    # NetSDK EM_PLATE_COLOR_TYPE: 8 ShadowGreen, 9 YellowGreen, 10-12 "bottom/text" variants.
    "dahua-cgi": {
        0: _C.UNKNOWN,
        1: _C.OTHER,
        2: _C.BLUE,
        3: _C.YELLOW,
        4: _C.WHITE,
        5: _C.BLACK,
        6: _C.OTHER,
        7: _C.GREEN,
        8: _C.GREEN,
        9: _C.YELLOW_GREEN,
        10: _C.YELLOW,
        11: _C.BLUE,
        12: _C.BLACK,
    },
    # LAPI colour enum shared with vehicle colours: non-plate colours are other.
    "uniview-lapi": {
        **dict.fromkeys((2, 3, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 99), _C.OTHER),
        0: _C.BLACK,
        1: _C.WHITE,
        4: _C.BLUE,
        5: _C.YELLOW,
        8: _C.GREEN,
        17: _C.YELLOW_GREEN,
        18: _C.GREEN,
        100: _C.UNKNOWN,
    },
    # GA/T 1400 ColorType; no yellow-green code exists.
    "gat1400": {
        **dict.fromkeys((3, 4, 7, 8, 10, 11, 12, 13, 99), _C.OTHER),
        1: _C.BLACK,
        2: _C.WHITE,
        5: _C.BLUE,
        6: _C.YELLOW,
        9: _C.GREEN,
    },
    "onvif": {},
    "frigate": {},
}


def _colour_names() -> dict[str, PlateColor]:
    names: dict[str, PlateColor] = {
        "blue": _C.BLUE,
        "yellow": _C.YELLOW,
        "white": _C.WHITE,
        "black": _C.BLACK,
        "green": _C.GREEN,
        "shadowgreen": _C.GREEN,
        "gradientgreen": _C.GREEN,
        "yellowgreen": _C.YELLOW_GREEN,
        "yellowbottomblacktext": _C.YELLOW,
        "bluebottomwhitetext": _C.BLUE,
        "blackbottomwhitetext": _C.BLACK,
        # ISAPI plateColor enumeration beyond the basic colours.
        "newenergygreen": _C.GREEN,
        "newenergyyellowgreen": _C.YELLOW_GREEN,
        "civilaviationblack": _C.BLACK,
        "civilaviationgreen": _C.GREEN,
        "red": _C.OTHER,
        "orange": _C.OTHER,
        "golden": _C.OTHER,
        "brown": _C.OTHER,
        "mixedcolor": _C.OTHER,
        "other": _C.OTHER,
        "others": _C.OTHER,
        "unknown": _C.UNKNOWN,
        "unknow": _C.UNKNOWN,
    }
    chinese = {
        "蓝": _C.BLUE,
        "黄": _C.YELLOW,
        "白": _C.WHITE,
        "黑": _C.BLACK,
        "绿": _C.GREEN,
        "渐变绿": _C.GREEN,
        "黄绿": _C.YELLOW_GREEN,
        "黄绿双拼": _C.YELLOW_GREEN,
        "红": _C.OTHER,
        "橙": _C.OTHER,
        "其他": _C.OTHER,
        "未知": _C.UNKNOWN,
    }
    for word, colour in chinese.items():
        for tail in ("", "色", "牌", "色牌"):
            names[word + tail] = colour
    return names


_COLOUR_NAMES: Final = _colour_names()
_COLOUR_DELETE: Final = str.maketrans("", "", " \t\r\n_-")


def _colour_code(key: str) -> int | None:
    if key.isascii() and key.isdigit():
        return int(key)
    if key.startswith("0x") and len(key) > 2 and _only(key[2:], "0123456789abcdef"):
        return int(key[2:], 16)
    return None


def canonical_plate_color(raw: str | int | None, vendor: str) -> PlateColor:
    """Map a vendor plate-colour value (string or numeric code) to :class:`PlateColor`.

    ``vendor`` is a source name (``streams.topics.SOURCES``) and selects the numeric code table;
    names (English in any case, or Chinese) mean the same for every vendor. Hikvision's
    ``plateColorByGAT`` is a GA/T 1400 code: pass ``"gat1400"`` for it. Unrecognised -> unknown.

    Raises:
        ValueError: ``vendor`` is not a known source (a programming error, not bad data).
    """
    codes = _INT_CODES.get(vendor)
    if codes is None:
        raise ValueError(f"unknown vendor {vendor!r}; expected one of {sorted(_INT_CODES)}")
    if raw is None or isinstance(raw, bool):
        return _C.UNKNOWN
    if isinstance(raw, int):
        return codes.get(raw, _C.UNKNOWN)
    named = _COLOUR_NAMES.get(raw)
    if named is not None:
        return named
    key = unicodedata.normalize("NFKC", raw).casefold().translate(_COLOUR_DELETE)
    named = _COLOUR_NAMES.get(key)
    if named is not None:
        return named
    code = _colour_code(key)
    return _C.UNKNOWN if code is None else codes.get(code, _C.UNKNOWN)


_CONFUSION_PAIRS: Final = ("O0", "I1", "D0", "B8", "Z2", "S5", "G6")
_CONFUSABLE: Final = frozenset(p for pair in _CONFUSION_PAIRS for p in (pair, pair[::-1]))


def _partners() -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    for a, b in _CONFUSION_PAIRS:
        found.setdefault(a, []).append(b)
        found.setdefault(b, []).append(a)
    return {ch: tuple(others) for ch, others in found.items()}


_PARTNERS: Final = _partners()


def ocr_confusion_variants(plate: str) -> set[str]:
    """Canonical plates exactly one OCR confusion away from ``plate`` (which is canonicalised
    first; an unreadable input gives an empty set). The plate itself is not included.

    Only variants that are themselves canonical plates are returned: swapping ``0`` for ``O``
    in a Chinese serial, or a letter into a digits-only NEV position, names no real plate.
    """
    parsed = _canonical(plate)
    if parsed is None:
        return set()
    canon = parsed[0]
    variants: set[str] = set()
    for i, ch in enumerate(canon):
        for other in _PARTNERS.get(ch, ()):
            candidate = canon[:i] + other + canon[i + 1 :]
            again = _canonical(candidate)
            if again is not None and again[0] == candidate:
                variants.add(candidate)
    return variants


def one_confusion_apart(a: str, b: str) -> bool:
    """True when ``a == b`` or they differ in one position by a known OCR confusion pair.

    Compares the strings as given: pass canonical plates.
    """
    if len(a) != len(b):
        return False
    if a == b:
        return True
    diff = ""
    for x, y in zip(a, b, strict=True):
        if x != y:
            if diff:
                return False
            diff = x + y
    return diff in _CONFUSABLE


# Each confusable character folds to one representative of its class (O, D and 0 are one class).
_FOLD: Final = str.maketrans({"O": "0", "D": "0", "I": "1", "B": "8", "Z": "2", "S": "5", "G": "6"})


def fold_plate(plate: str) -> str:
    """The fuzzy-search key of a plate: every OCR-confusable character folded to one
    representative, and a leading province character dropped (provinces are misread too).

    Two reads fold alike when they differ only by confusions of ``_CONFUSION_PAIRS`` (in any
    number of positions) or in the province. Upper-cases; pass canonical plates or search input.
    """
    text = plate.strip().upper()
    if text[:1] in PROVINCES:
        text = text[1:]
    return text.translate(_FOLD)
