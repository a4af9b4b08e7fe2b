"""Accountable search: authenticate, check the role, require a reason and a case, audit, answer.

The CLI and the HTTP API both go through :class:`SearchService`, so no path reaches the query
library without an audit row written first. Order of checks: key, role, justification,
parameters; every refusal after the key is known is audited too (who tried what, and why not).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from streams.errors import UserError
from streams.search.access import KeyStore, Permission, Principal, Role, checked_user_name
from streams.search.audit import AuditQuery, AuditRecord, Justification, Outcome, audit_trail
from streams.search.audit import record as write_audit
from streams.search.queries import KINDS, SearchResult, run_search
from streams.warehouse.base import Warehouse

log = logging.getLogger(__name__)


class JustificationRequired(UserError):
    """A search without a reason or a case number (HTTP 400)."""


class InvalidRequest(UserError):
    """Unknown kind or bad parameters (HTTP 400)."""


def validation_message(exc: ValidationError) -> str:
    """pydantic's errors as one line a user can act on."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "request"
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


class SearchService:
    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        self.keys = KeyStore(warehouse)

    def search(
        self,
        key: str | None,
        kind: str,
        query: Mapping[str, Any],
        *,
        reason: str | None,
        case_ref: str | None,
        client: str = "",
    ) -> SearchResult:
        principal = self.keys.authenticate(key)
        model = KINDS.get(kind)
        if model is None:
            raise InvalidRequest(f"unknown search kind {kind!r}; known: {', '.join(sorted(KINDS))}")
        audit = _Audit(self.warehouse, principal, kind, dict(query), reason, case_ref, client)
        try:
            principal.require(Permission.SEARCH)
        except UserError as exc:
            audit.refused(str(exc))
            raise
        try:
            justification = Justification(reason=reason or "", case_ref=case_ref or "")
        except ValidationError as exc:
            message = validation_message(exc)
            audit.refused(message)
            raise JustificationRequired(f"search refused: {message}") from None
        audit.reason, audit.case_ref = justification.reason, justification.case_ref
        try:
            request = model.model_validate(dict(query))
        except ValidationError as exc:
            message = validation_message(exc)
            audit.refused(message)
            raise InvalidRequest(f"bad {kind} search: {message}") from None
        audit.parameters = request.model_dump(mode="json", exclude_defaults=True)
        try:
            result = run_search(self.warehouse, request)
        except ValueError as exc:
            audit.refused(str(exc))
            raise InvalidRequest(f"bad {kind} search: {exc}") from None
        except Exception as exc:
            audit.write(Outcome.FAILED, 0, str(exc))
            raise
        # The audit row is durable before a single result leaves this process.
        audit.write(Outcome.ANSWERED, len(result.rows), "")
        return result

    def audit_trail(
        self, key: str | None, query: AuditQuery, client: str = ""
    ) -> list[dict[str, Any]]:
        principal = self.keys.authenticate(key)
        principal.require(Permission.AUDIT)
        rows = audit_trail(self.warehouse, query)
        # Reading the trail is itself on the trail.
        write_audit(
            self.warehouse,
            AuditRecord(
                user=principal.user,
                role=principal.role.value,
                kind="audit-trail",
                parameters=query.model_dump(mode="json", exclude_defaults=True),
                reason="audit review",
                case_ref="",
                outcome=Outcome.ANSWERED,
                result_count=len(rows),
                client=client,
            ),
        )
        return rows

    def principal(self, key: str | None, permission: Permission) -> Principal:
        principal = self.keys.authenticate(key)
        principal.require(permission)
        return principal

    def create_user(self, key: str | None, user: str, role: str) -> str:
        admin = self.principal(key, Permission.USERS)
        return self.keys.create(checked_user_name(user), parse_role(role), created_by=admin.user)

    def revoke_user(self, key: str | None, user: str) -> int:
        self.principal(key, Permission.USERS)
        return self.keys.revoke_user(user)

    def list_users(self, key: str | None) -> list[dict[str, Any]]:
        self.principal(key, Permission.USERS)
        return self.keys.list()


def parse_role(text: str) -> Role:
    try:
        return Role(text)
    except ValueError:
        raise UserError(
            f"unknown role {text!r}; roles: {', '.join(r.value for r in Role)}"
        ) from None


class _Audit:
    """The audit row of one search, filled in as the checks pass."""

    def __init__(
        self,
        warehouse: Warehouse,
        principal: Principal,
        kind: str,
        parameters: dict[str, Any],
        reason: str | None,
        case_ref: str | None,
        client: str,
    ) -> None:
        self.warehouse = warehouse
        self.principal = principal
        self.kind = kind
        self.parameters = parameters
        self.reason = reason or ""
        self.case_ref = case_ref or ""
        self.client = client

    def refused(self, detail: str) -> None:
        log.info("search refused for %s: %s", self.principal.user, detail)
        self.write(Outcome.REFUSED, 0, detail)

    def write(self, outcome: Outcome, count: int, detail: str) -> None:
        write_audit(
            self.warehouse,
            AuditRecord(
                user=self.principal.user,
                role=self.principal.role.value,
                kind=self.kind,
                parameters=self.parameters,
                reason=self.reason,
                case_ref=self.case_ref,
                outcome=outcome,
                result_count=count,
                detail=detail,
                client=self.client,
            ),
        )
