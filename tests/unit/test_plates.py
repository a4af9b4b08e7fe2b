"""Plate canonicalisation, kinds, colours and OCR-confusion helpers (streams.domain.plates)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.domain.plates import (
    PLATE_KINDS,
    PROVINCES,
    PlateColor,
    canonical_plate,
    canonical_plate_color,
    ocr_confusion_variants,
    one_confusion_apart,
    plate_kind,
)

VENDORS = ("hikvision-isapi", "dahua-cgi", "uniview-lapi", "gat1400", "onvif", "frigate")
SERIAL = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"

# ---------------------------------------------------------------------------------------------
# canonical_plate


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("浙A12345", "浙A12345"),
        ("浙Ａ１２３４５", "浙A12345"),  # full-width
        ("浙A·12345", "浙A12345"),
        ("浙A•12345", "浙A12345"),
        ("浙A.12345", "浙A12345"),
        ("浙A-12345", "浙A12345"),
        ("浙A_12345", "浙A12345"),
        ("浙a 12345", "浙A12345"),
        ("浙A\u300012345", "浙A12345"),  # full-width space
        (" 浙A12345\n", "浙A12345"),
        ("浙BY6H39", "浙BY6H39"),  # GA/T 1400 sample: letters are legal in the serial
    ],
)
def test_standard_plate_normalisation(raw: str, expected: str) -> None:
    assert canonical_plate(raw) == expected
    assert plate_kind(raw) == "standard"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("浙AI2345", "浙A12345"),
        ("浙A1234O", "浙A12340"),
        ("沪AOI0O1", "沪A01001"),
        ("京AD1234O", "京AD12340"),  # NEV digits-only tail
        ("粤BI234学", "粤B1234学"),
        ("使I2345O", "使123450"),
    ],
)
def test_i_and_o_become_digits_in_serial_positions(raw: str, expected: str) -> None:
    assert canonical_plate(raw) == expected


def test_o_is_kept_as_authority_letter() -> None:
    # O is the provincial public-security authority letter, not a misread 0.
    assert canonical_plate("京O12345") == "京O12345"
    assert canonical_plate("京OO2345") == "京O02345"


def test_i_is_never_an_authority_letter() -> None:
    assert canonical_plate("京I12345") is None


def test_province_character_is_never_remapped() -> None:
    assert canonical_plate("黑A12345") == "黑A12345"
    assert canonical_plate("黔A12345") is None  # plates use 贵, never 黔


@pytest.mark.parametrize("province", sorted(PROVINCES))
def test_every_province_is_accepted(province: str) -> None:
    assert canonical_plate(f"{province}B12345") == f"{province}B12345"


def test_there_are_31_provinces() -> None:
    assert len(PROVINCES) == 31


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("京AD12345", "京AD12345"),  # small NEV, battery electric
        ("京AF12345", "京AF12345"),  # small NEV, plug-in
        ("沪AKX1001", "沪AKX1001"),  # expanded energy letters, letter in position 4
        ("粤B12345D", "粤B12345D"),  # large NEV: energy letter last
        ("粤B12345F", "粤B12345F"),
        ("京a·d12345", "京AD12345"),
    ],
)
def test_new_energy_plates(raw: str, expected: str) -> None:
    assert canonical_plate(raw) == expected
    assert plate_kind(raw) == "new_energy"


@pytest.mark.parametrize(
    "raw",
    [
        "京AL12345",  # L is not an energy letter
        "京AD1234X",  # small NEV tail must be digits
        "粤B1234XD",  # large NEV head must be digits
        "粤B12345X",  # X is not an energy letter
    ],
)
def test_eight_char_reads_breaking_nev_rules_are_rejected(raw: str) -> None:
    assert canonical_plate(raw) is None


@pytest.mark.parametrize(
    ("raw", "expected", "kind"),
    [
        ("京A1234警", "京A1234警", "police"),
        ("粤B1234学", "粤B1234学", "coach"),
        ("沪A1234挂", "沪A1234挂", "trailer"),
        ("沪A1234领", "沪A1234领", "consulate"),
        ("京A1234使", "京A1234使", "embassy"),
        ("粤Z1234港", "粤Z1234港", "hong_kong"),
        ("粤Z·1234澳", "粤Z1234澳", "macau"),
        ("京A1234试", "京A1234试", "test"),
        ("京A1234超", "京A1234超", "oversize"),
        ("京A1234应急", "京A1234应急", "emergency"),
        ("京A·1234 应急", "京A1234应急", "emergency"),
        ("应急京123A", "应急京123A", "emergency"),  # motorcycle layout
        ("使123456", "使123456", "embassy"),
        ("使 014·578", "使014578", "embassy"),
        ("123456使", "123456使", "embassy"),
        ("WJ京1234消", "WJ京1234消", "armed_police"),
        ("WJ 京 12345", "WJ京12345", "armed_police"),
        ("wj京I234O", "WJ京12340", "armed_police"),
        ("北K12345", "北K12345", "military"),
        ("空A1234O", "空A12340", "military"),
        ("民航12345", "民航12345", "civil_aviation"),
    ],
)
def test_special_plates(raw: str, expected: str, kind: str) -> None:
    assert canonical_plate(raw) == expected
    assert plate_kind(raw) == kind
    assert plate_kind(expected) == kind


@pytest.mark.parametrize(
    "raw",
    [
        "京A12345警",  # suffix plates have 4 serial characters
        "京A123应急",
        "使12345",
        "使12345A",
        "北K1234A",
        "WJ京123",
    ],
)
def test_malformed_special_plates_are_rejected(raw: str) -> None:
    assert canonical_plate(raw) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("蓝浙A12345", "浙A12345"),  # HCNetSDK colour prefix
        ("黄粤B1234学", "粤B1234学"),
        ("黄绿粤B12345D", "粤B12345D"),
        ("蓝牌 浙A12345", "浙A12345"),
        ("黑黑A12345", "黑A12345"),  # colour 黑 + province 黑
    ],
)
def test_colour_prefix_is_stripped(raw: str, expected: str) -> None:
    assert canonical_plate(raw) == expected


def test_colour_prefix_is_stripped_only_before_a_chinese_plate() -> None:
    # A 黑 (Heilongjiang) misread must not turn into a foreign plate "A012345".
    assert canonical_plate("黑A012345") is None
    assert canonical_plate("蓝AB1234") is None


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        "unknown",
        "Unknown",
        "UNKNOW",
        "NONE",
        "none",
        "NULL",
        "NO_PLATE",
        "无车牌",
        "车牌",
        "未识别",
        "无牌",
        "-",
        "-------",
        "－－－－－－－",
        "*******",
        "???????",
        "＊＊＊",
        "浙A12*45",  # partial reads are not plates
        "浙A1234?",
        "浙A1234",  # truncated
        "浙A123456789",
        "浙",
        "京#12345",
        "浙A12345!",
        "@@@@",
        "车牌号码",
        "ABCD",  # no digit: words, not plates
        "0000000",  # one repeated character: placeholder
        "A1B",  # too short
        "AB12345678X",  # too long
        "ÄB1234",  # non-ASCII outside the plate alphabet
    ],
)
def test_unreadable_reads_are_none(raw: str | None) -> None:
    assert canonical_plate(raw) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("AB1234", "AB1234"),  # Hong Kong style
        ("ab-12-34", "AB1234"),
        ("M-12-34", "M1234"),  # Macau style
        ("6DZG261", "6DZG261"),  # ONVIF example, California
        ("OI12IO", "OI12IO"),  # I and O are kept: foreign plates use them
        ("ＡＢ１２３４", "AB1234"),
        ("A12345", "A12345"),  # province character lost: kept for fuzzy search
        ("WJ12345", "WJ12345"),  # no province: cannot tell it is armed police
        ("1234", "1234"),
    ],
)
def test_foreign_or_unknown_reads_are_kept_normalised(raw: str, expected: str) -> None:
    assert canonical_plate(raw) == expected
    assert plate_kind(raw) == "foreign_or_unknown"


def test_plate_kind_of_unreadable_is_foreign_or_unknown() -> None:
    assert plate_kind("unknown") == "foreign_or_unknown"
    assert plate_kind("") == "foreign_or_unknown"


# ---------------------------------------------------------------------------------------------
# canonical_plate: properties

PLATE_ALPHABET = (
    "京沪粤浙黑使警学挂领港澳应急民航WJ北蓝黄绿"
    + SERIAL
    + "IOabcio"
    + "０１２ＡＢＯ"
    + " ·•.-_\u3000*?#"
)


@given(st.text())
def test_canonical_plate_never_raises_and_is_idempotent(raw: str) -> None:
    once = canonical_plate(raw)
    if once is not None:
        assert canonical_plate(once) == once
        assert plate_kind(once) == plate_kind(raw)
    assert plate_kind(raw) in PLATE_KINDS


@given(st.text(alphabet=PLATE_ALPHABET, max_size=12))
def test_canonical_plate_is_idempotent_on_plate_like_text(raw: str) -> None:
    once = canonical_plate(raw)
    if once is not None:
        assert canonical_plate(once) == once
        assert once == once.strip()
        assert "I" not in once or plate_kind(once) == "foreign_or_unknown"


@given(
    st.sampled_from(sorted(PROVINCES)),
    st.sampled_from("ABCDEFGHJKLMNOPQRSTUVWXYZ"),
    st.text(alphabet=SERIAL, min_size=5, max_size=5),
    st.lists(st.sampled_from([" ", "·", "-", "\u3000", "•"]), min_size=0, max_size=3),
    st.booleans(),
)
def test_decorated_standard_plates_canonicalise_to_the_plain_plate(
    province: str, letter: str, serial: str, seps: list[str], lower: bool
) -> None:
    plain = province + letter + serial
    decorated = province + letter + "".join(seps) + serial
    if lower:
        decorated = decorated.lower()
    assert canonical_plate(decorated) == plain
    assert plate_kind(plain) == "standard"
    # Full-width digits and letters.
    wide = "".join(chr(ord(c) + 0xFEE0) if c.isascii() else c for c in plain)
    assert canonical_plate(wide) == plain


# ---------------------------------------------------------------------------------------------
# canonical_plate_color


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("blue", PlateColor.BLUE),
        ("yellow", PlateColor.YELLOW),
        ("white", PlateColor.WHITE),
        ("black", PlateColor.BLACK),
        ("green", PlateColor.GREEN),
        ("unknown", PlateColor.UNKNOWN),
        ("other", PlateColor.OTHER),
        (0, PlateColor.BLUE),
        (1, PlateColor.YELLOW),
        (2, PlateColor.WHITE),
        (3, PlateColor.BLACK),
        (4, PlateColor.GREEN),
        (5, PlateColor.BLACK),  # civil-aviation black
        (6, PlateColor.OTHER),  # red
        (7, PlateColor.OTHER),  # orange
        (0xFF, PlateColor.OTHER),
        ("0xff", PlateColor.OTHER),
        ("255", PlateColor.OTHER),
        ("3", PlateColor.BLACK),
        (8, PlateColor.UNKNOWN),
    ],
)
def test_hikvision_colours(raw: str | int, expected: PlateColor) -> None:
    assert canonical_plate_color(raw, "hikvision-isapi") is expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Blue", PlateColor.BLUE),
        ("Yellow", PlateColor.YELLOW),
        ("White", PlateColor.WHITE),
        ("Black", PlateColor.BLACK),
        ("Green", PlateColor.GREEN),
        ("ShadowGreen", PlateColor.GREEN),
        ("YellowGreen", PlateColor.YELLOW_GREEN),
        ("YellowbottomBlackText", PlateColor.YELLOW),
        ("Unknown", PlateColor.UNKNOWN),
        ("Other", PlateColor.OTHER),
        ("Red", PlateColor.OTHER),
        (2, PlateColor.BLUE),  # NetSDK EM_PLATE_COLOR_TYPE
        (8, PlateColor.GREEN),
        (9, PlateColor.YELLOW_GREEN),
        (0, PlateColor.UNKNOWN),
        (1, PlateColor.OTHER),
    ],
)
def test_dahua_colours(raw: str | int, expected: PlateColor) -> None:
    assert canonical_plate_color(raw, "dahua-cgi") is expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", PlateColor.BLACK),
        ("2", PlateColor.WHITE),
        ("5", PlateColor.BLUE),
        ("05", PlateColor.BLUE),
        ("6", PlateColor.YELLOW),
        ("9", PlateColor.GREEN),
        ("99", PlateColor.OTHER),
        ("4", PlateColor.OTHER),  # red
        (1, PlateColor.BLACK),
        (5, PlateColor.BLUE),
        (0, PlateColor.UNKNOWN),
        ("", PlateColor.UNKNOWN),
        ("blue", PlateColor.BLUE),
    ],
)
def test_gat1400_colours(raw: str | int, expected: PlateColor) -> None:
    assert canonical_plate_color(raw, "gat1400") is expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (0, PlateColor.BLACK),
        (1, PlateColor.WHITE),
        (4, PlateColor.BLUE),
        (5, PlateColor.YELLOW),
        (8, PlateColor.GREEN),
        (17, PlateColor.YELLOW_GREEN),
        (18, PlateColor.GREEN),  # gradient green
        (99, PlateColor.OTHER),
        (100, PlateColor.UNKNOWN),
        ("4", PlateColor.BLUE),
        (3, PlateColor.OTHER),  # red
    ],
)
def test_uniview_colours(raw: str | int, expected: PlateColor) -> None:
    assert canonical_plate_color(raw, "uniview-lapi") is expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("蓝", PlateColor.BLUE),
        ("蓝色", PlateColor.BLUE),
        ("黄牌", PlateColor.YELLOW),
        ("白", PlateColor.WHITE),
        ("黑", PlateColor.BLACK),
        ("绿", PlateColor.GREEN),
        ("渐变绿", PlateColor.GREEN),
        ("黄绿", PlateColor.YELLOW_GREEN),
        ("黄绿双拼", PlateColor.YELLOW_GREEN),
        ("未知", PlateColor.UNKNOWN),
    ],
)
@pytest.mark.parametrize("vendor", VENDORS)
def test_chinese_colour_words_for_every_vendor(raw: str, expected: PlateColor, vendor: str) -> None:
    assert canonical_plate_color(raw, vendor) is expected


@pytest.mark.parametrize("vendor", ["onvif", "frigate"])
def test_vendors_without_code_tables_read_names_only(vendor: str) -> None:
    assert canonical_plate_color("Blue", vendor) is PlateColor.BLUE
    assert canonical_plate_color(5, vendor) is PlateColor.UNKNOWN
    assert canonical_plate_color("5", vendor) is PlateColor.UNKNOWN


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("raw", [None, True, False, "mauve", "  ", -1, 12345, "0x", "蓝蓝"])
def test_unrecognised_colours_are_unknown(vendor: str, raw: str | int | None) -> None:
    assert canonical_plate_color(raw, vendor) is PlateColor.UNKNOWN


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # ISAPI plateColor names beyond the basic colours (ISAPI spec enumeration).
        ("newEnergyGreen", PlateColor.GREEN),
        ("newEnergyYellowGreen", PlateColor.YELLOW_GREEN),
        ("civilAviationBlack", PlateColor.BLACK),
        ("civilAviationGreen", PlateColor.GREEN),
        ("golden", PlateColor.OTHER),
        ("mixedColor", PlateColor.OTHER),
        ("brown", PlateColor.OTHER),
        # Names are case- and separator-insensitive.
        ("NEWENERGYGREEN", PlateColor.GREEN),
        ("new_energy_yellow_green", PlateColor.YELLOW_GREEN),
        ("Civil Aviation Black", PlateColor.BLACK),
        ("civil-aviation-green", PlateColor.GREEN),
        ("Golden", PlateColor.OTHER),
        ("MIXED_COLOR", PlateColor.OTHER),
        (" Brown ", PlateColor.OTHER),
    ],
)
@pytest.mark.parametrize("vendor", VENDORS)
def test_isapi_colour_names_for_every_vendor(raw: str, expected: PlateColor, vendor: str) -> None:
    assert canonical_plate_color(raw, vendor) is expected


@pytest.mark.parametrize("raw", ["newEnergy", "civilAviation", "mixed", "newEnergyBlue"])
def test_partial_isapi_colour_names_are_unknown(raw: str) -> None:
    assert canonical_plate_color(raw, "hikvision-isapi") is PlateColor.UNKNOWN


def test_colour_names_are_case_and_separator_insensitive() -> None:
    assert canonical_plate_color(" YELLOW_GREEN ", "dahua-cgi") is PlateColor.YELLOW_GREEN
    assert canonical_plate_color("yellow-green", "hikvision-isapi") is PlateColor.YELLOW_GREEN
    assert canonical_plate_color("ＢＬＵＥ", "hikvision-isapi") is PlateColor.BLUE


def test_unknown_vendor_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown vendor"):
        canonical_plate_color("blue", "axis")


def test_plate_color_values() -> None:
    assert [c.value for c in PlateColor] == [
        "blue",
        "yellow",
        "white",
        "black",
        "green",
        "yellow_green",
        "other",
        "unknown",
    ]
    assert str(PlateColor.YELLOW_GREEN) == "yellow_green"


@given(st.one_of(st.none(), st.text(), st.integers()), st.sampled_from(VENDORS))
def test_canonical_plate_color_never_raises(raw: str | int | None, vendor: str) -> None:
    assert isinstance(canonical_plate_color(raw, vendor), PlateColor)


# ---------------------------------------------------------------------------------------------
# OCR confusion helpers


def test_confusion_variants_of_a_standard_plate() -> None:
    # 1->I maps back to 1 in a serial, so only the 2->Z and 5->S swaps name other plates.
    assert ocr_confusion_variants("浙A12345") == {"浙A1Z345", "浙A1234S"}


def test_confusion_variants_cover_every_pair() -> None:
    variants = ocr_confusion_variants("粤B08ZSG")
    assert {"粤BD8ZSG", "粤B0BZSG", "粤B082SG", "粤B08Z5G", "粤B08ZS6"} <= variants
    # B is the authority letter: 8 there is no plate.
    assert "粤808ZSG" not in variants
    assert "粤BO8ZSG" not in variants  # O never appears in a serial


def test_confusion_variants_respect_nev_rules() -> None:
    # D->0 in the energy position and letters in the digits-only tail are not plates.
    assert ocr_confusion_variants("京AD12345") == set()
    assert ocr_confusion_variants("粤B12365D") == set()
    # Position 4 of a small NEV plate takes letters, so 5->S is a plate there.
    assert ocr_confusion_variants("京AD52345") == {"京ADS2345"}


def test_confusion_variants_of_foreign_plates_keep_i_and_o() -> None:
    assert ocr_confusion_variants("AB0123") == {"ABO123", "ABD123", "AB0I23", "AB01Z3", "A80123"}


def test_confusion_variants_canonicalise_the_input() -> None:
    assert ocr_confusion_variants("浙a·12345") == ocr_confusion_variants("浙A12345")
    assert ocr_confusion_variants("unknown") == set()


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("浙A12345", "浙A12345", True),
        ("浙B12345", "浙812345", True),
        ("AB0123", "ABO123", True),
        ("AB0123", "ABD123", True),
        ("ABO123", "ABD123", False),  # O and D are each confused with 0, not with each other
        ("浙A12345", "浙A1Z345", True),
        ("浙A12345", "浙A1234S", True),
        ("浙A12G45", "浙A12645", True),
        ("浙A12345", "浙A12346", False),  # a different digit is not a confusion
        ("浙A12345", "浙A1Z34S", False),  # two confusions
        ("浙A12345", "苏A12345", False),  # province misreads are out of scope
        ("浙A12345", "浙A123456", False),
        ("", "", True),
    ],
)
def test_one_confusion_apart(a: str, b: str, expected: bool) -> None:
    assert one_confusion_apart(a, b) is expected
    assert one_confusion_apart(b, a) is expected


CONFUSABLE_TEXT = st.text(alphabet="O0DI1B8Z2S5G6A浙", max_size=8)


@given(CONFUSABLE_TEXT, CONFUSABLE_TEXT)
def test_one_confusion_apart_is_symmetric(a: str, b: str) -> None:
    assert one_confusion_apart(a, b) == one_confusion_apart(b, a)


@given(CONFUSABLE_TEXT)
def test_one_confusion_apart_is_reflexive(a: str) -> None:
    assert one_confusion_apart(a, a)


@given(st.text(alphabet=PLATE_ALPHABET, max_size=12))
def test_every_variant_is_a_canonical_plate_one_confusion_away(raw: str) -> None:
    canon = canonical_plate(raw)
    variants = ocr_confusion_variants(raw)
    if canon is None:
        assert variants == set()
        return
    assert canon not in variants
    for variant in variants:
        assert canonical_plate(variant) == variant
        assert one_confusion_apart(canon, variant)
        assert canon in ocr_confusion_variants(variant)
