"""Who may do what: roles, their permissions, and API keys hashed at rest.

Roles separate duties: investigators search, supervisors manage watchlists (and search),
auditors read the audit trail and nothing else, admins manage users and keys but neither search
nor read the audit. A key is shown once when it is made; the warehouse keeps its SHA-256 only
(keys are 256 random bits, so a plain hash is enough: there is nothing to guess).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from streams.errors import UserError
from streams.search.sql import stored_time
from streams.warehouse.base import Warehouse

KEY_TABLE = "api_keys"
KEY_PREFIX = "stk_"
# A revoked key stops working within this long on every process that checked it before.
_CACHE_SECONDS = 5.0
_USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class Role(StrEnum):
    INVESTIGATOR = "investigator"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    ADMIN = "admin"


class Permission(StrEnum):
    SEARCH = "search"
    WATCHLIST = "watchlist"
    AUDIT = "audit"
    USERS = "users"


PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.INVESTIGATOR: frozenset({Permission.SEARCH}),
    Role.SUPERVISOR: frozenset({Permission.SEARCH, Permission.WATCHLIST}),
    Role.AUDITOR: frozenset({Permission.AUDIT}),
    Role.ADMIN: frozenset({Permission.USERS}),
}


class AuthenticationError(UserError):
    """No key, or a key that is unknown or revoked (HTTP 401)."""


class PermissionDenied(UserError):
    """The key's role does not allow the action (HTTP 403)."""


@dataclass(frozen=True)
class Principal:
    user: str
    role: Role

    def require(self, permission: Permission) -> None:
        if permission not in PERMISSIONS[self.role]:
            allowed = sorted(r.value for r, p in PERMISSIONS.items() if permission in p)
            raise PermissionDenied(
                f"user {self.user!r} has role {self.role.value}; {permission.value} needs "
                f"role {' or '.join(allowed)}"
            )


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def checked_user_name(name: str) -> str:
    if not _USER_NAME.match(name):
        raise UserError(
            f"user name {name!r}: use 1-64 letters, digits, '.', '_', '@' or '-' "
            "(starting with a letter or digit)"
        )
    return name


class KeyStore:
    """API keys in the warehouse table ``api_keys`` (one row per key; revocation: a newer row)."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def create(self, user: str, role: Role, created_by: str) -> str:
        """Make a key for ``user`` with ``role``; returns the key (it is not stored)."""
        key = new_key()
        now = datetime.now(UTC)
        self.warehouse.insert(
            KEY_TABLE,
            [
                {
                    "key_hash": key_hash(key),
                    "user": checked_user_name(user),
                    "role": role.value,
                    "created_at": now,
                    "created_by": created_by,
                    "revoked": False,
                    "changed_at": now,
                }
            ],
        )
        return key

    def revoke_user(self, user: str) -> int:
        """Revoke every active key of ``user``; returns how many."""
        active = [k for k in self.list() if k["user"] == user and not k["revoked"]]
        if not active:
            return 0
        now = datetime.now(UTC)
        self.warehouse.insert(
            KEY_TABLE,
            [
                {
                    "key_hash": k["key_hash"],
                    "user": k["user"],
                    "role": k["role"],
                    "created_at": stored_time(k["created_at"]),
                    "created_by": k["created_by"],
                    "revoked": True,
                    "changed_at": now,
                }
                for k in active
            ],
        )
        with self._lock:
            self._cache.clear()
        return len(active)

    def list(self) -> list[dict[str, Any]]:
        """Every key's latest state (hash, user, role, created, revoked), by user."""
        return self.warehouse.query(
            "SELECT key_hash, user, role, created_at, created_by, revoked, changed_at "  # noqa: S608
            f"FROM {KEY_TABLE} FINAL ORDER BY user, created_at"
        )

    def has_admin(self) -> bool:
        return any(k["role"] == Role.ADMIN.value and not k["revoked"] for k in self.list())

    def authenticate(self, key: str | None) -> Principal:
        if not key:
            raise AuthenticationError(
                "an API key is required: pass --token or set STREAMS_API_TOKEN "
                "(HTTP: Authorization: Bearer KEY)"
            )
        digest = key_hash(key)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(digest)
        if cached is not None and now - cached[0] < _CACHE_SECONDS:
            principal = cached[1]
        else:
            principal = self._lookup(digest)
            with self._lock:
                self._cache[digest] = (now, principal)
        if principal is None:
            raise AuthenticationError("the API key is unknown or revoked")
        return principal

    def _lookup(self, digest: str) -> Principal | None:
        rows = self.warehouse.query(
            f"SELECT user, role, revoked FROM {KEY_TABLE} FINAL "  # noqa: S608  (constant)
            "WHERE key_hash = {digest:String}",
            {"digest": digest},
        )
        if not rows or rows[0]["revoked"] in (True, 1):
            return None
        return Principal(str(rows[0]["user"]), Role(rows[0]["role"]))
