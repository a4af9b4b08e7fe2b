"""Device identity and the device registry (where each camera is and which zone its clock uses).

A device is known by its GB/T 28181 20-digit code when it has one. Devices without a code get a
derived id from :func:`derived_device_id`, which always contains a ``:`` and so can never be
mistaken for a code.
"""

from __future__ import annotations

import csv
import hashlib
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from os import PathLike
from zoneinfo import ZoneInfo

from streams.domain.geo import CoordSystem, to_wgs84
from streams.domain.vendor_time import zone_for

DEFAULT_TIMEZONE = "Asia/Shanghai"

# --- GB/T 28181 codes -----------------------------------------------------------------------

# Type-code blocks of GB/T 28181 (digits 11-13): 111-199 front-end devices and peripherals
# (131/132 cameras, 118 NVR, 121 tollgate...), 200-299 platform servers, 300-399 centre users,
# 400-499 terminal users, 500-599 external platform servers (503 = GA/T 1400 view library).
GB28181_TYPE_MIN = 111
GB28181_TYPE_MAX = 599
GB28181_CAMERA_TYPES = frozenset({131, 132})


def gb28181_type(code: str) -> int | None:
    """The type code (digits 11-13) of a valid GB/T 28181 code, else None."""
    if len(code) != 20 or not (code.isascii() and code.isdigit()):
        return None
    kind = int(code[10:13])
    return kind if GB28181_TYPE_MIN <= kind <= GB28181_TYPE_MAX else None


def is_gb28181_code(code: str) -> bool:
    """True for a plausible GB/T 28181 device code.

    Checked: exactly 20 ASCII digits, and a type code (digits 11-13) inside the defined blocks
    111-599. Not checked, because real feeds break them: the administrative-division prefix
    (test and zero-filled centre codes are common), the industry code, the network flag.
    """
    return gb28181_type(code) is not None


# --- derived ids ----------------------------------------------------------------------------

_SOURCE = re.compile(r"[a-z0-9][a-z0-9._-]*")
_MAC_SEPARATED = re.compile(r"[0-9a-f]{2}([:-])[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}")
_MAC_DOTTED = re.compile(r"[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}")
_MAC_BARE = re.compile(r"[0-9a-f]{12}")
DERIVED_HASH_HEX = 16


def _canonical_part(part: str) -> str:
    text = part.strip().lower()
    # One MAC, one id: Hikvision sends 44:19:b6:.., other tools AA-BB-.. or aabb.ccdd.eeff.
    if _MAC_SEPARATED.fullmatch(text) or _MAC_DOTTED.fullmatch(text) or _MAC_BARE.fullmatch(text):
        hex_digits = text.replace(":", "").replace("-", "").replace(".", "")
        return ":".join(hex_digits[i : i + 2] for i in range(0, 12, 2))
    return text


@lru_cache(maxsize=65536)  # called per event with the same few thousand devices
def derived_device_id(source: str, *parts: str) -> str:
    """A stable id for a device without a GB/T 28181 code: ``<source>:<16 hex>``.

    ``parts`` are whatever identifies the device within the source, in a fixed order, e.g.
    ``("44:19:B6:01:02:03", "1")`` for MAC and channel, or serial, or IP and channel. Each part
    is stripped and lowercased and MAC addresses in any common notation are written one way,
    then the parts are hashed (SHA-1, first 64 bits). The id is lowercase, deterministic, the
    same for equal parts across processes and releases, and never 20 digits.
    """
    src = source.strip().lower()
    if not _SOURCE.fullmatch(src):
        raise ValueError(f"source {source!r} must be letters, digits, '.', '_' or '-'")
    canonical = [_canonical_part(p) for p in parts]
    if not any(canonical):
        raise ValueError(f"derived_device_id({source!r}) needs at least one non-empty part")
    # Length-prefixing keeps ("a", "bc") and ("ab", "c") apart.
    material = "".join(f"{len(p)}:{p};" for p in canonical).encode()
    digest = hashlib.sha1(material, usedforsecurity=False).hexdigest()
    return f"{src}:{digest[:DERIVED_HASH_HEX]}"


# --- devices --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Device:
    """A camera or capture device. ``lat``/``lon`` are WGS-84 whatever ``coord_system`` says.

    ``coord_system`` records the datum the position was supplied in (kept for audit).
    """

    device_id: str
    name: str
    vendor: str
    lat: float
    lon: float
    coord_system: CoordSystem = CoordSystem.WGS84
    timezone: str = DEFAULT_TIMEZONE
    admin_area: str | None = None

    def __post_init__(self) -> None:
        if not self.device_id:
            raise ValueError("device_id must not be empty")
        if not (math.isfinite(self.lat) and -90.0 <= self.lat <= 90.0):
            raise ValueError(f"lat {self.lat} is outside -90..90")
        if not (math.isfinite(self.lon) and -180.0 <= self.lon <= 180.0):
            raise ValueError(f"lon {self.lon} is outside -180..180")
        zone_for(self.timezone)

    @property
    def zone(self) -> ZoneInfo:
        return zone_for(self.timezone)


class DeviceRegistryError(ValueError):
    """A device list that cannot be loaded; the message names the file (or origin) and line."""


REQUIRED_COLUMNS = ("device_id", "name", "vendor", "lat", "lon", "coord_system", "timezone")
OPTIONAL_COLUMNS = ("admin_area",)
_KNOWN_COLUMNS = frozenset(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)


def _cell(row: Mapping[str, object], column: str) -> str:
    value = row.get(column)
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else str(value).strip()


def _coordinate(row: Mapping[str, object], column: str, limit: float) -> float:
    text = _cell(row, column)
    if not text:
        raise ValueError(f"{column} is empty")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{column} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{column} {text!r} is not a finite number")
    if not -limit <= value <= limit:
        raise ValueError(f"{column} {text!r} is outside -{limit:g}..{limit:g}")
    return value


def _coord_system(text: str) -> CoordSystem:
    if not text:
        return CoordSystem.WGS84
    # Accept the spellings people type: "GCJ-02", "bd_09", "WGS 84".
    key = text.lower().replace("-", "").replace("_", "").replace(" ", "")
    try:
        return CoordSystem(key)
    except ValueError:
        allowed = ", ".join(c.value for c in CoordSystem)
        raise ValueError(f"coord_system {text!r} is not one of {allowed}") from None


def _device_from_row(row: Mapping[str, object]) -> Device:
    device_id = _cell(row, "device_id")
    if not device_id:
        raise ValueError("device_id is empty")
    lat = _coordinate(row, "lat", 90.0)
    lon = _coordinate(row, "lon", 180.0)
    system = _coord_system(_cell(row, "coord_system"))
    tz_name = _cell(row, "timezone") or DEFAULT_TIMEZONE
    try:
        zone_for(tz_name)
    except ValueError:
        raise ValueError(f"timezone {tz_name!r} is not a known IANA time zone") from None
    wgs_lat, wgs_lon = to_wgs84(lat, lon, system)
    return Device(
        device_id=device_id,
        name=_cell(row, "name"),
        vendor=_cell(row, "vendor"),
        lat=wgs_lat,
        lon=wgs_lon,
        coord_system=system,
        timezone=tz_name,
        admin_area=_cell(row, "admin_area") or None,
    )


def _check_columns(columns: Iterable[str], where: str, *, require: bool) -> None:
    seen = list(columns)
    unknown = sorted(set(seen) - _KNOWN_COLUMNS)
    if unknown:
        raise DeviceRegistryError(
            f"{where}: unknown column(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)}"
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in seen]
    if require and missing:
        raise DeviceRegistryError(f"{where}: missing column(s) {', '.join(missing)}")
    duplicated = sorted({c for c in seen if seen.count(c) > 1})
    if duplicated:
        raise DeviceRegistryError(f"{where}: duplicated column(s) {', '.join(duplicated)}")


class DeviceRegistry:
    """The known devices by id, loaded once at start-up. Iterates in load order."""

    __slots__ = ("_devices",)

    def __init__(self, devices: Iterable[Device] = ()) -> None:
        self._devices: dict[str, Device] = {}
        for device in devices:
            if device.device_id in self._devices:
                raise DeviceRegistryError(f"duplicate device_id {device.device_id!r}")
            self._devices[device.device_id] = device

    @classmethod
    def from_csv(cls, path: str | PathLike[str]) -> DeviceRegistry:
        """Load ``device_id,name,vendor,lat,lon,coord_system,timezone[,admin_area]``.

        Header names and cells are stripped; a UTF-8 BOM is ignored; blank lines are skipped;
        an empty ``timezone`` means Asia/Shanghai, an empty ``coord_system`` WGS-84. Errors
        name the file and the line (for a quoted multi-line record, its last line).
        """
        name = str(path)
        try:
            with open(path, encoding="utf-8-sig", newline="") as handle:
                reader = csv.reader(handle)
                header = next(reader, None)
                if header is None:
                    raise DeviceRegistryError(
                        f"{name}: file is empty; expected header {','.join(REQUIRED_COLUMNS)}"
                    )
                columns = [c.strip().lower() for c in header]
                _check_columns(columns, f"{name} line 1", require=True)

                def numbered() -> Iterator[tuple[int, Mapping[str, object]]]:
                    for cells in reader:
                        if not any(c.strip() for c in cells):
                            continue
                        if len(cells) != len(columns):
                            raise DeviceRegistryError(
                                f"{name} line {reader.line_num}: {len(cells)} field(s) "
                                f"but the header has {len(columns)}"
                            )
                        yield reader.line_num, dict(zip(columns, cells, strict=True))

                return cls._build(numbered(), name, "line")
        except OSError as exc:
            raise DeviceRegistryError(f"{name}: cannot read: {exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:
            raise DeviceRegistryError(f"{name}: not UTF-8 text ({exc.reason})") from exc
        except csv.Error as exc:
            raise DeviceRegistryError(f"{name}: malformed CSV: {exc}") from exc

    @classmethod
    def from_rows(
        cls, rows: Iterable[Mapping[str, object]], *, origin: str = "<rows>"
    ) -> DeviceRegistry:
        """Build from mappings keyed by the CSV's column names; values may be str, int or float.

        A missing key counts as an empty cell, so only device_id, lat and lon are mandatory.
        Rows are numbered from 1 in messages, e.g. ``<rows> row 3: lat is empty``.
        """

        def numbered() -> Iterator[tuple[int, Mapping[str, object]]]:
            for index, row in enumerate(rows, start=1):
                _check_columns(row.keys(), f"{origin} row {index}", require=False)
                yield index, row

        return cls._build(numbered(), origin, "row")

    @classmethod
    def _build(
        cls, rows: Iterable[tuple[int, Mapping[str, object]]], origin: str, unit: str
    ) -> DeviceRegistry:
        devices: dict[str, Device] = {}
        first_seen: dict[str, int] = {}
        for number, row in rows:
            where = f"{origin} {unit} {number}"
            try:
                device = _device_from_row(row)
            except ValueError as exc:
                raise DeviceRegistryError(f"{where}: {exc}") from None
            if device.device_id in devices:
                raise DeviceRegistryError(
                    f"{where}: duplicate device_id {device.device_id!r} "
                    f"(first on {unit} {first_seen[device.device_id]})"
                )
            devices[device.device_id] = device
            first_seen[device.device_id] = number
        return cls(devices.values())

    def get(self, device_id: str) -> Device | None:
        return self._devices.get(device_id)

    def __contains__(self, device_id: object) -> bool:
        return device_id in self._devices

    def __len__(self) -> int:
        return len(self._devices)

    def __iter__(self) -> Iterator[Device]:
        return iter(self._devices.values())
