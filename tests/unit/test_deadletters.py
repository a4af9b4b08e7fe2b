from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from streams.canonical import DeadLetter
from streams.codecs.avro import decode, encode
from streams.deadletters import DeadLetterRatio, Position, dead_letter

NOW = datetime(2026, 3, 1, 0, 30, 16, 500999, tzinfo=UTC)


def test_ratio_waits_for_the_minimum_then_trips() -> None:
    ratio = DeadLetterRatio(limit=0.5, window=10, minimum=4)
    assert [ratio.record(True) for _ in range(3)] == [None, None, None]
    verdict = ratio.record(True)
    assert verdict is not None
    assert "4 of the last 4 payloads" in verdict


def test_ratio_forgets_payloads_outside_the_window() -> None:
    ratio = DeadLetterRatio(limit=0.5, window=4, minimum=4)
    for dead in (True, True, False, False):
        ratio.record(dead)
    assert ratio.ratio == 0.5
    assert ratio.record(False) is None  # the oldest dead one left the window
    assert ratio.ratio == 0.25


@given(st.lists(st.booleans(), max_size=300))
def test_ratio_matches_a_recount_of_the_window(flags: list[bool]) -> None:
    ratio = DeadLetterRatio(limit=1.0, window=50, minimum=1)
    for flag in flags:
        ratio.record(flag)
    window = flags[-50:]
    expected = sum(window) / len(window) if window else 0.0
    assert abs(ratio.ratio - expected) < 1e-12


def test_dead_letter_keeps_bytes_and_position_and_round_trips() -> None:
    letter = dead_letter(
        stage="normalize",
        reason="gat1400: body is not JSON",
        payload=b"\x00\xff",
        failed_at=NOW,
        source="gat1400",
        position=Position("raw.gat1400", 2, 77),
        key=b"dev",
        headers=[("content-type", b"text/html")],
        index=1,
    )
    assert letter.dead_letter_id == "raw.gat1400:2:77:1"
    assert letter.failed_at.microsecond == 500000
    decoded = decode(encode(letter))
    assert isinstance(decoded, DeadLetter)
    assert decoded == letter
    assert DeadLetter.model_validate(letter.model_dump()) == letter


def test_dead_letter_without_position_is_identified_by_content() -> None:
    one = dead_letter(stage="gateway", reason="r", payload=b"a", failed_at=NOW)
    same = dead_letter(stage="gateway", reason="other words", payload=b"a", failed_at=NOW)
    other = dead_letter(stage="gateway", reason="r", payload=b"b", failed_at=NOW)
    assert one.dead_letter_id == same.dead_letter_id != other.dead_letter_id
