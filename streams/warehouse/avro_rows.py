"""The rows of ``streams.warehouse.rows``, made by the engine from the Avro bodies themselves.

For the high-volume tables (plate, face and alarm captures, and face_vectors) the embedded
engine reads the message bodies of a batch, one Avro object container per writer schema, and
maps them to rows with the SQL stated here, once per table; no record is decoded in Python.
Each insert also refuses what the Python decoder refuses (``DECODABLE``), so a bad body makes
the sink decode its group in Python and dead-letter just that message. Every expression gives
the value the Python row function of ``rows.py`` gives for the same datum (the tests compare
the two on every schema example and on generated plates). Alerts, correlations and dead letters
are few and their JSON/UTF-8 conversions (evidence floats, replaced key bytes) have no exact SQL
twin, so they keep the Python rows; so does any message the engine refuses (see
``streams.agents.sink``).

The input structure names the fields of the newest schema of each record; a body written with
an older version lacks the newer fields, and ``input_format_avro_allow_missing_fields`` gives
them their type's default, which is the Avro default of every field added so far (``late``
false, ``absorbed_event_ids`` empty).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from fastavro.schema import to_parsing_canonical_form

from streams.codecs.avro import SchemaVersion
from streams.codecs.compiled.encoding import long_bytes
from streams.domain.plates import PROVINCES
from streams.warehouse.base import LANDING_SETTINGS, settings_text
from streams.warehouse.rows import (
    ALARM_TABLE,
    FACE_TABLE,
    FACE_VECTOR_TABLE,
    INDEXED_EMBEDDING_DIM,
    PLATE_TABLE,
)

PLATE_RECORD = "streams.canonical.PlateCapture"
FACE_RECORD = "streams.canonical.FaceCapture"
ALARM_RECORD = "streams.canonical.Alarm"

# Settings of every mapped insert: older writers lack the newer fields; toJSONString must not
# escape '/' (orjson, which writes the Python rows' JSON, does not).
INSERT_SETTINGS = (
    "input_format_avro_allow_missing_fields=1, output_format_json_escape_forward_slashes=0, "
    + settings_text(LANDING_SETTINGS)
)

_IMAGE = (
    "Tuple(kind String, url Nullable(String), sha256 Nullable(String), "
    "width Nullable(Int32), height Nullable(Int32))"
)
# Fields not mapped to a column (kind, pass_group) are read for the UTF-8 check; _end is the
# marker that follows every body in the container.
_EVENT_FIELDS = (
    "kind String, event_id String, source String, source_event_id Nullable(String), "
    "device_id String, channel Nullable(Int32), captured_at Int64, received_at Int64, "
    "time_source String, "
    "position Nullable(Tuple(lat Float64, lon Float64)), "
    f"images Array({_IMAGE}), confidence Nullable(Float64), attributes Map(String, String), "
    "late Bool, absorbed_event_ids Array(String), _end FixedString(16)"
)

# Avro field -> ClickHouse type, per record: enums read as their symbols, timestamps as the
# epoch milliseconds they are on the wire (the canonical form of a schema, which the container
# carries, has no logical types).
STRUCTURES: dict[str, str] = {
    PLATE_RECORD: _EVENT_FIELDS
    + ", plate_number Nullable(String), plate_raw Nullable(String), plate_color String, "
    "plate_class Nullable(String), vehicle_color Nullable(String), "
    "vehicle_type Nullable(String), vehicle_brand Nullable(String), lane Nullable(Int32), "
    "direction Nullable(String), speed_kmh Nullable(Float64), pass_group Nullable(String)",
    FACE_RECORD: _EVENT_FIELDS
    + ", track_id Nullable(String), quality Nullable(Float64), gender String, "
    "age_min Nullable(Int32), age_max Nullable(Int32), glasses String, mask String, "
    # A null embedding reads as the empty array (input_format_null_as_default), as in rows.py.
    "embedding Array(Float32), appeared_at Nullable(Int64), disappeared_at Nullable(Int64)",
    ALARM_RECORD: _EVENT_FIELDS + ", alarm_type String, state String, vendor_event_type String, "
    "rule_name Nullable(String), target_type Nullable(String)",
}


def _sql_literal(text: str) -> str:
    """A ClickHouse string literal of ``text`` (control characters as \\xHH escapes)."""
    out = []
    for c in text:
        if c in "\\'":
            out.append("\\" + c)
        elif ord(c) < 0x20:
            out.append(f"\\x{ord(c):02x}")
        else:
            out.append(c)
    return "'" + "".join(out) + "'"


# orjson's escapes of the characters whose escapes differ in toJSONString (which writes
# upper-case hex and escapes U+2028/U+2029): backslash and quote first, then the controls.
_ORJSON_ESCAPES = [("\\", "\\\\"), ('"', '\\"')] + [
    (chr(n), {8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r"}.get(n, f"\\u{n:04x}"))
    for n in range(0x20)
]


def _json_string(value: str) -> str:
    """The JSON text of a String as orjson writes it: toJSONString, unless the value holds a
    control character or U+2028/U+2029 (rare), which are escaped one by one."""
    escaped = value
    for raw, escape in _ORJSON_ESCAPES:
        escaped = f"replaceAll({escaped}, {_sql_literal(raw)}, {_sql_literal(escape)})"
    return (
        f"if(match({value}, '[\\\\x00-\\\\x1f\\\\x{{2028}}\\\\x{{2029}}]'), "
        f"concat('\"', {escaped}, '\"'), toJSONString({value}))"
    )


def _json_field(name: str, value: str, *, first: bool = False) -> str:
    lead = "{" if first else ","
    return f"concat('{lead}\"{name}\":', {value})"


def _optional_json_field(name: str, text: str) -> str:
    """A key of an ``_without_none`` dict: left out when the value is null."""
    return f"if(isNull(i.{name}), '', concat(',\"{name}\":', {text}))"


# _images_json: each image as a JSON object in field order, null fields left out.
_IMAGES_JSON = (
    "if(empty(images), '[]', concat('[', arrayStringConcat(arrayMap(i -> concat("
    + _json_field("kind", "toJSONString(i.kind)", first=True)
    + ", "
    + _optional_json_field("url", _json_string("assumeNotNull(i.url)"))
    + ", "
    + _optional_json_field("sha256", _json_string("assumeNotNull(i.sha256)"))
    + ", "
    + _optional_json_field("width", "toString(assumeNotNull(i.width))")
    + ", "
    + _optional_json_field("height", "toString(assumeNotNull(i.height))")
    + ", '}'), images), ','), ']'))"
)


def _ms(field: str) -> str:
    return f"fromUnixTimestamp64Milli({field}, 'UTC')"


def _text(field: str) -> str:
    """``d[field] or ''``."""
    return f"ifNull({field}, '')"


_PROVINCE_LIST = ", ".join(f"'{p}'" for p in sorted(PROVINCES))
# What str.strip() removes (every str.isspace() character is below U+3001), as an RE2 class.
PYTHON_WHITESPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
_SPACE_CLASS = "[" + "".join(f"\\\\x{{{ord(c):x}}}" for c in PYTHON_WHITESPACE) + "]+"
_PLATE = (
    f"upperUTF8(replaceRegexpAll(ifNull(plate_number, ''), '^{_SPACE_CLASS}|{_SPACE_CLASS}$', ''))"
)

# fold_plate: strip and upper-case, drop a leading province, fold each confusable character to
# its representative (the table _FOLD of streams.domain.plates, ASCII only, so byte-wise).
# upperUTF8 and str.upper agree but on letters of scripts newer than Python's Unicode tables,
# which no plate contains.
FOLDED_PLATE = (
    f"translate(if(substringUTF8({_PLATE}, 1, 1) IN ({_PROVINCE_LIST}), "
    f"substringUTF8({_PLATE}, 2), {_PLATE}), 'ODIBZSG', '0018256')"
)

_EVENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("event_id", "event_id"),
    ("source", "source"),
    ("source_event_id", _text("source_event_id")),
    ("device_id", "device_id"),
    ("channel", "channel"),
    ("captured_at", _ms("captured_at")),
    ("received_at", _ms("received_at")),
    ("time_source", "time_source"),
    ("lat", "position.lat"),
    ("lon", "position.lon"),
    ("confidence", "confidence"),
    ("late", "late"),
    ("absorbed_event_ids", "absorbed_event_ids"),
    ("images", _IMAGES_JSON),
    ("attributes", "attributes"),
)


# The Python decoder refuses a body with a string that is not UTF-8, a timestamp outside the
# years 1-9999, or bytes left after the record; the engine reads all of these. So every mapped
# insert checks them, and fails (the sink then decodes that group in Python) if any row is such.
# Strings joined with an ASCII separator are valid UTF-8 exactly when each of them is.
_MIN_MS, _MAX_MS = -62_135_596_800_000, 253_402_300_799_999


def _utf8(*texts: str) -> str:
    return "isValidUTF8(concat(" + ", '\\n', ".join(texts) + "))"


def _lines(array: str) -> str:
    return f"arrayStringConcat({array}, '\\n')"


def _in_years(field: str) -> str:
    return f"{field} BETWEEN {_MIN_MS} AND {_MAX_MS}"


_EVENT_TEXTS = (
    "kind",
    "event_id",
    "source",
    _text("source_event_id"),
    "device_id",
    _lines("arrayMap(i -> concat(ifNull(i.url, ''), '\\n', ifNull(i.sha256, '')), images)"),
    _lines("mapKeys(attributes)"),
    _lines("mapValues(attributes)"),
    _lines("absorbed_event_ids"),
)
_EVENT_TIMES = f"{_in_years('captured_at')} AND {_in_years('received_at')}"

# Record -> the condition its bodies must meet, but for the end marker (see ``container``).
DECODABLE: dict[str, str] = {
    PLATE_RECORD: _utf8(
        *_EVENT_TEXTS,
        *(
            _text(f)
            for f in (
                "plate_number",
                "plate_raw",
                "plate_class",
                "vehicle_color",
                "vehicle_type",
                "vehicle_brand",
                "direction",
                "pass_group",
            )
        ),
    )
    + f" AND {_EVENT_TIMES}",
    FACE_RECORD: _utf8(*_EVENT_TEXTS, _text("track_id"))
    + f" AND {_EVENT_TIMES}"
    + f" AND (appeared_at IS NULL OR {_in_years('appeared_at')})"
    + f" AND (disappeared_at IS NULL OR {_in_years('disappeared_at')})",
    ALARM_RECORD: _utf8(
        *_EVENT_TEXTS, "vendor_event_type", _text("rule_name"), _text("target_type")
    )
    + f" AND {_EVENT_TIMES}",
}


@dataclass(frozen=True)
class TableMapping:
    """How the rows of ``table`` are selected from bodies of ``record``."""

    table: str
    record: str
    columns: tuple[tuple[str, str], ...]  # (column, SQL expression over the Avro fields)
    where: str | None = None

    def select(self, end: bytes) -> str:
        """The SELECT of the rows, from ``{source}``, for a container whose end marker is
        ``end``."""
        exprs = ", ".join(expr for _column, expr in self.columns)
        refused = (
            f"throwIf(NOT ({DECODABLE[self.record]} AND _end = unhex('{end.hex()}')), "
            "'a body the Python decoder refuses') = 0"
        )
        where = f"{refused} AND {self.where}" if self.where else refused
        return f"SELECT {exprs} FROM {{source}} WHERE {where}"  # noqa: S608 (constants here)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column for column, _expr in self.columns)


MAPPINGS: tuple[TableMapping, ...] = (
    TableMapping(
        PLATE_TABLE,
        PLATE_RECORD,
        (
            *_EVENT_COLUMNS,
            ("plate_number", "ifNull(plate_number, '')"),
            ("plate_folded", FOLDED_PLATE),
            ("plate_raw", _text("plate_raw")),
            ("plate_color", "plate_color"),
            ("plate_class", _text("plate_class")),
            ("vehicle_color", _text("vehicle_color")),
            ("vehicle_type", _text("vehicle_type")),
            ("vehicle_brand", _text("vehicle_brand")),
            ("lane", "lane"),
            ("direction", _text("direction")),
            ("speed_kmh", "speed_kmh"),
        ),
    ),
    TableMapping(
        FACE_TABLE,
        FACE_RECORD,
        (
            *_EVENT_COLUMNS,
            ("track_id", _text("track_id")),
            ("quality", "quality"),
            ("gender", "gender"),
            ("age_min", "age_min"),
            ("age_max", "age_max"),
            ("glasses", "glasses"),
            ("mask", "mask"),
            ("embedding", "embedding"),
            ("appeared_at", _ms("appeared_at")),
            ("disappeared_at", _ms("disappeared_at")),
        ),
    ),
    TableMapping(
        FACE_VECTOR_TABLE,
        FACE_RECORD,
        (
            ("event_id", "event_id"),
            ("device_id", "device_id"),
            ("captured_at", _ms("captured_at")),
            ("lat", "position.lat"),
            ("lon", "position.lon"),
            ("embedding", "embedding"),
        ),
        where=f"length(embedding) = {INDEXED_EMBEDDING_DIM}",
    ),
    TableMapping(
        ALARM_TABLE,
        ALARM_RECORD,
        (
            *_EVENT_COLUMNS,
            ("alarm_type", "alarm_type"),
            ("state", "state"),
            ("vendor_event_type", "vendor_event_type"),
            ("rule_name", _text("rule_name")),
            ("target_type", _text("target_type")),
        ),
    ),
)

# Record name -> the tables its bodies are mapped to (a face also to face_vectors).
MAPPINGS_OF_RECORD: dict[str, tuple[TableMapping, ...]] = {
    record: tuple(m for m in MAPPINGS if m.record == record) for record in STRUCTURES
}


@runtime_checkable
class AvroWarehouse(Protocol):
    """A warehouse that maps Avro containers to rows itself (the embedded engine)."""

    def insert_avro(
        self,
        table: str,
        columns: Sequence[str],
        select: str,
        structure: str,
        data: bytes,
        *,
        settings: str,
        dedup_token: str | None = None,
    ) -> int: ...


def insert_mapped(
    warehouse: AvroWarehouse,
    mapping: TableMapping,
    data: bytes,
    *,
    dedup_token: str | None,
    table: str | None = None,
) -> int:
    """Insert the rows of ``mapping`` from the container ``data`` (into ``table`` if given, a
    table with the same columns). Returns the rows the engine wrote (views included)."""
    return warehouse.insert_avro(
        table or mapping.table,
        mapping.column_names,
        mapping.select(end=data[-16:]),  # a container ends with its sync marker
        STRUCTURES[mapping.record],
        data,
        settings=INSERT_SETTINGS,
        dedup_token=dedup_token,
    )


def _avro_bytes(data: bytes) -> bytes:
    return long_bytes(len(data)) + data


def writer_schema_json(version: SchemaVersion) -> bytes:
    """The schema of the container's records: the writer schema (its Parsing Canonical Form)
    with a last field, ``_end``, of 16 bytes (see ``container``)."""
    schema = json.loads(to_parsing_canonical_form(version.schema))
    schema["fields"].append({"name": "_end", "type": {"type": "fixed", "name": "_End", "size": 16}})
    return json.dumps(schema, separators=(",", ":"), ensure_ascii=False).encode()


def container(schema_json: bytes, bodies: Sequence[bytes], sync: bytes | None = None) -> bytes:
    """An Avro object container file of ``bodies`` (each a record of the writer schema of
    ``schema_json``, from ``writer_schema_json``), uncompressed, in one block.

    Each body is followed by the 16-byte sync marker, random per container, read as the
    record's ``_end`` field: a body that is truncated, or has bytes left after its record,
    shifts that field off the marker, and the mapped insert refuses it (``select``).
    """
    sync = sync if sync is not None else os.urandom(16)
    header = (
        b"Obj\x01"
        + long_bytes(2)
        + _avro_bytes(b"avro.schema")
        + _avro_bytes(schema_json)
        + _avro_bytes(b"avro.codec")
        + _avro_bytes(b"null")
        + long_bytes(0)
        + sync
    )
    if not bodies:
        return header
    block = sync.join(bodies) + sync
    return header + long_bytes(len(bodies)) + long_bytes(len(block)) + block + sync
