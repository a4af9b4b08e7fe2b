"""docs/capacity.md shows what streams/capacity.py computes, and the plan is self-consistent."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from streams import capacity

PAGE = Path(__file__).resolve().parents[2] / "docs" / "capacity.md"


def test_the_page_shows_the_computed_plan() -> None:
    page = PAGE.read_text(encoding="utf-8")
    assert capacity.refresh(page) == page, (
        "run: python -m streams.capacity --write docs/capacity.md"
    )


def test_refresh_needs_its_markers() -> None:
    with pytest.raises(ValueError, match="markers"):
        capacity.refresh("no table here")


@pytest.mark.parametrize("size", capacity.SIZES, ids=lambda s: s.name)
def test_every_stage_fits_its_measured_throughput(size: capacity.Size) -> None:
    plan = capacity.plan(size)
    headroom = capacity.UTILISATION
    assert plan.gateway_replicas * capacity.GATEWAY_PAYLOADS_PER_CORE * headroom >= (
        plan.peak_payloads
    )
    assert plan.workers * capacity.WORKER_PAYLOADS_PER_CORE * headroom >= plan.peak_payloads
    # A consumer group cannot use more consumers than partitions.
    assert plan.partitions >= plan.workers_max >= plan.workers
    assert plan.shards * capacity.NODE_CORES >= plan.scan_cores
    assert plan.shards * capacity.NODE_STORAGE_TB * headroom >= plan.storage_tb


def test_bigger_deployments_get_more_of_everything() -> None:
    plans = sorted((capacity.plan(s) for s in capacity.SIZES), key=lambda p: p.peak_payloads)
    for small, large in itertools.pairwise(plans):
        assert small.workers <= large.workers
        assert small.partitions <= large.partitions
        assert small.shards <= large.shards


def test_the_city_is_the_one_the_issue_describes() -> None:
    city = next(capacity.plan(s) for s in capacity.SIZES if s.name == "city")
    assert city.size.cameras == 60_000
    assert city.peak_payloads == pytest.approx(50e6 * 1.3 / 86_400 * 10)
    province = next(capacity.plan(s) for s in capacity.SIZES if s.name == "province")
    assert province.live_rows == pytest.approx(20e9)
