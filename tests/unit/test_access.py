"""Roles, keys, justification and the CLI's compact argument forms (pure parts)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from streams.errors import UserError
from streams.search.access import (
    KEY_PREFIX,
    PERMISSIONS,
    Permission,
    PermissionDenied,
    Principal,
    Role,
    checked_user_name,
    key_hash,
    new_key,
)
from streams.search.audit import AuditQuery, Justification
from streams.search_cli import parse_area, parse_area_set


def test_duties_are_separated() -> None:
    may = {role: PERMISSIONS[role] for role in Role}
    assert Permission.SEARCH in may[Role.INVESTIGATOR]
    assert Permission.WATCHLIST not in may[Role.INVESTIGATOR]
    assert {Permission.SEARCH, Permission.WATCHLIST} <= may[Role.SUPERVISOR]
    # Auditors read the trail and nothing else; admins manage keys but see no data.
    assert may[Role.AUDITOR] == {Permission.AUDIT}
    assert may[Role.ADMIN] == {Permission.USERS}


def test_require_names_the_roles_that_would_do() -> None:
    Principal("ann", Role.INVESTIGATOR).require(Permission.SEARCH)
    with pytest.raises(PermissionDenied, match="investigator or supervisor"):
        Principal("root", Role.ADMIN).require(Permission.SEARCH)


def test_keys_are_random_and_only_their_hash_is_kept() -> None:
    first, second = new_key(), new_key()
    assert first.startswith(KEY_PREFIX)
    assert first != second
    assert len(first) > 40
    assert key_hash(first) == key_hash(first)
    assert key_hash(first) != key_hash(second)
    assert first not in key_hash(first)


@pytest.mark.parametrize("name", ["ann", "a.b@unit-7", "X_1"])
def test_user_names_accepted(name: str) -> None:
    assert checked_user_name(name) == name


@pytest.mark.parametrize("name", ["", "-x", "a b", "x'--", "a" * 65])
def test_user_names_refused(name: str) -> None:
    with pytest.raises(UserError):
        checked_user_name(name)


def test_justification_needs_a_reason_in_words_and_a_case() -> None:
    ok = Justification(reason="  stolen   vehicle report ", case_ref="2026-0412")
    assert ok.reason == "stolen vehicle report"
    with pytest.raises(ValidationError, match="reason"):
        Justification(reason="why", case_ref="2026-0412")
    with pytest.raises(ValidationError, match="case number"):
        Justification(reason="stolen vehicle report", case_ref="")
    with pytest.raises(ValidationError, match="case number"):
        Justification(reason="stolen vehicle report", case_ref="x' OR 1=1")


def test_audit_query_refuses_naive_times() -> None:
    with pytest.raises(ValidationError, match="zone"):
        AuditQuery.model_validate({"since": "2026-03-01T00:00:00"})
    assert AuditQuery.model_validate({"since": "2026-03-01T00:00:00Z"}).since is not None


def test_area_forms() -> None:
    assert parse_area("30.27,120.15,500") == {"lat": 30.27, "lon": 120.15, "radius_m": 500.0}
    assert parse_area("30 120;30.1 120;30.1 120.1") == {
        "polygon": [[30.0, 120.0], [30.1, 120.0], [30.1, 120.1]]
    }
    assert parse_area('{"lat": 1, "lon": 2, "radius_m": 3}') == {"lat": 1, "lon": 2, "radius_m": 3}
    with pytest.raises(UserError, match="LAT,LON,RADIUS_M"):
        parse_area("30.27,120.15")
    with pytest.raises(UserError, match="LAT LON"):
        parse_area("30 120;30.1")


def test_area_set_form() -> None:
    got = parse_area_set("30.27,120.15,500@2026-03-01T08:00:00Z/2026-03-01T09:00:00Z")
    assert got == {
        "area": {"lat": 30.27, "lon": 120.15, "radius_m": 500.0},
        "since": "2026-03-01T08:00:00Z",
        "until": "2026-03-01T09:00:00Z",
    }
    with pytest.raises(UserError, match="AREA@SINCE/UNTIL"):
        parse_area_set("30.27,120.15,500")
