"""``streams search``, ``streams audit`` and ``streams users``: through the search API when one
is running (``streams run`` holds the embedded warehouse), otherwise on the warehouse directly.

Either way the same :class:`~streams.search.service.SearchService` checks the key, the role and
the reason, and writes the audit row before the answer.
"""

from __future__ import annotations

import argparse
import json
import sys
import types
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from streams.errors import UserError
from streams.search.access import AuthenticationError, PermissionDenied
from streams.search.audit import AuditQuery
from streams.settings import Settings

if TYPE_CHECKING:
    from streams.search.service import SearchService

_CELL_WIDTH = 40


# -- reaching the service -------------------------------------------------------------------


class ApiClient:
    """JSON over HTTP to a running search API (stdlib only: the CLI stays light)."""

    def __init__(self, base_url: str, key: str | None) -> None:
        self.base_url = base_url.rstrip("/")
        self.key = key

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        # The base URL is the operator's own setting (http on loopback by default).
        request = urllib.request.Request(self.base_url + path, data=data, method=method)  # noqa: S310
        request.add_header("Content-Type", "application/json")
        request.add_header("User-Agent", "streams-cli")
        if self.key:
            request.add_header("Authorization", f"Bearer {self.key}")
        try:
            with urllib.request.urlopen(request, timeout=300) as response:  # noqa: S310
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            message = _error_text(exc)
            if exc.code == 401:
                raise AuthenticationError(message) from None
            if exc.code == 403:
                raise PermissionDenied(message) from None
            raise UserError(f"search API ({exc.code}): {message}") from None


def _error_text(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read()).get("error", exc.reason))
    except (ValueError, AttributeError):
        return str(exc.reason)


def api_url(settings: Settings) -> str:
    return settings.api_url or f"http://{settings.api_host}:{settings.api_port}"


def running_api(settings: Settings) -> str | None:
    """The API's base URL if one answers its health check, else None."""
    url = api_url(settings)
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=2) as response:  # noqa: S310
            return url if response.status == 200 else None
    except (OSError, ValueError):
        return None


@contextmanager
def direct_service(settings: Settings) -> Iterator[SearchService]:
    """A SearchService on the warehouse opened in this process (no API running)."""
    from streams.search.service import SearchService
    from streams.warehouse import open_warehouse
    from streams.warehouse.retention import bring_up_to_date

    warehouse = open_warehouse(settings)
    try:
        bring_up_to_date(warehouse, settings)
        yield SearchService(warehouse)
    finally:
        warehouse.close()


def _key(args: argparse.Namespace, settings: Settings) -> str | None:
    if args.token:
        return str(args.token)
    return settings.api_token.get_secret_value() if settings.api_token else None


# -- search ---------------------------------------------------------------------------------


def add_search_parsers(search: argparse.ArgumentParser) -> None:
    from streams.search.queries import KINDS

    kinds = search.add_subparsers(dest="kind", required=True, metavar="KIND")
    for kind, model in sorted(KINDS.items()):
        doc = " ".join((model.__doc__ or kind).split())
        parser = kinds.add_parser(kind, help=doc, description=doc)
        _justification_arguments(parser)
        _model_arguments(parser, model)
        parser.add_argument("--json", action="store_true", help="print rows as JSON lines")


def _justification_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reason", help="why the search is needed (required; audited)")
    parser.add_argument("--case", help="the case number it serves (required; audited)")
    parser.add_argument("--token", help="API key (default: STREAMS_API_TOKEN)")


def _model_arguments(parser: argparse.ArgumentParser, model: type[BaseModel]) -> None:
    if "plate" in model.model_fields:
        parser.add_argument("plate_arg", nargs="?", metavar="PLATE", help="the plate (or --plate)")
    for name, field in model.model_fields.items():
        base, many = _shape(field.annotation)
        flag = "--" + name.replace("_", "-")
        help_text = (field.description or "") + _format_hint(base, many)
        if base is bool:
            parser.add_argument(flag, dest=name, action="store_true", help=help_text)
        elif many and isinstance(base, type) and issubclass(base, BaseModel):
            parser.add_argument(flag, dest=name, action="append", help=help_text)
        elif many and base in (float, int):
            parser.add_argument(flag, dest=name, help=help_text)
        elif many:
            parser.add_argument(flag, dest=name, nargs="+", help=help_text)
        else:
            parser.add_argument(flag, dest=name, help=help_text)


def _shape(annotation: Any) -> tuple[Any, bool]:
    """(base type, is a list) of a field annotation, Optional removed."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        return _shape(inner[0]) if len(inner) == 1 else (str, False)
    if origin is list:
        return _shape(get_args(annotation)[0])[0], True
    if origin is Literal:
        return str, False
    return annotation, False


def _format_hint(base: Any, many: bool) -> str:
    if isinstance(base, type) and issubclass(base, BaseModel):
        fields = base.model_fields
        if "radius_m" in fields:
            return " (LAT,LON,RADIUS_M or 'LAT LON;LAT LON;LAT LON' for a polygon)"
        if "area" in fields:
            return " (AREA@SINCE/UNTIL, repeat for each set)"
        return " (JSON)"
    if many and base in (float, int):
        return " (comma separated, or @FILE with a JSON array)"
    if getattr(base, "__name__", "") == "datetime":
        return " (ISO 8601 with a zone, e.g. 2026-03-01T08:00:00Z)"
    return ""


def parse_area(text: str) -> dict[str, Any]:
    """``LAT,LON,RADIUS_M`` (circle), ``LAT LON;LAT LON;...`` (polygon), or a JSON object."""
    text = text.strip()
    if text.startswith("{"):
        value = json.loads(text)
        if not isinstance(value, dict):
            raise UserError("an area in JSON must be an object")
        return value
    if ";" in text:
        points = []
        for pair in text.split(";"):
            parts = pair.replace(",", " ").split()
            if len(parts) != 2:
                raise UserError(f"polygon point {pair!r}: give 'LAT LON'")
            points.append([float(parts[0]), float(parts[1])])
        return {"polygon": points}
    parts = text.split(",")
    if len(parts) != 3:
        raise UserError(f"area {text!r}: give LAT,LON,RADIUS_M or 'LAT LON;LAT LON;LAT LON'")
    lat, lon, radius = (float(p) for p in parts)
    return {"lat": lat, "lon": lon, "radius_m": radius}


def parse_area_set(text: str) -> dict[str, Any]:
    """``AREA@SINCE/UNTIL`` (or a JSON object): one set of a collision search."""
    if text.strip().startswith("{"):
        value = json.loads(text)
        if not isinstance(value, dict):
            raise UserError("a set in JSON must be an object")
        return value
    area, at, span = text.partition("@")
    since, slash, until = span.partition("/")
    if not at or not slash:
        raise UserError(f"set {text!r}: give AREA@SINCE/UNTIL")
    return {"area": parse_area(area), "since": since.strip(), "until": until.strip()}


def _numbers(text: str) -> list[float]:
    if text.startswith("@"):
        with open(text[1:], encoding="utf-8") as handle:
            values = json.load(handle)
        if not isinstance(values, list):
            raise UserError(f"{text[1:]} must hold a JSON array of numbers")
        return [float(v) for v in values]
    return [float(v) for v in text.split(",") if v.strip()]


def query_from_args(args: argparse.Namespace, model: type[BaseModel]) -> dict[str, Any]:
    """The search parameters given on the command line, as the API's JSON would carry them."""
    query: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        value = getattr(args, name, None)
        if value is None or value is False:
            continue
        base, many = _shape(field.annotation)
        if isinstance(base, type) and issubclass(base, BaseModel):
            parse = parse_area if "radius_m" in base.model_fields else parse_area_set
            query[name] = [parse(v) for v in value] if many else parse(value)
        elif many and base in (float, int):
            query[name] = _numbers(value)
        elif many:
            query[name] = [part for v in value for part in v.split(",") if part]
        else:
            query[name] = value
    positional = getattr(args, "plate_arg", None)
    if positional:
        query["plate"] = positional
    return query


def run_search_command(args: argparse.Namespace, settings: Settings) -> int:
    from streams.search.queries import KINDS

    query = query_from_args(args, KINDS[args.kind])
    key = _key(args, settings)
    url = running_api(settings)
    if url is not None:
        body = {"reason": args.reason, "case_ref": args.case, "query": query}
        answer = ApiClient(url, key).call("POST", f"/api/v1/search/{args.kind}", body)
        columns, rows = answer["columns"], answer["rows"]
    else:
        with direct_service(settings) as service:
            result = service.search(
                key, args.kind, query, reason=args.reason, case_ref=args.case, client="cli"
            )
        columns, rows = result.columns, result.rows
    _print_rows(columns, rows, args.json)
    if not args.json:
        print(f"{len(rows)} row(s); search recorded in the audit trail", file=sys.stderr)
    return 0


def _print_rows(columns: list[str], rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        for row in rows:
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif rows:
        print(format_rows(columns, rows))


def format_rows(columns: list[str], rows: list[dict[str, Any]]) -> str:
    """Rows as an aligned text table (long values cut), for people."""
    if not rows:
        return "  (none)"
    columns = columns or list(rows[0])
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    for line in cells:
        lines.append("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        text = "-"
    elif isinstance(value, list | dict):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = str(value)
    return text if len(text) <= _CELL_WIDTH else text[: _CELL_WIDTH - 1] + "…"


# -- audit and users ------------------------------------------------------------------------


def add_audit_arguments(parser: argparse.ArgumentParser) -> None:
    _model_arguments(parser, AuditQuery)
    parser.add_argument("--token", help="an auditor's API key (default: STREAMS_API_TOKEN)")
    parser.add_argument("--json", action="store_true", help="print rows as JSON lines")


def run_audit_command(args: argparse.Namespace, settings: Settings) -> int:
    raw = query_from_args(args, AuditQuery)
    key = _key(args, settings)
    url = running_api(settings)
    if url is not None:
        from urllib.parse import urlencode

        answer = ApiClient(url, key).call("GET", "/api/v1/audit?" + urlencode(raw))
        rows = answer["rows"]
    else:
        query = AuditQuery.model_validate(raw)
        with direct_service(settings) as service:
            rows = service.audit_trail(key, query, client="cli")
    columns = ["at", "user", "role", "kind", "outcome", "result_count", "case_ref", "reason"]
    _print_rows(columns, rows, args.json)
    return 0


def run_users_command(args: argparse.Namespace, settings: Settings) -> int:
    """Admin keys go through the API when it runs; on the warehouse directly, whoever can open
    it may make keys (that is how the first admin is made)."""
    key = _key(args, settings)
    url = running_api(settings)
    if url is not None:
        client = ApiClient(url, key)
        if args.action == "add":
            answer = client.call("POST", "/api/v1/users", {"user": args.user, "role": args.role})
            _print_key(answer["user"], answer["role"], answer["key"])
        elif args.action == "revoke":
            answer = client.call("DELETE", f"/api/v1/users/{args.user}")
            print(f"revoked {answer['revoked_keys']} key(s) of {args.user}")
        else:
            _print_keys(client.call("GET", "/api/v1/users")["keys"])
        return 0
    from streams.search.service import parse_role

    with direct_service(settings) as service:
        keys = service.keys
        if args.action == "add":
            role = parse_role(args.role)
            _print_key(args.user, role.value, keys.create(args.user, role, created_by="cli"))
        elif args.action == "revoke":
            print(f"revoked {keys.revoke_user(args.user)} key(s) of {args.user}")
        else:
            _print_keys(keys.list())
    return 0


def _print_key(user: str, role: str, key: str) -> None:
    print(f"key for {user} ({role}); shown once, only its hash is kept:")
    print(key)


def _print_keys(rows: list[dict[str, Any]]) -> None:
    columns = ["user", "role", "revoked", "created_at", "created_by", "key_hash"]
    _print_rows(columns, [{**r, "key_hash": str(r["key_hash"])[:12]} for r in rows], False)
