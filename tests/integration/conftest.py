"""Integration fixtures: a migrated embedded warehouse, and a real Confluent-compatible schema
registry.

The registry is the one ``STREAMS_TEST_SCHEMA_REGISTRY_URL`` names (it must answer, or the tests
that need it fail), else the local one (``streams.localregistry``: Apicurio Registry built from
Maven Central), started for the session on a port of its own and stopped after it.
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

from streams.local_process import running_pid, stop_process
from streams.localkafka import free_port
from streams.localregistry import RUNNER, LocalRegistry, LocalRegistryError
from streams.warehouse.embedded import EmbeddedWarehouse
from streams.warehouse.migrations import migrate

REGISTRY_URL = os.environ.get("STREAMS_TEST_SCHEMA_REGISTRY_URL")
ROOT = Path(__file__).resolve().parents[2]


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (test registry)
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None


@pytest.fixture(scope="session")
def schema_registry_url() -> Iterator[str]:
    if REGISTRY_URL is None:
        registry = LocalRegistry(ROOT / ".local" / "test-registry", port=free_port())
        left = running_pid(registry.pid_file, str(RUNNER))  # by a session that was killed
        if left is not None:
            stop_process(left, timeout=30)
        try:
            registry.up()
        except LocalRegistryError as exc:
            pytest.fail(f"the test schema registry did not start: {exc}", pytrace=False)
        yield registry.url
        registry.down()
        return
    try:
        status, _body = _get(f"{REGISTRY_URL.rstrip('/')}/subjects")
    except OSError as exc:
        pytest.fail(f"schema registry {REGISTRY_URL} does not answer: {exc}", pytrace=False)
    if status != 200:
        pytest.fail(f"schema registry {REGISTRY_URL} answered {status}", pytrace=False)
    yield REGISTRY_URL.rstrip("/")


@pytest.fixture
def migrated_warehouse(tmp_path: Path) -> Iterator[EmbeddedWarehouse]:
    """The real embedded engine on a fresh directory, with every migration applied."""
    warehouse = EmbeddedWarehouse(tmp_path / "migrated-wh", "streams")
    migrate(warehouse)
    yield warehouse
    warehouse.close()
