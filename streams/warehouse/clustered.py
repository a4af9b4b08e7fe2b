"""The clustered form of the warehouse schema, derived from the same frozen migrations.

On a cluster every MergeTree table of a migration becomes ``<name>_local``, a Replicated table
created on every node (``ON CLUSTER``), plus a Distributed table under the single-node name over
it: the sinks and the searches use the same names on one node and on a cluster. Small tables
every node needs whole are replicated to every node instead, under their own name. Materialized
views read the ``_local`` sources, so a row fires its views once, on the replica that received it.

The transformer knows the statement shapes the migrations use (CREATE TABLE, CREATE MATERIALIZED
VIEW ... TO, ALTER TABLE on columns, indexes, TTL and settings, INSERT ... SELECT between
sharded tables that backfills a new table, and the steps of a rebuild: EXCHANGE TABLES, ATTACH
PARTITION ALL FROM, DROP TABLE ... SYNC, OPTIMIZE TABLE ... FINAL); anything else raises
:class:`ClusteredSchemaError`, so a new migration cannot slip past the clustered variant.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

from streams.errors import ConfigError, WarehouseError
from streams.settings import CLUSTER_NAME
from streams.warehouse.base import checked_identifier

# The Altinity operator defines the macros {cluster}, {shard} and {replica} on every node; the
# installation's cluster is {cluster}.
DEFAULT_CLUSTER: Final = "{cluster}"
LOCAL_SUFFIX: Final = "_local"


@dataclass(frozen=True)
class Sharding:
    key: str  # the Distributed table's sharding key
    reason: str


# Rows that must collapse together (a ReplacingMergeTree sort key, read with FINAL or deduplicated
# by id) hash to one shard: a redelivered row always lands beside its first copy.
SHARDED: Final[dict[str, Sharding]] = {
    "raw_captures": Sharding(
        "cityHash64(topic, partition)",
        "a Kafka partition's payloads stay on one shard in offset order (the sort key); a "
        "redelivered batch replaces itself there and lands as one part, not one per shard",
    ),
    "plate_captures": Sharding(
        "if(plate_number = '', cityHash64(event_id), cityHash64(plate_number))",
        "a plate's passes on one shard, so its duplicates collapse together; unreadable plates "
        "('') spread by event id instead of piling onto one shard",
    ),
    "plate_days": Sharding(
        "cityHash64(plate_number)",
        "beside the plate's passes (only readable plates are listed), so its view writes the "
        "local table and a backfill groups each shard's plates on that shard",
    ),
    "plate_names": Sharding(
        "cityHash64(plate_number)",
        "beside the plate's passes and days, like plate_days: its view and its backfill write "
        "each shard's plates on that shard",
    ),
    "face_captures": Sharding(
        "cityHash64(device_id)", "the sort key starts with the device: a device's rows together"
    ),
    "face_vectors": Sharding(
        "cityHash64(event_id)",
        "even spread of the vectors (each shard's HNSW index the same size); a duplicate has "
        "the same event id",
    ),
    "alarms": Sharding(
        "cityHash64(device_id)", "the sort key starts with the device: a device's rows together"
    ),
    "alerts": Sharding("cityHash64(alert_id)", "FINAL collapses an alert stored twice per id"),
    "correlations": Sharding(
        "cityHash64(correlation_id)", "FINAL collapses a correlation stored twice per id"
    ),
    "dead_letters": Sharding(
        "cityHash64(dead_letter_id)", "a dead letter stored twice collapses per id"
    ),
    "device_hourly": Sharding(
        "cityHash64(device_id)",
        "filled by views on each shard; the search sums across shards (the key serves direct "
        "inserts only)",
    ),
    "device_positions": Sharding(
        "cityHash64(device_id)",
        "the views write through the Distributed table: a device's positions meet on one "
        "shard, where FINAL keeps the newest",
    ),
}

# Replicated to every node of every shard (one Keeper path without {shard}), no Distributed table.
EVERYWHERE: Final[dict[str, str]] = {
    "schema_migrations": "any node tells which migrations were applied",
    "api_keys": "every node authenticates on its own; FINAL sees every revocation",
    "search_audit": "the append-only trail, whole on any node an auditor reads",
}

# Tables a migration builds to take another's place, with settings the engine cannot alter
# (granule size): on a cluster only their local tables exist, one per shard, and they swap names
# with the local tables they replace. Keeper keeps the path they were created under.
REBUILDS: Final[dict[str, str]] = {
    "plate_captures_0005": "plate_captures",
}

# View targets written through their Distributed table rather than the local one: a view fires on
# the shard that received the source row, but these rows must collapse per device on one shard.
ROUTED_VIEW_TARGETS: Final = frozenset({"device_positions"})

# Settings of non-replicated MergeTree tables and their replicated counterparts.
_REPLICATED_SETTINGS: Final = {
    "non_replicated_deduplication_window": "replicated_deduplication_window"
}


class ClusteredSchemaError(WarehouseError):
    """A migration statement has no known clustered form."""


class _Derived(NamedTuple):
    note: str  # comment lines for the rendered schema
    sql: str


def checked_cluster(name: str) -> str:
    """The cluster name goes into SQL text: a plain name or a ``{macro}`` only."""
    if not CLUSTER_NAME.match(name):
        raise ConfigError(f"{name!r} is not a cluster name (letters, digits, _ . -) or a {{macro}}")
    return name


def checked_database(name: str) -> str:
    """The database qualifies every name of the clustered DDL: a plain identifier only."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ConfigError(f"the clustered schema needs a plain database name, not {name!r}")
    return name


def local_table(table: str) -> str:
    """Where a table's rows are stored on each node."""
    return table + LOCAL_SUFFIX if table in SHARDED or table in REBUILDS else table


def alter_target(table: str, cluster: str | None) -> str:
    """What follows ``ALTER TABLE`` to change how ``table`` stores rows (TTL, settings).

    A sharded table's local tables change on every shard (ON CLUSTER). A table replicated
    everywhere changes on this node and Keeper carries it to the others: ON CLUSTER would run
    the same ALTER once per shard on one replicated table.
    """
    checked_identifier(table)
    if cluster is None or table in EVERYWHERE:
        return table
    if table not in SHARDED:
        raise ClusteredSchemaError(f"table {table} has no clustered form in {__name__}")
    return f"{local_table(table)} ON CLUSTER '{checked_cluster(cluster)}'"


def clustered_statements(
    statements: Sequence[str],
    cluster: str = DEFAULT_CLUSTER,
    database: str | None = None,
    *,
    origin: str = "",
) -> list[str]:
    """The statements a cluster runs for one migration's ``statements``, in order.

    ``database`` qualifies every name (what ``streams migrate`` applies: ON CLUSTER DDL on
    some servers resolves unqualified names in each node's default database); without it names
    stay unqualified and Distributed tables use ``currentDatabase()``.
    """
    return [d.sql for s in statements for d in _derive(s, cluster, database, origin)]


def render_clustered_schema(
    parts: Sequence[tuple[str, Sequence[str]]],
    cluster: str = DEFAULT_CLUSTER,
    database: str | None = None,
) -> str:
    """The clustered schema as one SQL file: per (title, statements) part, each source
    statement's comments then its clustered statements, each ending in ``;``."""
    lines = [
        "-- GENERATED FILE, do not edit: the clustered form of the warehouse schema, derived",
        "-- by streams/warehouse/clustered.py from the migrations schemas/clickhouse/NNNN_*.sql.",
        "-- Regenerate with:",
        "--   streams migrate --print-clustered > schemas/clickhouse/clustered/schema.sql",
        f"-- Cluster '{cluster}'"
        + (
            f", database {database}."
            if database
            else "; names unqualified (streams migrate qualifies them with its database)."
        ),
        "-- See docs/clickhouse-cluster.md.",
    ]
    for title, statements in parts:
        lines += ["", f"-- ==== {title} ===="]
        for statement in statements:
            comment, _code = _split_comment(statement)
            lines += ["", *comment] if comment else [""]
            for derived in _derive(statement, cluster, database, title):
                lines += [f"-- {note}" for note in textwrap.wrap(derived.note, 96)]
                lines.append(derived.sql + ";")
    return "\n".join(lines) + "\n"


# --- one statement -------------------------------------------------------------------------

_FLAGS = re.IGNORECASE | re.ASCII
_CREATE_TABLE = re.compile(r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>\w+)\s*\(", _FLAGS)
_ENGINE = re.compile(r"\s*ENGINE\s*=\s*(?P<engine>\w+)", _FLAGS)
_MERGE_TREE = re.compile(r"(?P<family>\w*)MergeTree", _FLAGS)
_CREATE_VIEW = re.compile(
    r"CREATE\s+MATERIALIZED\s+VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>\w+)\s+"
    r"TO\s+(?P<target>\w+)\s+AS\s+(?=SELECT\b)",
    _FLAGS,
)
_QUERY_UNSUPPORTED = re.compile(r"\b(?:JOIN|GLOBAL|UNION)\b|\bIN\s*\(\s*SELECT\b", _FLAGS)
_FROM = re.compile(r"\bFROM\b\s*(?P<table>\w+)?(?P<after>\s*[.(])?", _FLAGS)
_ALTER = re.compile(r"ALTER\s+TABLE\s+(?P<name>\w+)\s+(?!ON\s+CLUSTER\b)(?=\S)", _FLAGS)
_COLUMN_COMMAND = re.compile(r"(?:ADD|DROP|MODIFY|COMMENT)\s+COLUMN\b", _FLAGS)
_STORAGE_COMMAND = re.compile(
    r"(?:(?:ADD|DROP|MATERIALIZE|CLEAR)\s+(?:INDEX|PROJECTION)|MODIFY\s+TTL|REMOVE\s+TTL)\b", _FLAGS
)
_SETTINGS = re.compile(r"\bSETTINGS\b", _FLAGS)
_MODIFY_SETTING = re.compile(r"MODIFY\s+SETTING\b", _FLAGS)
_INSERT = re.compile(r"INSERT\s+INTO\s+(?P<name>\w+)\s+(?=SELECT\b)", _FLAGS)
_ATTACH_ALL = re.compile(r"ATTACH\s+PARTITION\s+ALL\s+FROM\s+(?P<source>\w+)", _FLAGS)
_EXCHANGE = re.compile(r"EXCHANGE\s+TABLES\s+(?P<a>\w+)\s+AND\s+(?P<b>\w+)", _FLAGS)
_DROP = re.compile(r"DROP\s+TABLE\s+(?P<name>\w+)\s+SYNC", _FLAGS)
_OPTIMIZE = re.compile(r"OPTIMIZE\s+TABLE\s+(?P<name>\w+)\s+FINAL", _FLAGS)
# Each shard selects from its own part of the source and inserts into its own part of the
# target: no rows travel through the node that runs the statement.
_SHARD_LOCAL_INSERT: Final = "parallel_distributed_insert_select = 2"


def _derive(statement: str, cluster: str, database: str | None, origin: str) -> list[_Derived]:
    checked_cluster(cluster)
    if database is not None:
        checked_database(database)
    _comment, code = _split_comment(statement)
    try:
        masked = _mask(code)
        if re.match(r"CREATE\s+TABLE\b", masked, _FLAGS):
            return _table(code, masked, cluster, database)
        if re.match(r"CREATE\s+MATERIALIZED\s+VIEW\b", masked, _FLAGS):
            return [_view(code, masked, cluster, database)]
        if re.match(r"ALTER\s+TABLE\b", masked, _FLAGS):
            return _alter(code, masked, cluster, database)
        if re.match(r"INSERT\s+INTO\b", masked, _FLAGS):
            return [_insert(code, masked, database)]
        if re.match(r"(?:EXCHANGE|DROP|OPTIMIZE)\b", masked, _FLAGS):
            return [_rebuild_step(masked, cluster, database)]
        raise ClusteredSchemaError(
            "only CREATE TABLE, CREATE MATERIALIZED VIEW, ALTER TABLE, INSERT ... SELECT and "
            "the steps of a rebuild"
        )
    except ClusteredSchemaError as exc:
        where = f" in {origin}" if origin else ""
        first = code.splitlines()[0] if code else ""
        raise ClusteredSchemaError(
            f"no clustered form for the statement{where} starting {first!r}: {exc}. Teach "
            "streams/warehouse/clustered.py this statement (see docs/clickhouse-cluster.md)"
        ) from None


def _table(code: str, masked: str, cluster: str, database: str | None) -> list[_Derived]:
    head = _CREATE_TABLE.match(masked)
    if head is None:
        raise ClusteredSchemaError("expected CREATE TABLE [IF NOT EXISTS] name (columns) ENGINE")
    name = head["name"]
    if name not in SHARDED and name not in EVERYWHERE and name not in REBUILDS:
        raise ClusteredSchemaError(
            f"new table {name}: give it a sharding key in SHARDED or list it in EVERYWHERE"
        )
    columns_end = _closing(masked, head.end() - 1)
    engine = _ENGINE.match(masked, columns_end + 1)
    family = _MERGE_TREE.fullmatch(engine["engine"]) if engine else None
    if engine is None or family is None or family["family"].startswith(("Replicated", "Shared")):
        raise ClusteredSchemaError("the engine must be a non-replicated *MergeTree")
    args, tail_start = "", engine.end()
    bracket = len(masked) - len(masked[tail_start:].lstrip())
    if masked.startswith("(", bracket):
        args_end = _closing(masked, bracket)
        args, tail_start = code[bracket + 1 : args_end].strip(), args_end + 1
    stored = local_table(name)
    shard = "all" if name in EVERYWHERE else "{shard}"
    replicated = (
        f"ENGINE = Replicated{family['family']}MergeTree("
        f"'/clickhouse/tables/{shard}/{{database}}/{stored}', '{{replica}}'"
        + (f", {args})" if args else ")")
    )
    local = (
        code[: head.start("name")]
        + f"{_name(stored, database)} ON CLUSTER '{cluster}'"
        + code[head.end("name") : columns_end + 1]
        + "\n"
        + replicated
        + _replicated_settings(code, masked, tail_start)
    )
    if name in EVERYWHERE:
        return [_Derived(f"{name}: replicated to every node ({EVERYWHERE[name]}).", local)]
    if name in REBUILDS:
        note = f"on every shard, to take the place of {local_table(REBUILDS[name])}."
        return [_Derived(note, local)]
    sharding = SHARDED[name]
    source = f"'{database}'" if database else "currentDatabase()"
    distributed = (
        f"CREATE TABLE IF NOT EXISTS {_name(name, database)} ON CLUSTER '{cluster}' "
        f"AS {_name(stored, database)}\n"
        f"ENGINE = Distributed('{cluster}', {source}, '{stored}', {sharding.key})"
    )
    return [
        _Derived("", local),
        _Derived(f"{name} over the shards: {sharding.reason}.", distributed),
    ]


def _replicated_settings(code: str, masked: str, start: int) -> str:
    """The table clause from ``start`` on, non-replicated settings replaced."""
    found = _SETTINGS.search(masked, start)
    if found is None:
        return code[start:]
    out = code[start : found.end()]
    pieces = []
    for begin, end in _split_top(masked, found.end(), len(masked)):
        pieces.append(_replicated_assignment(code[begin:end]))
    return out + ",".join(pieces)


def _replicated_assignment(assignment: str) -> str:
    """``key = value`` (after any words, as in ``MODIFY SETTING key = value``), a
    non-replicated key replaced by its replicated twin."""
    key = assignment.split("=", 1)[0].split()[-1]
    if key in _REPLICATED_SETTINGS:
        return assignment.replace(key, _REPLICATED_SETTINGS[key], 1)
    return assignment


def _view(code: str, masked: str, cluster: str, database: str | None) -> _Derived:
    head = _CREATE_VIEW.match(masked)
    if head is None:
        raise ClusteredSchemaError("expected CREATE MATERIALIZED VIEW name TO target AS SELECT")
    found = _QUERY_UNSUPPORTED.search(masked, head.end())
    if found:
        raise ClusteredSchemaError(f"{found[0]} in a view's query")
    target = head["target"]
    if target in ROUTED_VIEW_TARGETS:
        stored_target = target
    elif target in SHARDED:
        stored_target = local_table(target)
    else:
        raise ClusteredSchemaError(f"the view writes to {target}, which is not a sharded table")
    edits = [
        (
            head.start("name"),
            head.end("name"),
            f"{_name(head['name'], database)} ON CLUSTER '{cluster}'",
        ),
        (head.start("target"), head.end("target"), _name(stored_target, database)),
    ]
    edits += _sources(masked, head.end(), "the view", lambda t: _name(local_table(t), database))
    code = _edited(code, edits)
    note = "reads the local table: each row counted once, on the replica that received it; "
    note += (
        "writes through the Distributed table (see ROUTED_VIEW_TARGETS)."
        if target in ROUTED_VIEW_TARGETS
        else "writes the local table of its shard."
    )
    return _Derived(note, code)


def _alter(code: str, masked: str, cluster: str, database: str | None) -> list[_Derived]:
    head = _ALTER.match(masked)
    if head is None:
        raise ClusteredSchemaError("expected ALTER TABLE name COMMAND[, COMMAND...]")
    name = head["name"]
    if name not in SHARDED and name not in EVERYWHERE and name not in REBUILDS:
        raise ClusteredSchemaError(f"{name} is not a table of the clustered schema")
    if _SETTINGS.search(masked, head.end()):
        raise ClusteredSchemaError("SETTINGS on an ALTER")
    commands: list[str] = []
    column_commands: list[str] = []
    for begin, end in _split_top(masked, head.end(), len(masked)):
        command, shape = code[begin:end].strip(), masked[begin:end].strip()
        attach = _ATTACH_ALL.fullmatch(shape)
        if attach:  # a rebuild's parts, from one local table to the other on each shard
            if REBUILDS.get(attach["source"]) != name:
                raise ClusteredSchemaError(f"parts of {attach['source']} attached to {name}")
            command = f"ATTACH PARTITION ALL FROM {_name(local_table(attach['source']), database)}"
        elif _COLUMN_COMMAND.match(shape):
            column_commands.append(command)
        elif _MODIFY_SETTING.match(shape):
            command = _replicated_assignment(command)
        elif not _STORAGE_COMMAND.match(shape):
            raise ClusteredSchemaError(f"the ALTER command {command.split()[:2]} is not understood")
        commands.append(command)
    if name in REBUILDS and column_commands:
        raise ClusteredSchemaError(f"column changes of the rebuild {name}: give them in its CREATE")
    if name in EVERYWHERE:  # Keeper carries the change to every replica (see alter_target)
        return [_Derived("", f"ALTER TABLE {_name(name, database)} {', '.join(commands)}")]
    on = f"ON CLUSTER '{cluster}'"
    derived = [
        _Derived("", f"ALTER TABLE {_name(local_table(name), database)} {on} {', '.join(commands)}")
    ]
    if column_commands:  # the Distributed table shows the same columns
        derived.append(
            _Derived("", f"ALTER TABLE {_name(name, database)} {on} {', '.join(column_commands)}")
        )
    return derived


def _insert(code: str, masked: str, database: str | None) -> _Derived:
    """A backfill: INSERT INTO a sharded table SELECT from sharded tables, run once between the
    Distributed tables with every shard doing its own part (both sides shard a row alike)."""
    head = _INSERT.match(masked)
    if head is None:
        raise ClusteredSchemaError("expected INSERT INTO name SELECT")
    if head["name"] not in SHARDED:
        raise ClusteredSchemaError(f"the insert writes {head['name']}: not a sharded table")
    found = _QUERY_UNSUPPORTED.search(masked, head.end())
    if found:
        raise ClusteredSchemaError(f"{found[0]} in a backfill's query")
    edits = [(head.start("name"), head.end("name"), _name(head["name"], database))]
    edits += _sources(masked, head.end(), "the insert", lambda t: _name(t, database))
    code = _edited(code, edits)
    code += (", " if _SETTINGS.search(masked, head.end()) else " SETTINGS ") + _SHARD_LOCAL_INSERT
    return _Derived("runs once; each shard copies its own rows (Distributed to Distributed).", code)


def _rebuild_step(masked: str, cluster: str, database: str | None) -> _Derived:
    """EXCHANGE, DROP ... SYNC and OPTIMIZE ... FINAL of a rebuild, on the local tables of
    every shard."""
    on = f"ON CLUSTER '{cluster}'"
    statement = masked.strip()
    exchange = _EXCHANGE.fullmatch(statement)
    if exchange:
        pair = {exchange["a"], exchange["b"]}
        if not any(pair == {built, replaced} for built, replaced in REBUILDS.items()):
            raise ClusteredSchemaError("EXCHANGE TABLES of a table and its rebuild only")
        a, b = (_name(local_table(t), database) for t in (exchange["a"], exchange["b"]))
        return _Derived("", f"EXCHANGE TABLES {a} AND {b} {on}")
    drop = _DROP.fullmatch(statement)
    if drop:
        if drop["name"] not in REBUILDS:
            raise ClusteredSchemaError("DROP TABLE of a rebuild's leftover only")
        return _Derived("", f"DROP TABLE {_name(local_table(drop['name']), database)} {on} SYNC")
    optimize = _OPTIMIZE.fullmatch(statement)
    if optimize:
        if optimize["name"] not in SHARDED:
            raise ClusteredSchemaError(f"OPTIMIZE of {optimize['name']}: not a sharded table")
        return _Derived(
            "each shard rewrites its parts (one replica merges, the others fetch).",
            f"OPTIMIZE TABLE {_name(local_table(optimize['name']), database)} {on} FINAL",
        )
    raise ClusteredSchemaError(
        "expected EXCHANGE TABLES a AND b, DROP TABLE name SYNC or OPTIMIZE TABLE name FINAL"
    )


def _sources(
    masked: str, start: int, what: str, rename: Callable[[str], str]
) -> list[tuple[int, int, str]]:
    """The edits renaming every table read after ``start``; each must be a sharded table."""
    edits = []
    for source in _FROM.finditer(masked, start):
        if source["table"] is None:  # FROM (subquery)
            continue
        if source["after"] or source["table"] not in SHARDED:
            raise ClusteredSchemaError(f"{what} reads {source[0].strip()!r}: not a sharded table")
        edits.append((source.start("table"), source.end("table"), rename(source["table"])))
    if not edits:
        raise ClusteredSchemaError(f"{what} reads no table")
    return edits


def _edited(code: str, edits: list[tuple[int, int, str]]) -> str:
    for begin, end, text in sorted(edits, reverse=True):
        code = code[:begin] + text + code[end:]
    return code


# --- text ----------------------------------------------------------------------------------


def _name(table: str, database: str | None) -> str:
    return f"{database}.{table}" if database else table


def _split_comment(statement: str) -> tuple[list[str], str]:
    """The leading comment lines of a statement (blank lines between them kept), and its code."""
    lines = statement.strip().splitlines()
    comment: list[str] = []
    while lines and (not lines[0].strip() or lines[0].lstrip().startswith("--")):
        comment.append(lines.pop(0).strip())
    return comment, "\n".join(lines).strip()


def _mask(sql: str) -> str:
    """``sql`` with the insides of quotes and comments blanked (same length), so keywords,
    names and brackets are found in code only."""
    out = list(sql)
    i = 0
    while i < len(sql):
        if sql[i] in "'\"`":
            end = i + 1
            while end < len(sql) and sql[end] != sql[i]:
                end += 2 if sql[end] == "\\" else 1
            if end >= len(sql):
                raise ClusteredSchemaError("unterminated quote")
            out[i + 1 : end] = "x" * (end - i - 1)
            i = end + 1
        elif sql.startswith(("--", "/*"), i):
            close = "\n" if sql[i] == "-" else "*/"
            end = sql.find(close, i + 2)
            end = len(sql) if end < 0 else end + (2 if close == "*/" else 0)
            out[i:end] = [" " if ch != "\n" else ch for ch in sql[i:end]]
            i = end
        else:
            i += 1
    return "".join(out)


def _closing(masked: str, start: int) -> int:
    """The index of the bracket closing the one at ``start``."""
    depth = 0
    for index in range(start, len(masked)):
        depth += {"(": 1, ")": -1}.get(masked[index], 0)
        if depth == 0:
            return index
    raise ClusteredSchemaError("unbalanced brackets")


def _split_top(masked: str, start: int, end: int) -> list[tuple[int, int]]:
    """Ranges of the comma-separated items of ``masked[start:end]`` outside brackets."""
    ranges, depth, begin = [], 0, start
    for index in range(start, end):
        char = masked[index]
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            ranges.append((begin, index))
            begin = index + 1
    ranges.append((begin, end))
    return ranges
