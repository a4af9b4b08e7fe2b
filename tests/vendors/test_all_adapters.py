"""What every adapter promises, checked through the one entry point the worker uses."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.topics import SOURCES
from streams.vendors import ADAPTERS, normalize
from streams.vendors.base import Context, RawPayload
from tests.vendors.checks import assert_valid

FIXTURES = Path(__file__).parent / "fixtures"
RECEIVED = datetime(2026, 3, 1, 0, 30, 30, tzinfo=UTC)


def test_every_source_has_an_adapter_and_fixtures() -> None:
    assert set(ADAPTERS) == set(SOURCES)
    for source in SOURCES:
        assert any((FIXTURES / source).iterdir()), source


def _fixtures() -> list[tuple[str, Path]]:
    return [(s, p) for s in SOURCES for p in sorted((FIXTURES / s).iterdir()) if p.is_file()]


@pytest.mark.parametrize(("source", "path"), _fixtures(), ids=lambda v: getattr(v, "name", v))
def test_fixture_yields_valid_events_or_reasons(source: str, path: Path) -> None:
    result = normalize(RawPayload(source, path.read_bytes(), RECEIVED, key="cam-1"), Context())
    assert_valid(result.events)
    assert all(e.source == source for e in result.events)
    assert all(r.reason.startswith(f"{source}: ") for r in result.rejected)
    assert result.events or result.rejected or result.skipped
    again = normalize(RawPayload(source, path.read_bytes(), RECEIVED, key="cam-1"), Context())
    assert [e.event_id for e in again.events] == [e.event_id for e in result.events]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(SOURCES), st.binary(max_size=600), st.none() | st.text(max_size=60))
def test_no_input_escapes_as_an_exception(
    source: str, body: bytes, content_type: str | None
) -> None:
    result = normalize(RawPayload(source, body, RECEIVED, content_type=content_type), Context())
    assert_valid(result.events)
    assert result.events or result.rejected or result.skipped is not None


def test_unknown_source_is_a_rejection() -> None:
    result = normalize(RawPayload("axis", b"{}", RECEIVED), Context())
    assert [r.reason for r in result.rejected] == ["no adapter for source 'axis'"]
