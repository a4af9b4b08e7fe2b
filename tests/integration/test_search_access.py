"""Keys, roles, reasons and the audit trail around search, on the real embedded engine, and the
same rules over HTTP (the aiohttp API served in this process)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from streams.api.server import build_api
from streams.canonical import PlateCapture
from streams.search.access import AuthenticationError, PermissionDenied, Role
from streams.search.audit import AuditQuery
from streams.search.service import InvalidRequest, JustificationRequired, SearchService
from streams.settings import Settings
from streams.warehouse.embedded import EmbeddedWarehouse
from streams.warehouse.migrations import migrate
from streams.warehouse.rows import rows_by_table

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).parents[2] / "schemas" / "avro" / "examples" / "plate_capture.v2.json"
REASON = {"reason": "stolen vehicle report", "case_ref": "2026-0412"}


@pytest.fixture
def service(tmp_path: Path) -> Iterator[SearchService]:
    warehouse = EmbeddedWarehouse(tmp_path / "wh", "streams")
    migrate(warehouse)
    base = PlateCapture.model_validate_json(EXAMPLE.read_text())
    start = datetime(2026, 3, 1, 8, tzinfo=UTC)
    events = [
        base.model_copy(update={"event_id": f"e{i}", "captured_at": start + timedelta(minutes=i)})
        for i in range(3)
    ]
    for table, rows in rows_by_table(events).items():
        warehouse.insert(table, rows)
    yield SearchService(warehouse)
    warehouse.close()


def _keys(service: SearchService) -> dict[Role, str]:
    return {
        role: service.keys.create(f"user-{role.value}", role, created_by="test") for role in Role
    }


def _trail(service: SearchService, **filters: Any) -> list[dict[str, Any]]:
    return service.warehouse.query(
        "SELECT user, kind, outcome, result_count, reason, case_ref, parameters, detail "
        "FROM search_audit WHERE user = {user:String} ORDER BY at",
        {"user": filters["user"]},
    )


def test_an_answered_search_is_audited_with_its_count(service: SearchService) -> None:
    keys = _keys(service)
    result = service.search(
        keys[Role.INVESTIGATOR], "plate", {"plate": "浙A12345"}, **REASON, client="test"
    )
    assert len(result.rows) == 3
    [row] = _trail(service, user="user-investigator")
    assert row["outcome"] == "answered"
    assert row["result_count"] == 3
    assert (row["reason"], row["case_ref"]) == ("stolen vehicle report", "2026-0412")
    assert json.loads(row["parameters"])["plate"] == "浙A12345"


def test_a_search_without_reason_or_case_is_refused_and_audited(service: SearchService) -> None:
    keys = _keys(service)
    with pytest.raises(JustificationRequired, match="reason"):
        service.search(
            keys[Role.INVESTIGATOR], "plate", {"plate": "浙A12345"}, reason=None, case_ref="2026-1"
        )
    with pytest.raises(JustificationRequired, match="case number"):
        service.search(
            keys[Role.INVESTIGATOR],
            "plate",
            {"plate": "浙A12345"},
            reason="a real reason",
            case_ref=None,
        )
    rows = _trail(service, user="user-investigator")
    assert [r["outcome"] for r in rows] == ["refused", "refused"]
    assert all(r["result_count"] == 0 for r in rows)


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.ADMIN])
def test_roles_without_search_are_refused_and_audited(service: SearchService, role: Role) -> None:
    keys = _keys(service)
    with pytest.raises(PermissionDenied):
        service.search(keys[role], "plate", {"plate": "浙A12345"}, **REASON)
    [row] = _trail(service, user=f"user-{role.value}")
    assert row["outcome"] == "refused"
    assert "investigator or supervisor" in row["detail"]


def test_unknown_and_revoked_keys_are_refused(service: SearchService) -> None:
    keys = _keys(service)
    with pytest.raises(AuthenticationError):
        service.search("stk_not-a-key", "plate", {"plate": "浙A12345"}, **REASON)
    with pytest.raises(AuthenticationError, match="required"):
        service.search(None, "plate", {"plate": "浙A12345"}, **REASON)
    assert service.revoke_user(keys[Role.ADMIN], "user-investigator") == 1
    with pytest.raises(AuthenticationError, match="revoked"):
        service.search(keys[Role.INVESTIGATOR], "plate", {"plate": "浙A12345"}, **REASON)


def test_bad_parameters_are_refused_and_audited(service: SearchService) -> None:
    keys = _keys(service)
    with pytest.raises(InvalidRequest, match="unknown search kind"):
        service.search(keys[Role.INVESTIGATOR], "everything", {}, **REASON)
    with pytest.raises(InvalidRequest):
        service.search(keys[Role.INVESTIGATOR], "plate", {"plate": "浙A1", "limit": -5}, **REASON)
    [row] = _trail(service, user="user-investigator")
    assert row["outcome"] == "refused"


def test_no_answer_leaves_without_its_audit_row(service: SearchService) -> None:
    keys = _keys(service)
    # A real fault: the audit table is away, so the audit insert fails.
    service.warehouse.command("RENAME TABLE search_audit TO search_audit_away")
    try:
        with pytest.raises(Exception, match="search_audit"):
            service.search(keys[Role.INVESTIGATOR], "plate", {"plate": "浙A12345"}, **REASON)
    finally:
        service.warehouse.command("RENAME TABLE search_audit_away TO search_audit")


def test_auditors_read_the_trail_and_their_reading_is_on_it(service: SearchService) -> None:
    keys = _keys(service)
    service.search(keys[Role.SUPERVISOR], "plate", {"plate": "浙A12345"}, **REASON)
    service.search(
        keys[Role.INVESTIGATOR],
        "plate",
        {"plate": "浙A12345"},
        reason="another case here",
        case_ref="2026-9",
    )
    rows = service.audit_trail(keys[Role.AUDITOR], AuditQuery(case_ref="2026-0412"))
    assert [(r["user"], r["case_ref"]) for r in rows] == [("user-supervisor", "2026-0412")]
    assert rows[0]["at"].endswith("Z")
    with pytest.raises(PermissionDenied):
        service.audit_trail(keys[Role.INVESTIGATOR], AuditQuery())
    [read] = _trail(service, user="user-auditor")
    assert (read["kind"], read["result_count"]) == ("audit-trail", 1)


def test_the_http_api_applies_the_same_rules(service: SearchService) -> None:
    keys = _keys(service)
    asyncio.run(_http_checks(service, keys))


async def _http_checks(service: SearchService, keys: dict[Role, str]) -> None:
    app = build_api(service, Settings())
    async with TestClient(TestServer(app)) as client:

        async def post(path: str, body: Any, key: str | None) -> tuple[int, Any]:
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            response = await client.post(path, json=body, headers=headers)
            return response.status, await response.json()

        body = {**REASON, "query": {"plate": "浙A12345"}}
        assert (await post("/api/v1/search/plate", body, None))[0] == 401
        assert (await post("/api/v1/search/plate", body, keys[Role.AUDITOR]))[0] == 403
        status, answer = await post(
            "/api/v1/search/plate", {"query": {"plate": "浙A12345"}}, keys[Role.INVESTIGATOR]
        )
        assert status == 400
        assert "reason" in answer["error"]
        status, answer = await post("/api/v1/search/plate", body, keys[Role.INVESTIGATOR])
        assert status == 200
        assert answer["count"] == 3
        assert {r["event_id"] for r in answer["rows"]} == {"e0", "e1", "e2"}

        status, made = await post(
            "/api/v1/users", {"user": "newbie", "role": "investigator"}, keys[Role.ADMIN]
        )
        assert status == 201
        assert (await post("/api/v1/search/plate", body, made["key"]))[0] == 200
        assert (await post("/api/v1/users", {"user": "x", "role": "admin"}, made["key"]))[0] == 403

        response = await client.get(
            "/api/v1/audit?user=newbie", headers={"Authorization": f"Bearer {keys[Role.AUDITOR]}"}
        )
        trail = await response.json()
        assert response.status == 200
        assert trail["rows"][0]["user"] == "newbie"

        spec = await (await client.get("/openapi.json")).json()
        from streams.search.queries import KINDS

        for kind, model in KINDS.items():
            assert f"/api/v1/search/{kind}" in spec["paths"]
            assert model.__name__ in spec["components"]["schemas"]
        _assert_refs_resolve(spec, spec)


def _assert_refs_resolve(node: Any, spec: dict[str, Any]) -> None:
    """Every $ref in the spec points at a component that exists."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref.removeprefix("#/components/schemas/")
            assert name in spec["components"]["schemas"], ref
        for value in node.values():
            _assert_refs_resolve(value, spec)
    elif isinstance(node, list):
        for value in node:
            _assert_refs_resolve(value, spec)
