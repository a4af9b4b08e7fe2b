from __future__ import annotations

import dataclasses
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.domain.devices import (
    DEFAULT_TIMEZONE,
    Device,
    DeviceRegistry,
    DeviceRegistryError,
    derived_device_id,
    gb28181_type,
    is_gb28181_code,
)
from streams.domain.geo import CoordSystem, bd09_to_wgs84, gcj02_to_wgs84, haversine_m

HEADER = "device_id,name,vendor,lat,lon,coord_system,timezone"


def write_csv(tmp_path: Path, text: str, name: str = "devices.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- GB/T 28181 codes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("34020000001320000101", 132),  # reference example: IPC
        ("34020000001310000001", 131),  # camera
        ("34020000001110000001", 111),  # DVR
        ("34020000001180000001", 118),  # NVR
        ("34020000001190000001", 119),  # GA/T 1400 APE
        ("33029902001210000118", 121),  # video tollgate
        ("34020000002000000001", 200),  # central SIP server
        ("34020000005030000001", 503),  # view library (VIID)
        ("00000000001320000001", 132),  # zero-filled centre code: seen in real feeds
    ],
)
def test_valid_gb28181_codes(code: str, kind: int) -> None:
    assert is_gb28181_code(code)
    assert gb28181_type(code) == kind


@pytest.mark.parametrize(
    "code",
    [
        "",
        "3402000000132000010",  # 19 digits
        "340200000013200001011",  # 21 digits
        "3402000000132000010a",
        " 34020000001320000101",
        "３４０２００００００１３２００００１０１",  # full-width digits
        "34020000001100000001",  # type 110: below the defined blocks
        "34020000000000000001",  # type 000
        "34020000006000000001",  # type 600: above the defined blocks
        "hikvision-isapi:0123456789abcdef",
    ],
)
def test_invalid_gb28181_codes(code: str) -> None:
    assert not is_gb28181_code(code)
    assert gb28181_type(code) is None


# --- derived ids ---------------------------------------------------------------------------


def test_derived_id_shape_and_determinism() -> None:
    first = derived_device_id("hikvision-isapi", "44:19:B6:01:02:03", "1")
    assert first == derived_device_id("hikvision-isapi", "44:19:B6:01:02:03", "1")
    prefix, digest = first.split(":")
    assert prefix == "hikvision-isapi"
    assert len(digest) == 16
    assert digest == digest.lower()
    assert int(digest, 16) >= 0
    assert not is_gb28181_code(first)


def test_derived_id_is_pinned_across_releases() -> None:
    # Changing the recipe would re-key every device without a code; these values must not move.
    assert derived_device_id("hikvision-isapi", "44:19:b6:01:02:03", "1") == (
        "hikvision-isapi:32185d8e7bad2031"
    )
    assert derived_device_id("gat1400", "SN12345678") == "gat1400:55d1aa732b416099"


@pytest.mark.parametrize(
    "mac",
    [
        "44:19:B6:01:02:03",
        "44-19-b6-01-02-03",
        "4419.b601.0203",
        "4419B6010203",
        " 44:19:b6:01:02:03 ",
    ],
)
def test_derived_id_normalises_mac_notations(mac: str) -> None:
    assert derived_device_id("dahua-cgi", mac, "0") == derived_device_id(
        "dahua-cgi", "44:19:b6:01:02:03", "0"
    )


def test_derived_id_normalises_source_and_case() -> None:
    assert derived_device_id(" Uniview-LAPI ", "SN-ABC") == derived_device_id(
        "uniview-lapi", "sn-abc"
    )


def test_derived_id_distinguishes_sources_parts_and_boundaries() -> None:
    base = derived_device_id("hikvision-isapi", "44:19:b6:01:02:03", "1")
    assert derived_device_id("dahua-cgi", "44:19:b6:01:02:03", "1") != base
    assert derived_device_id("hikvision-isapi", "44:19:b6:01:02:03", "2") != base
    assert derived_device_id("hikvision-isapi", "1", "44:19:b6:01:02:03") != base
    assert derived_device_id("frigate", "a", "bc") != derived_device_id("frigate", "ab", "c")
    assert derived_device_id("frigate", "a", "") != derived_device_id("frigate", "a")


@pytest.mark.parametrize(
    ("source", "parts", "message"),
    [
        ("", ("x",), "source"),
        ("bad source", ("x",), "source"),
        ("a:b", ("x",), "source"),
        ("frigate", (), "at least one non-empty part"),
        ("frigate", ("", "  "), "at least one non-empty part"),
    ],
)
def test_derived_id_rejects(source: str, parts: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        derived_device_id(source, *parts)


@settings(max_examples=200, deadline=None)
@given(
    source=st.from_regex(r"[a-z0-9][a-z0-9._-]{0,15}", fullmatch=True),
    parts=st.lists(st.text(min_size=1, max_size=20).filter(str.strip), min_size=1, max_size=4),
)
def test_derived_id_property(source: str, parts: list[str]) -> None:
    got = derived_device_id(source, *parts)
    assert got == derived_device_id(source, *parts)
    assert got.startswith(source + ":")
    assert got == got.lower()
    assert not is_gb28181_code(got)


# --- Device --------------------------------------------------------------------------------


def test_device_defaults_and_zone() -> None:
    device = Device("34020000001320000101", "Gate 1", "hikvision", 31.2, 121.5)
    assert device.timezone == DEFAULT_TIMEZONE == "Asia/Shanghai"
    assert device.coord_system is CoordSystem.WGS84
    assert device.admin_area is None
    assert device.zone == ZoneInfo("Asia/Shanghai")
    assert device.zone is device.zone


def test_device_is_frozen() -> None:
    device = Device("d1", "n", "v", 31.2, 121.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        device.lat = 0.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"device_id": ""}, "device_id"),
        ({"lat": 91.0}, "lat 91.0"),
        ({"lon": float("nan")}, "lon nan"),
        ({"timezone": "Mars/Olympus"}, "Mars/Olympus"),
    ],
)
def test_device_validates(kwargs: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "device_id": "d1",
        "name": "n",
        "vendor": "v",
        "lat": 31.2,
        "lon": 121.5,
    }
    fields.update(kwargs)
    with pytest.raises(ValueError, match=message):
        Device(**fields)  # type: ignore[arg-type]


# --- registry ------------------------------------------------------------------------------


def test_registry_loads_and_converts_to_wgs84(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        f"{HEADER},admin_area\n"
        "34020000001320000101,North gate,hikvision,39.91334545536069,116.38404722455657,"
        "gcj02,,110101\n"
        "  dahua-cgi:0123456789abcdef , Plaza ,dahua, 39.915 , 116.404 ,BD-09, Asia/Shanghai ,\n"
        "34020000001320000102,Depot,uniview,52.52,13.405,,Europe/Berlin,\n",
    )
    registry = DeviceRegistry.from_csv(path)
    assert len(registry) == 3
    assert [d.device_id for d in registry] == [
        "34020000001320000101",
        "dahua-cgi:0123456789abcdef",
        "34020000001320000102",
    ]

    gate = registry.get("34020000001320000101")
    assert gate is not None
    assert gate.coord_system is CoordSystem.GCJ02
    # eviltransform's Beijing pair: GCJ (39.9133.., 116.3840..) is WGS (39.911954, 116.377817).
    assert haversine_m(gate.lat, gate.lon, 39.911954, 116.377817) < 0.5
    assert gate.timezone == "Asia/Shanghai"  # empty cell
    assert gate.admin_area == "110101"

    plaza = registry.get("dahua-cgi:0123456789abcdef")
    assert plaza is not None
    assert plaza.name == "Plaza"
    assert plaza.coord_system is CoordSystem.BD09
    assert (plaza.lat, plaza.lon) == pytest.approx(bd09_to_wgs84(39.915, 116.404))
    assert plaza.admin_area is None

    depot = registry.get("34020000001320000102")
    assert depot is not None
    assert depot.coord_system is CoordSystem.WGS84  # empty cell
    assert (depot.lat, depot.lon) == (52.52, 13.405)  # outside China: unchanged anyway
    assert depot.zone == ZoneInfo("Europe/Berlin")

    assert registry.get("nope") is None
    assert "34020000001320000101" in registry
    assert "nope" not in registry


def test_registry_header_whitespace_bom_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "devices.csv"
    path.write_text(
        " Device_ID , name ,vendor,lat,lon,coord_system,timezone \n"
        "\n"
        "d1,One,hik,31.2,121.5,wgs84,\n"
        "  ,  ,  ,  ,  ,  ,  \n"
        "d2,Two,hik,31.3,121.6,GCJ02,\n",
        encoding="utf-8-sig",
    )
    registry = DeviceRegistry.from_csv(path)
    assert [d.device_id for d in registry] == ["d1", "d2"]
    d2 = registry.get("d2")
    assert d2 is not None
    assert (d2.lat, d2.lon) == pytest.approx(gcj02_to_wgs84(31.3, 121.6))


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("d1,One,hik,abc,121.5,,", "devices.csv line 3: lat 'abc' is not a number"),
        ("d1,One,hik,31.2,,,", "devices.csv line 3: lon is empty"),
        ("d1,One,hik,95,121.5,,", "devices.csv line 3: lat '95' is outside -90..90"),
        ("d1,One,hik,31.2,181,,", "devices.csv line 3: lon '181' is outside -180..180"),
        ("d1,One,hik,nan,121.5,,", "devices.csv line 3: lat 'nan' is not a finite number"),
        (",One,hik,31.2,121.5,,", "devices.csv line 3: device_id is empty"),
        (
            "d1,One,hik,31.2,121.5,utm,",
            "devices.csv line 3: coord_system 'utm' is not one of wgs84, gcj02, bd09",
        ),
        (
            "d1,One,hik,31.2,121.5,,Mars/Olympus",
            "devices.csv line 3: timezone 'Mars/Olympus' is not a known IANA time zone",
        ),
        ("d1,One,hik,31.2,121.5,", "devices.csv line 3: 6 field\\(s\\) but the header has 7"),
        ("d1,One,hik,31.2,121.5,,,x", "devices.csv line 3: 8 field\\(s\\) but the header has 7"),
    ],
)
def test_registry_bad_row_names_file_and_line(tmp_path: Path, rows: str, message: str) -> None:
    path = write_csv(tmp_path, f"{HEADER}\nd0,Zero,hik,31.0,121.0,,\n{rows}\n")
    with pytest.raises(DeviceRegistryError, match=message) as info:
        DeviceRegistry.from_csv(path)
    assert str(path) in str(info.value)


def test_registry_line_numbers_count_blank_lines(tmp_path: Path) -> None:
    path = write_csv(tmp_path, f"{HEADER}\nd0,Zero,hik,31.0,121.0,,\n\n\n\n\n\nd1,x,y,abc,1,,\n")
    with pytest.raises(DeviceRegistryError, match="line 8: lat 'abc'"):
        DeviceRegistry.from_csv(path)


def test_registry_duplicate_ids(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        f"{HEADER}\nd1,One,hik,31.2,121.5,,\nd2,Two,hik,31.2,121.5,,\n d1 ,Again,hik,31,121,,\n",
    )
    with pytest.raises(
        DeviceRegistryError, match="line 4: duplicate device_id 'd1' \\(first on line 2\\)"
    ):
        DeviceRegistry.from_csv(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "file is empty; expected header device_id,name"),
        (
            "device_id,name,vendor,lat,lon\nd1,a,b,1,2\n",
            "line 1: missing column\\(s\\) coord_system, timezone",
        ),
        (f"{HEADER},notes\n", "line 1: unknown column\\(s\\) notes; allowed: device_id"),
        (f"{HEADER},lat\n", "line 1: duplicated column\\(s\\) lat"),
    ],
)
def test_registry_bad_header(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(DeviceRegistryError, match=message):
        DeviceRegistry.from_csv(write_csv(tmp_path, text))


def test_registry_header_only_is_an_empty_registry(tmp_path: Path) -> None:
    registry = DeviceRegistry.from_csv(write_csv(tmp_path, f"{HEADER},admin_area\n"))
    assert len(registry) == 0
    assert list(registry) == []


def test_registry_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(DeviceRegistryError, match=r"missing\.csv: cannot read"):
        DeviceRegistry.from_csv(tmp_path / "missing.csv")
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes(f"{HEADER}\nd1,Caf\xe9,hik,31,121,,\n".encode("latin-1"))
    with pytest.raises(DeviceRegistryError, match=r"latin1\.csv: not UTF-8"):
        DeviceRegistry.from_csv(latin1)


def test_registry_from_rows() -> None:
    registry = DeviceRegistry.from_rows(
        [
            {"device_id": "d1", "name": "One", "vendor": "hik", "lat": 31.2, "lon": 121.5},
            {
                "device_id": "d2",
                "name": "Two",
                "vendor": "dahua",
                "lat": "39.915",
                "lon": "116.404",
                "coord_system": "bd09",
                "timezone": "Asia/Urumqi",
                "admin_area": "650102",
            },
        ]
    )
    assert len(registry) == 2
    d1, d2 = list(registry)
    assert (d1.lat, d1.lon, d1.timezone, d1.coord_system) == (
        31.2,
        121.5,
        "Asia/Shanghai",
        CoordSystem.WGS84,
    )
    assert (d2.lat, d2.lon) == pytest.approx(bd09_to_wgs84(39.915, 116.404))
    assert d2.zone == ZoneInfo("Asia/Urumqi")
    assert d2.admin_area == "650102"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"device_id": "d1", "lat": 1.0}], "<rows> row 1: lon is empty"),
        (
            [{"device_id": "d1", "lat": 1, "lon": 2}, {"device_id": "d2", "lat": True, "lon": 2}],
            "<rows> row 2: lat 'True' is not a number",
        ),
        ([{"device_id": "d1", "lat": 1, "lon": 2, "colour": "red"}], "row 1: unknown column"),
        (
            [{"device_id": "d1", "lat": 1, "lon": 2}, {"device_id": "d1", "lat": 1, "lon": 2}],
            "row 2: duplicate device_id 'd1' \\(first on row 1\\)",
        ),
    ],
)
def test_registry_from_rows_errors(rows: list[dict[str, object]], message: str) -> None:
    with pytest.raises(DeviceRegistryError, match=message):
        DeviceRegistry.from_rows(rows)


def test_registry_from_rows_origin_in_message() -> None:
    with pytest.raises(DeviceRegistryError, match=r"^inventory-api row 1: device_id is empty$"):
        DeviceRegistry.from_rows([{"lat": 1, "lon": 2}], origin="inventory-api")


def test_registry_constructor_rejects_duplicates() -> None:
    device = Device("d1", "n", "v", 31.2, 121.5)
    assert len(DeviceRegistry([device])) == 1
    with pytest.raises(DeviceRegistryError, match="duplicate device_id 'd1'"):
        DeviceRegistry([device, device])
    assert issubclass(DeviceRegistryError, ValueError)
