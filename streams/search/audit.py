"""The search audit: every search (answered, refused or failed) is recorded before results leave.

The table ``search_audit`` is append-only: nothing here updates or deletes it, and retention is
the only thing that removes rows (``STREAMS_RETENTION_AUDIT_DAYS``).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from streams.search.sql import rfc3339
from streams.warehouse.base import Warehouse

AUDIT_TABLE = "search_audit"
_CASE_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:#-]{1,63}$")
MIN_REASON_CHARS = 8


class Outcome(StrEnum):
    ANSWERED = "answered"
    REFUSED = "refused"
    FAILED = "failed"


class Justification(BaseModel):
    """Why a search is made: a reason in words and the case it serves. Both are required."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: str = Field(
        description=f"Why this search is needed, in words (at least {MIN_REASON_CHARS} characters)."
    )
    case_ref: str = Field(description="The case number the search serves, e.g. 2026-0412.")

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        value = " ".join(value.split())
        if len(value) < MIN_REASON_CHARS:
            raise ValueError(
                f"a reason of at least {MIN_REASON_CHARS} characters is required: "
                "say why the search is needed"
            )
        return value

    @field_validator("case_ref")
    @classmethod
    def _case(cls, value: str) -> str:
        value = value.strip()
        if not _CASE_REF.match(value):
            raise ValueError(
                "a case number is required (2-64 letters, digits and . _ / : # -), e.g. 2026-0412"
            )
        return value


@dataclass(frozen=True)
class AuditRecord:
    user: str
    role: str
    kind: str
    parameters: dict[str, Any]
    reason: str
    case_ref: str
    outcome: Outcome
    result_count: int = 0
    detail: str = ""
    client: str = ""

    def row(self, at: datetime) -> dict[str, Any]:
        return {
            "audit_id": uuid.uuid4().hex,
            "at": at,
            "user": self.user,
            "role": self.role,
            "kind": self.kind,
            "parameters": orjson.dumps(self.parameters, option=orjson.OPT_SORT_KEYS).decode(),
            "reason": self.reason,
            "case_ref": self.case_ref,
            "outcome": self.outcome.value,
            "result_count": self.result_count,
            "detail": self.detail[:2000],
            "client": self.client,
        }


def record(warehouse: Warehouse, entry: AuditRecord) -> None:
    """Write one audit row synchronously; an error here must stop the answer, so it raises."""
    warehouse.insert(AUDIT_TABLE, [entry.row(datetime.now(UTC))])


class AuditQuery(BaseModel):
    """What an auditor asks of the trail."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user: str | None = Field(None, description="Only searches by this user.")
    case_ref: str | None = Field(None, description="Only searches for this case.")
    kind: str | None = Field(None, description="Only searches of this kind.")
    outcome: Outcome | None = Field(None, description="answered, refused or failed.")
    since: datetime | None = Field(None, description="From this time (UTC, inclusive).")
    until: datetime | None = Field(None, description="Until this time (UTC, exclusive).")
    limit: int = Field(100, ge=1, le=10_000, description="Rows at most, newest first.")

    @field_validator("since", "until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("times need a zone, e.g. 2026-03-01T00:00:00Z")
        return value


def audit_trail(warehouse: Warehouse, query: AuditQuery) -> list[dict[str, Any]]:
    """The searches matching ``query``, newest first (parameters decoded)."""
    where = ["1"]
    params: dict[str, Any] = {"limit": query.limit}
    for column in ("user", "case_ref", "kind"):
        value = getattr(query, column)
        if value is not None:
            where.append(f"{column} = {{{column}:String}}")
            params[column] = value
    if query.outcome is not None:
        where.append("outcome = {outcome:String}")
        params["outcome"] = query.outcome.value
    if query.since is not None:
        where.append("at >= {since:DateTime64(3, 'UTC')}")
        params["since"] = query.since
    if query.until is not None:
        where.append("at < {until:DateTime64(3, 'UTC')}")
        params["until"] = query.until
    rows = warehouse.query(
        "SELECT audit_id, at, user, role, kind, parameters, reason, case_ref, outcome, "  # noqa: S608
        f"result_count, detail, client FROM {AUDIT_TABLE} "
        f"WHERE {' AND '.join(where)} ORDER BY at DESC, audit_id LIMIT {{limit:UInt32}}",
        params,
    )
    for row in rows:
        row["parameters"] = orjson.loads(row["parameters"]) if row["parameters"] else {}
        row["at"] = rfc3339(row["at"])
    return rows
