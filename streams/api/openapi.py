"""The search API's OpenAPI 3.1 document, built from the same pydantic models the API validates
with, so the spec cannot drift from what the server accepts."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from streams.search.access import Role
from streams.search.audit import AuditQuery, Justification
from streams.search.queries import KINDS

_REF = "#/components/schemas/{model}"

_ERRORS = {
    "400": {
        "description": "Bad parameters, or no reason or case number.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    },
    "401": {
        "description": "No API key, or an unknown or revoked one.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    },
    "403": {
        "description": "The key's role does not allow this.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    },
}


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template=_REF)
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": _REF.format(model=model.__name__)}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _path_parameter(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _operation(
    summary: str,
    operation_id: str,
    answer: str,
    *,
    body: dict[str, Any] | None = None,
    parameters: list[dict[str, Any]] | None = None,
    status: str = "200",
) -> dict[str, Any]:
    """One JSON operation that needs a key (its errors are the shared 400/401/403)."""
    operation: dict[str, Any] = {
        "summary": summary,
        "operationId": operation_id,
        "responses": {
            status: {"description": answer, "content": _json({"type": "object"})},
            **_ERRORS,
        },
    }
    if body is not None:
        operation["requestBody"] = {"required": True, "content": _json(body)}
    if parameters is not None:
        operation["parameters"] = parameters
    return operation


def openapi_spec(version: str) -> dict[str, Any]:
    components: dict[str, Any] = {
        "Error": {
            "type": "object",
            "properties": {"error": {"type": "string"}},
            "required": ["error"],
        },
        "SearchResult": {
            "type": "object",
            "properties": {
                "kind": {"type": "string"},
                "columns": {"type": "array", "items": {"type": "string"}},
                "rows": {"type": "array", "items": {"type": "object"}},
                "count": {"type": "integer"},
            },
            "required": ["kind", "columns", "rows", "count"],
        },
    }
    justification = _schema(Justification, components)
    paths: dict[str, Any] = {}
    for kind, model in sorted(KINDS.items()):
        body = {
            "allOf": [
                justification,
                {
                    "type": "object",
                    "properties": {"query": _schema(model, components)},
                    "required": ["query"],
                },
            ]
        }
        paths[f"/api/v1/search/{kind}"] = {
            "post": {
                "summary": f"{kind} search",
                "description": (model.__doc__ or "").strip()
                + "\n\nNeeds role investigator or supervisor; audited before it answers.",
                "operationId": f"search_{kind.replace('-', '_')}",
                "requestBody": {"required": True, "content": _json(body)},
                "responses": {
                    "200": {
                        "description": "The answer.",
                        "content": _json({"$ref": "#/components/schemas/SearchResult"}),
                    },
                    **_ERRORS,
                },
            }
        }
    audit_params = [
        {
            "name": name,
            "in": "query",
            "required": False,
            "description": field.description or "",
            "schema": {"type": "integer" if name == "limit" else "string"},
        }
        for name, field in AuditQuery.model_fields.items()
    ]
    user_body = {
        "type": "object",
        "properties": {
            "user": {"type": "string"},
            "role": {"type": "string", "enum": [r.value for r in Role]},
        },
        "required": ["user", "role"],
    }
    paths["/api/v1/audit"] = {
        "get": _operation(
            "The search audit trail, newest first (role auditor).",
            "audit_trail",
            "Audit rows.",
            parameters=audit_params,
        )
    }
    paths["/api/v1/users"] = {
        "get": _operation(
            "Users and their keys' state (role admin; key hashes only).", "list_users", "Keys."
        ),
        "post": _operation(
            "Make a key for a user (role admin). The key is in the answer only.",
            "create_user",
            "The new key.",
            body=user_body,
            status="201",
        ),
    }
    paths["/api/v1/users/{user}"] = {
        "delete": _operation(
            "Revoke every key of a user (role admin).",
            "revoke_user",
            "Revoked.",
            parameters=[_path_parameter("user")],
        )
    }
    paths["/api/v1/watchlist"] = {
        "get": _operation("Watchlist entries (role supervisor).", "list_watchlist", "Entries."),
        "post": _operation(
            "Add a watchlist entry (role supervisor): plate (pattern) or embedding and "
            "threshold; reason; priority; case_ref; expires_at.",
            "add_watchlist_entry",
            "Added.",
            body={"type": "object"},
            status="201",
        ),
    }
    paths["/api/v1/watchlist/{entry_id}"] = {
        "delete": _operation(
            "Remove a watchlist entry (role supervisor).",
            "remove_watchlist_entry",
            "Removed.",
            parameters=[_path_parameter("entry_id")],
        )
    }
    for path in ("/healthz", "/readyz"):
        paths[path] = {
            "get": {
                "summary": "Liveness"
                if path == "/healthz"
                else "Readiness: the warehouse answers.",
                "operationId": path.strip("/"),
                "security": [],
                "responses": {"200": {"description": "OK."}, "503": {"description": "Not ready."}},
            }
        }
    paths["/metrics"] = {
        "get": {
            "summary": "Prometheus metrics of this process (text exposition format 0.0.4): "
            "searches by kind and outcome, search latency; with `streams run`, the pipeline's.",
            "operationId": "metrics",
            "security": [],
            "responses": {
                "200": {
                    "description": "The metrics.",
                    "content": {"text/plain; version=0.0.4": {"schema": {"type": "string"}}},
                }
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "streams search API",
            "version": version,
            "description": "Retrospective search over landed events. Every search needs an API "
            "key (Authorization: Bearer KEY), a reason and a case number, and is written to the "
            "audit trail before it answers.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
