"""Integration fixtures: a migrated embedded warehouse, and a Confluent-compatible schema
registry named by the environment.

No schema registry server can be installed from the package registries these machines reach
(Confluent's is not on Maven Central; Karapace is not on PyPI and pins an older aiokafka), so the
tests that need one run when ``STREAMS_TEST_SCHEMA_REGISTRY_URL`` points at a running registry
(it must answer, or they fail) and are reported as skipped otherwise.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.warehouse.embedded import EmbeddedWarehouse
from streams.warehouse.migrations import migrate

REGISTRY_URL = os.environ.get("STREAMS_TEST_SCHEMA_REGISTRY_URL")


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (test registry)
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None


@pytest.fixture(scope="session")
def schema_registry_url() -> str:
    if REGISTRY_URL is None:
        pytest.skip("STREAMS_TEST_SCHEMA_REGISTRY_URL is not set (no registry server here)")
    try:
        status, _body = _get(f"{REGISTRY_URL.rstrip('/')}/subjects")
    except OSError as exc:
        pytest.fail(f"schema registry {REGISTRY_URL} does not answer: {exc}", pytrace=False)
    if status != 200:
        pytest.fail(f"schema registry {REGISTRY_URL} answered {status}", pytrace=False)
    return REGISTRY_URL.rstrip("/")


@pytest.fixture
def migrated_warehouse(tmp_path: Path) -> Iterator[EmbeddedWarehouse]:
    """The real embedded engine on a fresh directory, with every migration applied."""
    warehouse = EmbeddedWarehouse(tmp_path / "migrated-wh", "streams")
    migrate(warehouse)
    yield warehouse
    warehouse.close()
