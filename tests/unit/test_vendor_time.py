from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.domain.vendor_time import (
    EPOCH_MS_THRESHOLD,
    TimeProvenance,
    VendorTimeError,
    from_received,
    parse_compact,
    parse_dahua,
    parse_epoch,
    parse_iso8601,
    zone_for,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
BANGKOK = ZoneInfo("Asia/Bangkok")
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def test_provenance_values() -> None:
    assert [p.value for p in TimeProvenance] == [
        "source_offset",
        "device_zone",
        "real_utc",
        "epoch",
        "received",
    ]


def test_vendor_time_error_is_a_value_error() -> None:
    assert issubclass(VendorTimeError, ValueError)


# --- ISO-8601 (Hikvision dateTime, ONVIF UtcTime) ------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Hikvision dateTime with the device's offset (reference sample, +07:00).
        ("2024-05-07T17:48:03.847+07:00", utc(2024, 5, 7, 10, 48, 3, 847000)),
        ("2024-05-07T17:48:03+08:00", utc(2024, 5, 7, 9, 48, 3)),
        ("2024-05-07T17:48:03.847-03:00", utc(2024, 5, 7, 20, 48, 3, 847000)),
        # ONVIF UtcTime (reference sample) and a lower-case z.
        ("2008-10-10T12:24:57.321Z", utc(2008, 10, 10, 12, 24, 57, 321000)),
        ("2008-10-10T12:24:57.321z", utc(2008, 10, 10, 12, 24, 57, 321000)),
        # Basic format and a space separator.
        ("20240507T174803+0800", utc(2024, 5, 7, 9, 48, 3)),
        ("2024-05-07 17:48:03+08:00", utc(2024, 5, 7, 9, 48, 3)),
        ("  2024-05-07T17:48:03+08:00\n", utc(2024, 5, 7, 9, 48, 3)),
    ],
)
def test_iso8601_with_offset_uses_the_offset(text: str, expected: datetime) -> None:
    # The zone must not matter when the payload carries an offset.
    for zone in (SHANGHAI, BERLIN):
        got, provenance = parse_iso8601(text, zone, now=NOW)
        assert got == expected
        assert got.tzinfo is UTC
        assert provenance is TimeProvenance.SOURCE_OFFSET


def test_iso8601_camera_sending_utc_is_not_second_guessed() -> None:
    # pyHik PR #54: cameras that send UTC whatever their configured zone.
    got, provenance = parse_iso8601("2024-05-07T10:48:03Z", SHANGHAI, now=NOW)
    assert got == utc(2024, 5, 7, 10, 48, 3)
    assert provenance is TimeProvenance.SOURCE_OFFSET


@pytest.mark.parametrize(
    ("text", "zone", "expected"),
    [
        ("2024-05-07T17:48:03", SHANGHAI, utc(2024, 5, 7, 9, 48, 3)),
        ("2024-05-07T17:48:03.5", "Asia/Shanghai", utc(2024, 5, 7, 9, 48, 3, 500000)),
        # Europe/Berlin: CEST (+2) in July, CET (+1) in January.
        ("2024-07-01T12:00:00", BERLIN, utc(2024, 7, 1, 10, 0)),
        ("2024-01-15T12:00:00", BERLIN, utc(2024, 1, 15, 11, 0)),
        # Ambiguous fall-back hour: the first (daylight) occurrence.
        ("2024-10-27T02:30:00", BERLIN, utc(2024, 10, 27, 0, 30)),
        # Non-existent spring-forward time: the pre-transition offset (+1).
        ("2024-03-31T02:30:00", BERLIN, utc(2024, 3, 31, 1, 30)),
    ],
)
def test_iso8601_without_offset_is_local_in_zone(
    text: str, zone: ZoneInfo | str, expected: datetime
) -> None:
    got, provenance = parse_iso8601(text, zone, now=NOW)
    assert got == expected
    assert provenance is TimeProvenance.DEVICE_ZONE


@pytest.mark.parametrize(
    ("text", "expected_us"),
    [
        ("2024-05-07T17:48:03.847999+07:00", 847000),
        ("2024-05-07T17:48:03.8479999+07:00", 847000),  # .NET-style 7 digits
        ("2024-05-07T17:48:03.000999+07:00", 0),
        ("2024-05-07T17:48:03.9+07:00", 900000),
    ],
)
def test_iso8601_truncates_to_milliseconds(text: str, expected_us: int) -> None:
    got, _ = parse_iso8601(text, SHANGHAI, now=NOW)
    assert got.microsecond == expected_us
    assert got.second == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not an ISO-8601 date and time"),
        ("garbage", "not an ISO-8601 date and time"),
        ("2024-05-07", "not an ISO-8601 date and time"),  # a date alone is not midnight
        ("2024-13-07T17:48:03", "is not ISO-8601"),
        ("2024-05-07T25:48:03", "is not ISO-8601"),
        ("2024-05-07T17:48:03+08:00 extra", "is not ISO-8601"),
        ("1999-12-31T23:59:59Z", "before 2000-01-01"),
        ("0001-01-01T00:00:00+01:00", "out of range"),
        ("2025-06-03T00:00:00Z", "more than a day in the future"),
    ],
)
def test_iso8601_rejects(text: str, message: str) -> None:
    with pytest.raises(VendorTimeError, match=message):
        parse_iso8601(text, SHANGHAI, now=NOW)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # One-digit offset hours, as in public Hikvision samples.
        ("2016-12-24T18:59:49-8:00", utc(2016, 12, 25, 2, 59, 49)),
        ("2024-05-07T17:48:03+7:00", utc(2024, 5, 7, 10, 48, 3)),
        ("2024-05-07T17:48:03.847+7:00", utc(2024, 5, 7, 10, 48, 3, 847000)),
        ("2024-05-07T17:48:03+5:30", utc(2024, 5, 7, 12, 18, 3)),
        ("2024-05-07T17:48:03-0:00", utc(2024, 5, 7, 17, 48, 3)),
        ("2024-05-07 17:48:03+9:00", utc(2024, 5, 7, 8, 48, 3)),
        (" 2024-05-07T17:48:03+7:00\n", utc(2024, 5, 7, 10, 48, 3)),
        # Two-digit hours up to +14:00 (Kiribati) and down to -12:00, as before.
        ("2024-05-07T17:48:03+14:00", utc(2024, 5, 7, 3, 48, 3)),
        ("2024-05-07T17:48:03-12:00", utc(2024, 5, 8, 5, 48, 3)),
    ],
)
def test_iso8601_one_or_two_digit_offset_hours(text: str, expected: datetime) -> None:
    for zone in (SHANGHAI, BERLIN):
        got, provenance = parse_iso8601(text, zone, now=NOW)
        assert got == expected
        assert provenance is TimeProvenance.SOURCE_OFFSET


@pytest.mark.parametrize(
    "text",
    [
        "2024-05-07T17:48:03+7",  # no minutes
        "2024-05-07T17:48:03+700",  # one-digit hour needs the colon
        "2024-05-07T17:48:03+7:0",  # one-digit minutes
        "2024-05-07T17:48:03+7:60",  # minutes beyond 59
        "2024-05-07T17:48:03+7:000",
        "2024-05-07T17:48:03+7:00:00",  # seconds only with a two-digit hour
        "2024-05-07T17:48:03 +7:00",  # space before the sign
        "2024-05-07T17:48:03++7:00",
        "2024-05-07T17:48:03+７:00",  # full-width digit
        "2024-05-07T17:48:03+100:00",
        "2024-05-07T-8:00",  # no time of day
    ],
)
def test_iso8601_rejects_malformed_short_offsets(text: str) -> None:
    with pytest.raises(VendorTimeError, match="is not ISO-8601"):
        parse_iso8601(text, SHANGHAI, now=NOW)


def test_iso8601_rejects_non_text() -> None:
    with pytest.raises(VendorTimeError, match="must be text, got int"):
        parse_iso8601(20240507, SHANGHAI, now=NOW)  # type: ignore[arg-type]


def test_future_limit_is_one_day_after_now_inclusive() -> None:
    got, _ = parse_iso8601("2025-06-02T12:00:00Z", SHANGHAI, now=NOW)
    assert got == NOW + timedelta(days=1)
    with pytest.raises(VendorTimeError, match="future"):
        parse_iso8601("2025-06-02T12:00:00.001Z", SHANGHAI, now=NOW)


def test_earliest_limit_is_2000_inclusive() -> None:
    got, _ = parse_iso8601("2000-01-01T00:00:00Z", SHANGHAI, now=NOW)
    assert got == utc(2000, 1, 1)
    # 2000-01-01T07:59 in Beijing is still 1999 in UTC.
    with pytest.raises(VendorTimeError, match="before 2000"):
        parse_iso8601("2000-01-01T07:59:59", SHANGHAI, now=NOW)


def test_now_defaults_to_the_wall_clock() -> None:
    tomorrow_plus = datetime.now(UTC) + timedelta(days=1, minutes=5)
    with pytest.raises(VendorTimeError, match="future"):
        parse_iso8601(tomorrow_plus.isoformat(), SHANGHAI)
    got, _ = parse_iso8601("2024-05-07T17:48:03+08:00", SHANGHAI)
    assert got == utc(2024, 5, 7, 9, 48, 3)


def test_naive_now_is_a_programming_error() -> None:
    naive = NOW.replace(tzinfo=None)
    with pytest.raises(ValueError, match="timezone-aware") as info:
        parse_iso8601("2024-05-07T17:48:03Z", SHANGHAI, now=naive)
    assert not isinstance(info.value, VendorTimeError)


# --- compact digit runs (GA/T 1400, Hikvision absTime/captureTime, Uniview PassTime) --------


@pytest.mark.parametrize(
    ("text", "zone", "expected"),
    [
        # GA/T 1400 PassTime (reference sample), Beijing local: UTC is 8 hours earlier.
        ("20210411171337", SHANGHAI, utc(2021, 4, 11, 9, 13, 37)),
        # Before 8 am in Beijing is still the previous day in UTC.
        ("20200710043217", SHANGHAI, utc(2020, 7, 9, 20, 32, 17)),
        # Hikvision absTime / Uniview PassTime with milliseconds.
        ("20240507174803847", SHANGHAI, utc(2024, 5, 7, 9, 48, 3, 847000)),
        ("20240507174803847", "Asia/Shanghai", utc(2024, 5, 7, 9, 48, 3, 847000)),
        # A Uniview camera in Berlin, summer and winter.
        ("20240701120000123", BERLIN, utc(2024, 7, 1, 10, 0, 0, 123000)),
        ("20240115120000000", BERLIN, utc(2024, 1, 15, 11, 0)),
        # Hikvision poll captureTime without an offset tail.
        ("20200424T161627", SHANGHAI, utc(2020, 4, 24, 8, 16, 27)),
    ],
)
def test_compact_local_times(text: str, zone: ZoneInfo | str, expected: datetime) -> None:
    got, provenance = parse_compact(text, zone, now=NOW)
    assert got == expected
    assert provenance is TimeProvenance.DEVICE_ZONE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Reference sample: the 4-digit tail is a sign-less offset (here +00:00).
        ("20200424T1616270000", utc(2020, 4, 24, 16, 16, 27)),
        ("20200424T1616270800", utc(2020, 4, 24, 8, 16, 27)),
        ("20200424T161627+0400", utc(2020, 4, 24, 12, 16, 27)),
        ("20200424T161627-0530", utc(2020, 4, 24, 21, 46, 27)),
        ("20200424t161627+0000", utc(2020, 4, 24, 16, 16, 27)),
    ],
)
def test_compact_hikvision_poll_form_with_offset(text: str, expected: datetime) -> None:
    for zone in (SHANGHAI, BERLIN):
        got, provenance = parse_compact(text, zone, now=NOW)
        assert got == expected
        assert provenance is TimeProvenance.SOURCE_OFFSET


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is not yyyyMMddHHmmss"),
        ("2021041117133", "is not yyyyMMddHHmmss"),  # 13 digits
        ("202104111713371", "is not yyyyMMddHHmmss"),  # 15 digits
        ("2021041117133a", "is not yyyyMMddHHmmss"),
        ("２０２１０４１１１７１３３７", "is not yyyyMMddHHmmss"),  # full-width digits
        ("2021-04-11 17:13:37", "is not yyyyMMddHHmmss"),
        ("20211311171337", "month must be in 1..12"),
        ("20210230171337", "day is out of range"),
        ("20210411251337", "hour must be in 0..23"),
        ("20200424T16162700", "malformed offset"),
        ("20200424T161627+08", "malformed offset"),
        ("20200424T161627+2500", "impossible offset"),
        ("20200424T161627+0860", "impossible offset"),
        ("19991231235959", "before 2000-01-01"),
        ("20250603000000", "more than a day in the future"),
    ],
)
def test_compact_rejects(text: str, message: str) -> None:
    with pytest.raises(VendorTimeError, match=message):
        parse_compact(text, SHANGHAI, now=NOW)


def test_compact_rejects_non_text() -> None:
    with pytest.raises(VendorTimeError, match="must be text"):
        parse_compact(20210411171337, SHANGHAI, now=NOW)  # type: ignore[arg-type]


# --- epoch ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1706600095, utc(2024, 1, 30, 7, 34, 55)),  # Uniview TimeStamp, seconds
        (1706600095123, utc(2024, 1, 30, 7, 34, 55, 123000)),  # milliseconds
        (1607123955.475377, utc(2020, 12, 4, 23, 19, 15, 475000)),  # Frigate float seconds
        (1706600095123.9, utc(2024, 1, 30, 7, 34, 55, 123000)),  # float milliseconds
        (1706600095.9999, utc(2024, 1, 30, 7, 34, 55, 999000)),  # truncated, not rounded
        (1706600095.123, utc(2024, 1, 30, 7, 34, 55, 123000)),  # float noise does not leak
        ("1706600095", utc(2024, 1, 30, 7, 34, 55)),
        (" 1706600095 ", utc(2024, 1, 30, 7, 34, 55)),
        ("1706600095.1239", utc(2024, 1, 30, 7, 34, 55, 123000)),
        ("1706600095123", utc(2024, 1, 30, 7, 34, 55, 123000)),
        ("1706600095123.999", utc(2024, 1, 30, 7, 34, 55, 123000)),
        (946684800, utc(2000, 1, 1)),
    ],
)
def test_epoch(value: int | float | str, expected: datetime) -> None:
    got, provenance = parse_epoch(value, now=NOW)
    assert got == expected
    assert got.tzinfo is UTC
    assert provenance is TimeProvenance.EPOCH


def test_epoch_magnitude_rule_boundary() -> None:
    # Just below the threshold is seconds (year 5138: absurd), at it milliseconds (1973: absurd).
    with pytest.raises(VendorTimeError, match="future"):
        parse_epoch(EPOCH_MS_THRESHOLD - 1, now=NOW)
    with pytest.raises(VendorTimeError, match="before 2000"):
        parse_epoch(EPOCH_MS_THRESHOLD, now=NOW)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "boolean"),
        (None, "must be a number or text, got NoneType"),
        ("", "not a decimal number"),
        ("abc", "not a decimal number"),
        ("-1706600095", "not a decimal number"),
        ("1.7e9", "not a decimal number"),
        ("1_706_600_095", "not a decimal number"),
        ("nan", "not a decimal number"),
        ("１７０６６０００９５", "not a decimal number"),  # full-width digits
        (float("nan"), "not a finite number"),
        (float("inf"), "not a finite number"),
        (1e308, "out of range"),
        (-1706600095, "before 2000"),
        (0, "before 2000"),
        (10**400, "future"),
        (1748908800, "future"),  # 2025-06-03T00:00Z, 36 h after NOW
    ],
)
def test_epoch_rejects(value: Any, message: str) -> None:
    with pytest.raises(VendorTimeError, match=message):
        parse_epoch(value, now=NOW)


# --- Dahua ---------------------------------------------------------------------------------

# Reference (public RPC sample): UTC=1706625295 is the local wall-clock 2024-01-30 14:34:55
# encoded as if UTC; RealUTC=1706600095 is the true instant, 07:34:55Z (a UTC+7 device).
DAHUA_UTC = 1706625295
DAHUA_REAL_UTC = 1706600095
DAHUA_INSTANT = utc(2024, 1, 30, 7, 34, 55)


def test_dahua_prefers_real_utc_whatever_the_zone() -> None:
    data = {"UTC": DAHUA_UTC, "RealUTC": DAHUA_REAL_UTC, "LocaleTime": "2024-01-30 14:34:55"}
    for zone in (BANGKOK, SHANGHAI, BERLIN):
        got, provenance = parse_dahua(data, zone, now=NOW)
        assert got == DAHUA_INSTANT
        assert provenance is TimeProvenance.REAL_UTC


def test_dahua_real_utc_with_utcms() -> None:
    got, _ = parse_dahua({"RealUTC": DAHUA_REAL_UTC, "UTCMS": 180}, BANGKOK, now=NOW)
    assert got == DAHUA_INSTANT + timedelta(milliseconds=180)


def test_dahua_utc_is_local_wall_clock_not_utc() -> None:
    got, provenance = parse_dahua({"UTC": DAHUA_UTC, "UTCMS": 180}, BANGKOK, now=NOW)
    # Taking UTC at face value would give 14:34:55Z, seven hours late.
    assert got != utc(2024, 1, 30, 14, 34, 55, 180000)
    assert got == DAHUA_INSTANT + timedelta(milliseconds=180)
    assert provenance is TimeProvenance.DEVICE_ZONE


def test_dahua_utc_depends_on_configured_zone() -> None:
    # The same number from a Beijing device is an hour earlier than from a Bangkok one.
    got, _ = parse_dahua({"UTC": DAHUA_UTC}, "Asia/Shanghai", now=NOW)
    assert got == utc(2024, 1, 30, 6, 34, 55)


def test_dahua_real_utc_zero_counts_as_absent() -> None:
    got, provenance = parse_dahua({"UTC": DAHUA_UTC, "RealUTC": 0}, BANGKOK, now=NOW)
    assert got == DAHUA_INSTANT
    assert provenance is TimeProvenance.DEVICE_ZONE


def test_dahua_locale_time_fallback() -> None:
    got, provenance = parse_dahua({"LocaleTime": "2024-01-30 14:34:55"}, BANGKOK, now=NOW)
    assert got == DAHUA_INSTANT
    assert provenance is TimeProvenance.DEVICE_ZONE


def test_dahua_flattened_snapmanager_values_are_text() -> None:
    data = {"RealUTC": "1706600095", "UTCMS": "7", "UTC": "1706625295"}
    got, provenance = parse_dahua(data, BANGKOK, now=NOW)
    assert got == DAHUA_INSTANT + timedelta(milliseconds=7)
    assert provenance is TimeProvenance.REAL_UTC


def test_dahua_crossline_sample() -> None:
    # CrossLineDetection sample from the reference: UTC:1620477656, UTCMS:180, no RealUTC.
    got, _ = parse_dahua({"UTC": 1620477656, "UTCMS": 180}, SHANGHAI, now=NOW)
    assert got == utc(2021, 5, 8, 4, 40, 56, 180000)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "no RealUTC, UTC or LocaleTime"),
        ({"UTC": None, "LocaleTime": ""}, "no RealUTC, UTC or LocaleTime"),
        ({"UTC": DAHUA_UTC, "UTCMS": 1000}, "UTCMS 1000 is not a whole number in 0..999"),
        ({"UTC": DAHUA_UTC, "UTCMS": "abc"}, "UTCMS"),
        ({"RealUTC": "soon"}, "RealUTC 'soon'"),
        ({"RealUTC": -5}, "RealUTC"),
        ({"RealUTC": True}, "RealUTC"),
        ({"UTC": 1.5}, "UTC 1.5"),
        ({"UTC": 10**20}, "out of range"),
        ({"UTC": 900000000}, "before 2000"),
        ({"RealUTC": 1748908800}, "future"),
        ({"LocaleTime": "2024/01/30 14:34:55"}, "not yyyy-MM-dd HH:mm:ss"),
        ({"LocaleTime": "2024-02-30 14:34:55"}, "day is out of range"),
        ({"LocaleTime": 1706625295}, "must be text"),
    ],
)
def test_dahua_rejects(data: dict[str, Any], message: str) -> None:
    with pytest.raises(VendorTimeError, match=message):
        parse_dahua(data, BANGKOK, now=NOW)


# --- received fallback and zones ------------------------------------------------------------


def test_from_received_converts_and_truncates() -> None:
    at = datetime(2024, 5, 7, 17, 48, 3, 847999, tzinfo=timezone(timedelta(hours=8)))
    got, provenance = from_received(at)
    assert got == utc(2024, 5, 7, 9, 48, 3, 847000)
    assert got.tzinfo is UTC
    assert provenance is TimeProvenance.RECEIVED


def test_from_received_defaults_to_now_and_rejects_naive() -> None:
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    got, _ = from_received()
    assert before <= got <= datetime.now(UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        from_received(datetime(2024, 5, 7, 9, 48, 3))  # noqa: DTZ001 - the point of the test


def test_zone_for_caches_and_names_bad_zones() -> None:
    assert zone_for("Asia/Shanghai") is zone_for("Asia/Shanghai")
    for bad in ("Mars/Olympus", "", "../etc/passwd", "Asia"):
        with pytest.raises(ValueError, match="not a known IANA time zone"):
            zone_for(bad)


# --- properties ----------------------------------------------------------------------------

PARSERS: list[Callable[[Any], tuple[datetime, TimeProvenance]]] = [
    lambda text: parse_iso8601(text, SHANGHAI, now=NOW),
    lambda text: parse_compact(text, SHANGHAI, now=NOW),
    lambda text: parse_epoch(text, now=NOW),
    lambda text: parse_dahua({"LocaleTime": text}, SHANGHAI, now=NOW),
    lambda text: parse_dahua({"UTC": text, "UTCMS": "5"}, SHANGHAI, now=NOW),
    lambda text: parse_dahua({"RealUTC": text}, SHANGHAI, now=NOW),
]

# Characters that reach past the first shape checks of the parsers.
TIMEISH = st.text(alphabet="0123456789T:-+. Zz", max_size=32)


def _check_result_or_vendor_error(parser: Callable[[Any], Any], value: object) -> None:
    try:
        got, provenance = parser(value)
    except VendorTimeError:
        return
    assert isinstance(provenance, TimeProvenance)
    assert got.tzinfo is UTC
    assert got.microsecond % 1000 == 0
    assert datetime(2000, 1, 1, tzinfo=UTC) <= got <= NOW + timedelta(days=1)


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(max_size=40), TIMEISH))
def test_parsers_raise_only_vendor_time_error_on_arbitrary_text(text: str) -> None:
    for parser in PARSERS:
        _check_result_or_vendor_error(parser, text)


@settings(max_examples=200, deadline=None)
@given(
    value=st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.binary(max_size=8),
        st.lists(st.integers(), max_size=2),
    )
)
def test_parsers_raise_only_vendor_time_error_on_arbitrary_values(value: object) -> None:
    for parser in PARSERS:
        _check_result_or_vendor_error(parser, value)


@settings(max_examples=200, deadline=None)
@given(
    instant=st.datetimes(
        min_value=datetime(2000, 1, 2),  # noqa: DTZ001 - hypothesis bounds are naive
        max_value=datetime(2025, 5, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    offset_minutes=st.integers(min_value=-12 * 60, max_value=14 * 60),
)
def test_iso8601_round_trip_property(instant: datetime, offset_minutes: int) -> None:
    shown = instant.astimezone(timezone(timedelta(minutes=offset_minutes))).isoformat()
    got, provenance = parse_iso8601(shown, BERLIN, now=NOW)
    assert got == instant.replace(microsecond=instant.microsecond // 1000 * 1000)
    assert provenance is TimeProvenance.SOURCE_OFFSET


@settings(max_examples=200, deadline=None)
@given(
    instant=st.datetimes(
        min_value=datetime(2000, 1, 2),  # noqa: DTZ001 - hypothesis bounds are naive
        max_value=datetime(2025, 5, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    )
)
def test_compact_and_epoch_agree_property(instant: datetime) -> None:
    local = instant.astimezone(SHANGHAI)
    compact = local.strftime("%Y%m%d%H%M%S") + f"{local.microsecond // 1000:03d}"
    millis = (instant - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    from_compact, _ = parse_compact(compact, SHANGHAI, now=NOW)
    from_epoch, _ = parse_epoch(millis, now=NOW)
    assert from_compact == from_epoch


_FAST_ZONES = ["Asia/Shanghai", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC"]


@given(
    st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2030, 12, 30)),  # noqa: DTZ001
    st.sampled_from(_FAST_ZONES),
    st.booleans(),
)
def test_compact_times_follow_the_zone_rules_exactly(
    local: datetime, zone_name: str, with_millis: bool
) -> None:
    """The per-minute offset cache gives what the zone rules give (DST gaps and overlaps too)."""
    from zoneinfo import ZoneInfo

    from streams.domain.vendor_time import parse_compact

    zone = ZoneInfo(zone_name)
    millis = local.microsecond // 1000 if with_millis else 0
    text = local.strftime("%Y%m%d%H%M%S") + (f"{millis:03d}" if with_millis else "")
    expected = local.replace(microsecond=millis * 1000, tzinfo=zone).astimezone(UTC)
    now = datetime(2031, 1, 1, tzinfo=UTC)
    assert parse_compact(text, zone, now=now) == (expected, TimeProvenance.DEVICE_ZONE)
    assert parse_compact(text, zone, now=now) == (expected, TimeProvenance.DEVICE_ZONE)  # cached


def test_compact_fast_path_leaves_errors_to_the_general_path() -> None:
    from zoneinfo import ZoneInfo

    from streams.domain.vendor_time import parse_compact

    zone = ZoneInfo("Asia/Shanghai")
    with pytest.raises(VendorTimeError, match="20261399999999"):
        parse_compact("20261399999999", zone)
    with pytest.raises(VendorTimeError, match="before 2000"):
        parse_compact("19991231235959", zone)
    with pytest.raises(ValueError, match="aware"):
        parse_compact("20260301083015", zone, now=datetime(2026, 3, 1))  # noqa: DTZ001
