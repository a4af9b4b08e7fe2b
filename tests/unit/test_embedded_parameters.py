"""Parameters reach the embedded engine exactly as given, whatever characters they hold (a
search reason with a line break, a pattern with a backslash)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.warehouse.embedded import EmbeddedWarehouse

AWKWARD = ["plain", "a\\b", "line1\nline2", "tab\there", "cr\rlf", "quote'x", 'dq"', "\\n", "nul\0"]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedWarehouse]:
    path: Path = tmp_path_factory.mktemp("params") / "warehouse"
    engine = EmbeddedWarehouse(path, "streams")
    yield engine
    engine.close()


@pytest.mark.parametrize("text", AWKWARD)
def test_a_string_comes_back_unchanged(warehouse: EmbeddedWarehouse, text: str) -> None:
    [row] = warehouse.query(
        "SELECT {v:String} AS v, {a:Array(String)} AS a", {"v": text, "a": [text, "x"]}
    )
    assert row["v"] == text
    assert list(row["a"]) == [text, "x"]


@settings(max_examples=60, deadline=None)
@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=40))
def test_any_text_comes_back_unchanged(warehouse: EmbeddedWarehouse, text: str) -> None:
    [row] = warehouse.query("SELECT {v:String} AS v", {"v": text})
    assert row["v"] == text
