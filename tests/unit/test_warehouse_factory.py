from __future__ import annotations

import pytest

from streams.errors import WarehouseError
from streams.settings import Settings
from streams.warehouse import open_warehouse
from streams.warehouse.base import checked_identifier
from streams.warehouse.server import redact_url


def test_redact_url_hides_password() -> None:
    assert redact_url("clickhouse://u:secret@h:9000/db") == "clickhouse://u:***@h:9000/db"
    assert redact_url("clickhouse://h:9000/db") == "clickhouse://h:9000/db"


def test_identifiers_are_checked() -> None:
    assert checked_identifier("streams.raw_captures") == "streams.raw_captures"
    with pytest.raises(ValueError, match="identifier"):
        checked_identifier("t; DROP TABLE x")


def test_unreachable_server_is_a_clear_error() -> None:
    settings = Settings(warehouse_url="clickhouse://default@127.0.0.1:1/streams")
    with pytest.raises(WarehouseError, match=r"cannot reach ClickHouse at clickhouse://"):
        open_warehouse(settings)
