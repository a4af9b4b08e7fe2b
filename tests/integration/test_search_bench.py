"""The search benchmark end to end at a tiny size: generation, reuse, every query kind."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from streams.bench.search import add_arguments, run
from streams.settings import Settings

pytestmark = pytest.mark.integration


def test_bench_generates_reuses_and_measures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    base = ["--dir", str(tmp_path / "bench"), "--plates", "18000", "--faces", "1800"]
    assert run(parser.parse_args([*base, "--generate-only"]), Settings()) == 0
    first = capsys.readouterr().out
    assert "plates: 18,000 rows" in first
    assert "faces: 1,800 vectors" in first
    args = parser.parse_args([*base, "--repeat", "2", "--recall-queries", "3", "--json"])
    assert run(args, Settings()) == 0
    second = capsys.readouterr().out
    assert "plates:" not in second  # the data of this size was reused
    assert "plate exact (90 days)" in second
    assert "face recall@10" in second
    assert "index used: True" in second
