"""The server backend against a real ClickHouse server named by STREAMS_TEST_CLICKHOUSE_URL.

No ClickHouse server can run on the development machines (Debian's package is from 2018), so
these tests are reported as skipped unless the variable points at one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from streams.warehouse.migrations import migrate
from streams.warehouse.server import ServerWarehouse

URL = os.environ.get("STREAMS_TEST_CLICKHOUSE_URL")
pytestmark = [
    pytest.mark.clickhouse_server,
    pytest.mark.skipif(URL is None, reason="STREAMS_TEST_CLICKHOUSE_URL is not set"),
]


@pytest.fixture
def server() -> Iterator[ServerWarehouse]:
    assert URL is not None
    wh = ServerWarehouse(URL)
    database = f"streams_test_{uuid.uuid4().hex[:8]}"
    wh.command(f"CREATE DATABASE {database}")
    wh.close()
    base = URL.rsplit("/", 1)[0]
    wh = ServerWarehouse(f"{base}/{database}")
    yield wh
    wh.command(f"DROP DATABASE {database}")
    wh.close()


def test_server_round_trip_with_bound_parameters(server: ServerWarehouse) -> None:
    migrate(server)
    at = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
    row = {
        "source": "gat1400",
        "device_key": "d",
        "topic": "raw.gat1400",
        "partition": 0,
        "offset": 7,
        "received_at": at,
        "payload": "{}",
        "payload_size": 2,
    }
    server.insert("raw_captures", [row], dedup_token="x")
    server.insert("raw_captures", [row], dedup_token="x")
    rows = server.query(
        "SELECT count() AS n FROM raw_captures WHERE source = {s:String}", {"s": "gat1400"}
    )
    assert rows == [{"n": 1}]
