"""``streams bench sink`` on the real embedded warehouse, small: what each count runs."""

from __future__ import annotations

import argparse
import json

import pytest

from streams.bench import sink
from streams.settings import Settings

pytestmark = pytest.mark.integration


def test_rows_alone_skips_the_stage_through_kafka(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    args = argparse.Namespace(rows=3000, messages=0, json=True)
    assert sink.run(args, settings.model_copy(update={"sink_batch_size": 1000})) == 0
    out = capsys.readouterr().out
    report = json.loads(out[out.index("{") :])
    assert set(report) == {"batch_rows", "insert", "decode", "insert_avro"}
    assert report["insert"]["landed"] == report["insert"]["rows"] == 3000
    assert report["insert_avro"]["rows"] == 3000
    assert "sink stage through Kafka" not in out


def test_both_counts_zero_is_a_clear_error(settings: Settings) -> None:
    with pytest.raises(SystemExit, match="not both 0"):
        sink.run(argparse.Namespace(rows=0, messages=0, json=False), settings)
