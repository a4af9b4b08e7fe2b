"""The clustered schema: derived from the migrations, checked on the real ClickHouse engine.

There is no ClickHouse server or Keeper here. chDB (the engine itself) runs in a child process
with a config that gives it an in-memory Keeper (``testkeeper``), the macros the Altinity operator
defines and a one-shard cluster on itself. There every clustered statement is parsed, the
Replicated tables are created on the Keeper as generated, and, with the replicated engines swapped
for their plain counterparts (a replica needs a server's interserver endpoint to take writes),
the whole schema runs, rows go in through the Distributed tables and every search kind answers as
on a single node. One shard cannot show cross-shard behaviour: docs/clickhouse-cluster.md argues
that part.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from streams import cli
from streams.errors import ConfigError, WarehouseError
from streams.settings import Settings, load_settings
from streams.warehouse.clustered import (
    EVERYWHERE,
    REBUILDS,
    ROUTED_VIEW_TARGETS,
    SHARDED,
    ClusteredSchemaError,
    clustered_statements,
    local_table,
)
from streams.warehouse.migrations import (
    CLUSTERED_SCHEMA_FILE,
    MIGRATIONS_TABLE_DDL,
    clustered_schema,
    load_migrations,
    migrate,
)
from streams.warehouse.retention import apply_retention

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """<clickhouse>
  <zookeeper><implementation>testkeeper</implementation></zookeeper>
  <macros><cluster>streams</cluster><shard>01</shard><replica>r1</replica></macros>
  <tcp_port>9000</tcp_port>
  <remote_servers><streams><shard><replica><host>localhost</host><port>9000</port></replica>
  </shard></streams></remote_servers>
</clickhouse>
"""
# Reads [name, kind, payload] actions on stdin, answers {name: {"ok": ...} | {"error": ...}}.
RUNNER = r"""
import json, os, sys
from chdb import session
from streams.search.queries import KINDS, run_search
from streams.warehouse.embedded import param_text

job = json.load(sys.stdin)
db = session.Session(f"file:{job['path']}?config-file={job['config']}")

def rows(sql, params=None):
    texts = {k: param_text(v) for k, v in (params or {}).items()} or None
    data = db.query(sql, "JSONEachRow", params=texts).bytes()
    return [json.loads(line) for line in data.splitlines() if line]

class Warehouse:
    description = "chdb child"
    def command(self, sql, params=None): rows(sql, params)
    def query(self, sql, params=None): return rows(sql, params)

out = {}
for name, kind, payload in job["actions"]:
    try:
        if kind == "parse":
            # A parameter's text is escaped like a TSV field (the statement spans lines).
            text = payload.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")
            data = db.query("SELECT formatQuery({q:String})", "TSVRaw", params={"q": text})
            out[name] = {"ok": data.bytes().decode()}
        elif kind == "run":
            out[name] = {"ok": rows(payload)}
        else:
            request = KINDS[payload["kind"]].model_validate(payload["query"])
            out[name] = {"ok": run_search(Warehouse(), request).model_dump(mode="json")["rows"]}
    except Exception as exc:
        out[name] = {"error": f"{type(exc).__name__}: {exc}"[:800]}
sys.stdout.write(json.dumps(out))
sys.stdout.flush()
os._exit(0)  # skip the engine's shutdown: its replicas never became writable
"""

_ON_CLUSTER = re.compile(r"\s+ON CLUSTER '[^']*'")
_REPLICATED = re.compile(r"Replicated(\w*)MergeTree\('[^']*', '[^']*'(?:, )?")
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _all_sources() -> list[list[str]]:
    return [[MIGRATIONS_TABLE_DDL]] + [m.statements() for m in load_migrations()]


def _clustered(database: str | None) -> list[str]:
    return [s for part in _all_sources() for s in clustered_statements(part, "{cluster}", database)]


def _on_each_node(statement: str) -> str:
    """What a node's DDL worker runs of an ON CLUSTER statement."""
    return _ON_CLUSTER.sub("", statement)


def _unreplicated(statement: str) -> str:
    return _REPLICATED.sub(r"\1MergeTree(", _on_each_node(statement))


def _insert(database: str, table: str, rows: list[dict[str, Any]]) -> str:
    body = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows)
    return (
        f"INSERT INTO {database}.{table} SETTINGS insert_distributed_sync = 1, "
        f"date_time_input_format = 'best_effort' FORMAT JSONEachRow\n{body}"
    )


def _at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


DEVICES = {"d1": (30.0, 120.0), "d2": (30.001, 120.001), "d3": (30.002, 120.002), "d4": (31, 121)}
EMBEDDING = [1.0 if i % 3 == 0 else 0.1 for i in range(128)]


def _capture(event_id: str, device: str, seconds: float) -> dict[str, Any]:
    lat, lon = DEVICES[device]
    return {"event_id": event_id, "device_id": device, "captured_at": _at(seconds)} | {
        "lat": lat,
        "lon": lon,
        "source": "test",
    }


def _data() -> dict[str, list[dict[str, Any]]]:
    """A few captures of every kind; the first plate pass is stored twice (a redelivery)."""
    plates = [
        _capture("p1", "d1", 0) | {"plate_number": "浙A12345"},
        _capture("p1", "d1", 0) | {"plate_number": "浙A12345"},
        _capture("p2", "d2", 60) | {"plate_number": "浙A12345"},
        _capture("p3", "d3", 120) | {"plate_number": "浙A12345"},
        _capture("p4", "d1", 5) | {"plate_number": "浙B54321"},
        _capture("p5", "d2", 65) | {"plate_number": "浙B54321"},
        _capture("p6", "d4", 30) | {"plate_number": ""},
    ]
    near = [x + 0.01 for x in EMBEDDING]
    far = [(-x if i % 2 else x) for i, x in enumerate(EMBEDDING)]
    faces = [
        _capture("f1", "d1", 10) | {"track_id": "t1", "embedding": EMBEDDING},
        _capture("f2", "d3", 130) | {"track_id": "t2", "embedding": near},
        _capture("f3", "d4", 40) | {"track_id": "t3", "embedding": far},
    ]
    alert = {"rule": "watchlist", "occurred_at": _at(0), "raised_at": _at(1), "subject": "x"}
    return {
        "plate_captures": plates,
        "face_captures": faces,
        "face_vectors": [
            {k: f[k] for k in ("event_id", "device_id", "captured_at", "lat", "lon", "embedding")}
            for f in faces
        ],
        "alarms": [_capture("a1", "d2", 50) | {"alarm_type": "intrusion"}],
        "alerts": [alert | {"alert_id": "al1", "plate_numbers": ["浙A12345"]}] * 2
        + [alert | {"alert_id": "al2", "device_ids": ["d2"]}],
        "correlations": [
            {"correlation_id": "c1", "relation": "person_vehicle", "occurred_at": _at(10)}
        ],
    }


def _searches() -> dict[str, tuple[str, dict[str, Any]]]:
    """Every search kind, by a name: (kind, query)."""
    span = {"since": _at(-60), "until": _at(3600)}
    near_d1 = {"lat": 30.0, "lon": 120.0, "radius_m": 50}
    near_d3 = {"lat": 30.002, "lon": 120.002, "radius_m": 50}
    return {
        "plate": ("plate", {"plate": "浙A12345"}),
        "plate pattern": ("plate", {"plate": "浙A1234?"}),
        "plate unreadable": ("plate", {"unreadable": True}),
        "plate in area": ("plate", {"plate": "浙A12345", "area": near_d3}),
        "trajectory": ("trajectory", {"plate": "浙A12345"}),
        "first seen": ("first-seen", {"plate": "浙A12345"}),
        "area": ("area", {"area": {"lat": 30.001, "lon": 120.001, "radius_m": 500}, **span}),
        "collision": (
            "collision",
            {"sets": [{"area": near_d1, **span}, {"area": near_d3, **span}]},
        ),
        "collision faces": (
            "collision",
            {
                "sets": [{"area": near_d1, **span}, {"area": near_d3, **span}],
                "target": "face",
                "face_threshold": 0.1,
            },
        ),
        "cotravel": ("cotravel", {"plate": "浙A12345", "gap_seconds": 30, "min_devices": 2}),
        "face": ("face", {"embedding": EMBEDDING, "top_k": 3}),
        "face by event in devices": (
            "face",
            {"event_id": "f1", "top_k": 3, "devices": ["d3", "d4"]},
        ),
        "face in a time range": ("face", {"embedding": EMBEDDING, "top_k": 3, **span}),
        "alerts": ("alerts", {}),
        "correlations": ("correlations", {}),
        "device stats": ("device-stats", {"bucket": "day"}),
    }


@dataclass
class Engine:
    """What the child engine answered, by action name."""

    results: dict[str, dict[str, Any]] = field(default_factory=dict)

    def ok(self, name: str) -> Any:
        result = self.results[name]
        assert "error" not in result, f"{name}: {result['error']}"
        return result["ok"]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    home = tmp_path_factory.mktemp("clustered-engine")
    (home / "config.xml").write_text(CONFIG)
    actions: list[list[Any]] = []
    for form, database in (("unqualified", None), ("qualified", "streams")):
        actions += [[f"parse {form} {i}", "parse", s] for i, s in enumerate(_clustered(database))]
    for database in ("single", "streams", "replicated"):
        actions.append([f"create {database}", "run", f"CREATE DATABASE {database}"])
    actions.append(["use single for the migrations", "run", "USE single"])
    single = [s for part in _all_sources() for s in part]
    actions += [[f"single {i}", "run", s] for i, s in enumerate(single)]
    actions += [
        [f"streams {i}", "run", _unreplicated(s)] for i, s in enumerate(_clustered("streams"))
    ]
    # Writes to a replica need a server: the ALTERs and OPTIMIZEs of replicated tables are
    # left out here.
    replicated = [
        s
        for s in _clustered("replicated")
        if not re.match(
            r"(?:ALTER|OPTIMIZE) TABLE replicated\.(\w+_local|api_keys|search_audit)\b", s
        )
    ]
    actions += [[f"replicated {i}", "run", _on_each_node(s)] for i, s in enumerate(replicated)]
    for database in ("single", "streams"):
        for table, rows in _data().items():
            actions.append([f"insert {database} {table}", "run", _insert(database, table, rows)])
    actions += [
        [
            "tables",
            "run",
            "SELECT database, name, engine, engine_full, sorting_key, partition_key, "
            "primary_key, dependencies_table, create_table_query FROM system.tables "
            "WHERE database IN ('single', 'streams', 'replicated')",
        ],
        [
            "columns",
            "run",
            "SELECT database, table, name, type, default_kind, default_expression, "
            "compression_codec FROM system.columns WHERE database IN ('single', 'streams') "
            "ORDER BY database, table, position",
        ],
        [
            "replicas",
            "run",
            "SELECT table, zookeeper_path, replica_name FROM system.replicas "
            "WHERE database = 'replicated'",
        ],
    ]
    for database in ("single", "streams"):
        actions.append([f"use {database}", "run", f"USE {database}"])
        for name, (kind, query) in _searches().items():
            actions.append([f"search {database} {name}", "search", {"kind": kind, "query": query}])
    child = subprocess.run(
        [sys.executable, "-c", RUNNER],
        input=json.dumps(
            {"path": str(home / "db"), "config": str(home / "config.xml"), "actions": actions}
        ),
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
        check=False,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    return Engine(json.loads(child.stdout))


# --- the schema file and the statements ------------------------------------------------------


def test_the_committed_schema_is_the_generated_one() -> None:
    assert CLUSTERED_SCHEMA_FILE.read_text(encoding="utf-8") == clustered_schema(), (
        "schemas/clickhouse/clustered/schema.sql is stale: regenerate it with "
        "`streams migrate --print-clustered > schemas/clickhouse/clustered/schema.sql`"
    )


def test_the_cli_prints_the_committed_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["migrate", "--print-clustered"]) == 0
    assert capsys.readouterr().out == CLUSTERED_SCHEMA_FILE.read_text(encoding="utf-8")
    assert cli.main(["migrate", "--print-clustered", "--cluster", "prod", "--database", "db"]) == 0
    printed = capsys.readouterr().out
    assert "ON CLUSTER 'prod'" in printed
    assert "CREATE TABLE IF NOT EXISTS db.plate_captures_local" in printed


def test_cluster_options_need_print_clustered(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["migrate", "--cluster", "prod"]) == 2
    assert "--print-clustered" in capsys.readouterr().err


def test_every_statement_parses_on_the_engine(engine: Engine) -> None:
    for form, database in (("unqualified", None), ("qualified", "streams")):
        statements = _clustered(database)
        for i, statement in enumerate(statements):
            formatted = engine.ok(f"parse {form} {i}")
            head = " ".join(statement.split()[:2]).upper()
            assert formatted.upper().startswith(head), (statement, formatted)


def test_each_table_is_sharded_or_everywhere(engine: Engine) -> None:
    tables = {(t["database"], t["name"]): t for t in engine.ok("tables")}
    single = {name for db, name in tables if db == "single"}
    stored = {n for n in single if tables["single", n]["engine"].endswith("MergeTree")}
    assert stored == set(SHARDED) | set(EVERYWHERE)
    altered = [s for s in _clustered("replicated") if s.startswith("ALTER TABLE")]
    for name in stored:
        source = tables["single", name]
        local = tables["replicated", local_table(name)]
        assert local["engine"] == "Replicated" + source["engine"]
        for key in ("sorting_key", "partition_key", "primary_key"):
            assert local[key] == source[key], (name, key)
        if "non_replicated_deduplication_window = 1000" in source["engine_full"]:
            # Created with the window, or given it by an ALTER (not run here, see the fixture).
            assert (
                "SETTINGS replicated_deduplication_window = 1000" in local["engine_full"]
                or (
                    f"ALTER TABLE replicated.{local_table(name)} ON CLUSTER '{{cluster}}' "
                    "MODIFY SETTING replicated_deduplication_window = 1000"
                )
                in altered
            ), name
        if name in SHARDED:
            assert tables["replicated", name]["engine"] == "Distributed"
            assert SHARDED[name].key.replace(" ", "") in tables["replicated", name][
                "engine_full"
            ].replace(" ", "")
        else:
            assert ("replicated", name + "_local") not in tables
    for (database, name), table in tables.items():
        if database == "replicated" and "MergeTree" in table["engine"]:
            assert table["engine"].startswith("Replicated"), name
            assert "non_replicated" not in table["engine_full"], name
    # Views: the same ones, under the same names.
    views = {n for (db, n), t in tables.items() if t["engine"] == "MaterializedView"}
    assert {n for n in views if ("single", n) in tables} == {
        n for n in views if ("replicated", n) in tables
    }


def test_replicas_are_on_keeper_under_their_paths(engine: Engine) -> None:
    replicas = {r["table"]: r for r in engine.ok("replicas")}
    # A rebuilt table keeps the Keeper path it was created under.
    created_as = {replaced: built for built, replaced in REBUILDS.items()}
    expected = {
        local_table(t): f"/clickhouse/tables/01/replicated/{created_as.get(t, t)}_local"
        for t in SHARDED
    }
    expected |= {t: f"/clickhouse/tables/all/replicated/{t}" for t in EVERYWHERE}
    assert {t: r["zookeeper_path"] for t, r in replicas.items()} == expected
    assert {r["replica_name"] for r in replicas.values()} == {"r1"}


def test_local_tables_have_the_single_node_columns(engine: Engine) -> None:
    columns: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    for c in engine.ok("columns"):
        columns.setdefault((c["database"], c["table"]), []).append(
            (
                c["name"],
                c["type"],
                c["default_kind"],
                c["default_expression"],
                c["compression_codec"],
            )
        )
    for name in set(SHARDED) | set(EVERYWHERE):
        assert columns["streams", local_table(name)] == columns["single", name], name
        if name in SHARDED:  # the Distributed table shows the same columns (codecs stay below)
            assert [c[:4] for c in columns["streams", name]] == [
                c[:4] for c in columns["single", name]
            ], name


def test_views_read_local_tables_and_write_local_or_routed(engine: Engine) -> None:
    tables = {(t["database"], t["name"]): t for t in engine.ok("tables")}
    views = [
        t
        for (db, _), t in tables.items()
        if db == "replicated" and t["engine"] == "MaterializedView"
    ]
    assert views
    for view in views:
        sources = [
            n
            for (db, n), t in tables.items()
            if db == "replicated" and view["name"] in t["dependencies_table"]
        ]
        assert sources, view["name"]
        assert all(s.endswith("_local") for s in sources), (view["name"], sources)
        target = re.search(r" TO replicated\.(\w+)", view["create_table_query"])
        assert target is not None
        if target[1] in ROUTED_VIEW_TARGETS:
            assert tables["replicated", target[1]]["engine"] == "Distributed"
        else:
            assert target[1].endswith("_local"), view["name"]


def test_every_search_answers_as_on_a_single_node(engine: Engine) -> None:
    for database in ("single", "streams"):
        for table in _data():
            engine.ok(f"insert {database} {table}")
    for name in _searches():
        single = engine.ok(f"search single {name}")
        assert single, f"{name}: the test data should give rows"
        assert engine.ok(f"search streams {name}") == single, name


# --- what the transformer refuses -------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "DROP TABLE plate_captures",
        "RENAME TABLE alerts TO alerts_old",
        "INSERT INTO alerts (alert_id) VALUES ('x')",
        "CREATE VIEW v AS SELECT * FROM alerts",
        "CREATE TABLE IF NOT EXISTS gadgets (id String) ENGINE = MergeTree ORDER BY id",
        "CREATE TABLE IF NOT EXISTS alerts (id String) ENGINE = Memory",
        "CREATE TABLE IF NOT EXISTS alerts (id String) ENGINE = ReplicatedMergeTree ORDER BY id",
        "CREATE TABLE IF NOT EXISTS alerts AS SELECT 1",
        "CREATE MATERIALIZED VIEW v ENGINE = MergeTree ORDER BY x AS SELECT 1 AS x FROM alerts",
        "CREATE MATERIALIZED VIEW v TO device_hourly AS SELECT * FROM alerts a JOIN alarms b ON 1",
        "CREATE MATERIALIZED VIEW v TO device_hourly AS SELECT * FROM api_keys",
        "CREATE MATERIALIZED VIEW v TO device_hourly AS SELECT * FROM numbers(3)",
        "CREATE MATERIALIZED VIEW v TO api_keys AS SELECT * FROM alerts",
        "ALTER TABLE alerts RENAME COLUMN reason TO why",
        "ALTER TABLE alerts DELETE WHERE 1",
        "ALTER TABLE alerts ON CLUSTER c ADD COLUMN x UInt8",
        "ALTER TABLE device_hourly_plates MODIFY QUERY SELECT 1",
        "OPTIMIZE TABLE api_keys FINAL",
        "OPTIMIZE TABLE alerts",
        "DROP TABLE plate_captures SYNC",
        "EXCHANGE TABLES alerts AND plate_captures_0005",
        "EXCHANGE TABLES plate_captures AND alerts",
        "ALTER TABLE alerts ATTACH PARTITION ALL FROM plate_captures_0005",
        "ALTER TABLE plate_captures ATTACH PARTITION ALL FROM alerts",
        "CREATE TABLE IF NOT EXISTS plate_captures_0005 AS plate_captures",
        "ALTER TABLE plate_captures_0005 ADD COLUMN x UInt8",
        "INSERT INTO alerts VALUES (1)",
        "INSERT INTO api_keys SELECT * FROM alerts",
        "INSERT INTO plate_days SELECT * FROM api_keys",
        "INSERT INTO plate_days SELECT 1 AS x",
        "INSERT INTO plate_days SELECT * FROM alerts UNION ALL SELECT * FROM alarms",
    ],
)
def test_an_unknown_statement_kind_raises(statement: str) -> None:
    with pytest.raises(ClusteredSchemaError, match="no clustered form"):
        clustered_statements(["-- a comment\n" + statement], origin="0009_new.sql")


def test_a_migration_without_a_clustered_form_stops_migrate_before_any_change(
    tmp_path: Path,
) -> None:
    (tmp_path / "0001_new.sql").write_text(
        "CREATE TABLE IF NOT EXISTS gadgets (id String)\nENGINE = MergeTree ORDER BY id;\n"
    )
    warehouse = Recording()
    with pytest.raises(ClusteredSchemaError, match=r"0001_new\.sql.*gadgets"):
        migrate(warehouse, tmp_path, cluster="{cluster}")
    assert warehouse.commands == []
    with pytest.raises(ClusteredSchemaError):
        clustered_schema(directory=tmp_path)


def test_clustered_forms_of_the_statement_kinds() -> None:
    alter = clustered_statements(
        [
            "ALTER TABLE alerts ADD COLUMN IF NOT EXISTS x UInt8 DEFAULT 1, "
            "ADD INDEX i x TYPE minmax"
        ],
        "prod",
        "db",
    )
    assert alter == [
        "ALTER TABLE db.alerts_local ON CLUSTER 'prod' ADD COLUMN IF NOT EXISTS x UInt8 DEFAULT 1, "
        "ADD INDEX i x TYPE minmax",
        "ALTER TABLE db.alerts ON CLUSTER 'prod' ADD COLUMN IF NOT EXISTS x UInt8 DEFAULT 1",
    ]
    # A table on every node changes once: Keeper carries the ALTER to the other replicas.
    assert clustered_statements(["ALTER TABLE api_keys ADD COLUMN note String"], "prod") == [
        "ALTER TABLE api_keys ADD COLUMN note String"
    ]
    # Strings and comments hide nothing: a name inside them is not rewritten.
    (view,) = clustered_statements(
        [
            "CREATE MATERIALIZED VIEW v TO device_hourly AS "
            "SELECT 'FROM alerts' AS kind -- FROM x\nFROM alarms"
        ],
        "prod",
    )
    assert view.endswith("SELECT 'FROM alerts' AS kind -- FROM x\nFROM alarms_local")
    assert "TO device_hourly_local" in view
    with pytest.raises(ConfigError, match="cluster name"):
        clustered_statements(["ALTER TABLE alerts ADD COLUMN x UInt8"], "x'); DROP")
    # A backfill runs once, between the Distributed tables, each shard copying its own rows.
    assert clustered_statements(
        ["INSERT INTO plate_days SELECT * FROM plate_captures SETTINGS max_threads = 1"], "p", "db"
    ) == [
        "INSERT INTO db.plate_days SELECT * FROM db.plate_captures SETTINGS max_threads = 1, "
        "parallel_distributed_insert_select = 2"
    ]
    assert clustered_statements(["INSERT INTO plate_days SELECT * FROM plate_captures"]) == [
        "INSERT INTO plate_days SELECT * FROM plate_captures "
        "SETTINGS parallel_distributed_insert_select = 2"
    ]
    # A rebuild: the new table exists as local tables only, which swap with the old ones and
    # take over their parts on every shard.
    rebuild = clustered_statements(
        [
            "CREATE TABLE IF NOT EXISTS plate_captures_0005 (x UInt8) ENGINE = MergeTree "
            "ORDER BY x SETTINGS index_granularity = 1024",
            "EXCHANGE TABLES plate_captures AND plate_captures_0005",
            "ALTER TABLE plate_captures ATTACH PARTITION ALL FROM plate_captures_0005",
            "DROP TABLE plate_captures_0005 SYNC",
            "OPTIMIZE TABLE plate_captures FINAL",
        ],
        "p",
        "db",
    )
    assert rebuild == [
        "CREATE TABLE IF NOT EXISTS db.plate_captures_0005_local ON CLUSTER 'p' (x UInt8)\n"
        "ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/"
        "plate_captures_0005_local', '{replica}') "
        "ORDER BY x SETTINGS index_granularity = 1024",
        "EXCHANGE TABLES db.plate_captures_local AND db.plate_captures_0005_local ON CLUSTER 'p'",
        "ALTER TABLE db.plate_captures_local ON CLUSTER 'p' "
        "ATTACH PARTITION ALL FROM db.plate_captures_0005_local",
        "DROP TABLE db.plate_captures_0005_local ON CLUSTER 'p' SYNC",
        "OPTIMIZE TABLE db.plate_captures_local ON CLUSTER 'p' FINAL",
    ]


# --- migrate and retention on a cluster, against a recording warehouse ------------------------


class Recording:
    """A warehouse that records statements and answers what migrate and retention ask."""

    def __init__(self, *, migrations_table: str = "", ttls: dict[str, str] | None = None):
        self.commands: list[str] = []
        self.inserts: list[tuple[str, list[dict[str, Any]]]] = []
        self.migrations_table = migrations_table
        self.ttls = ttls or {}

    description = "recording"

    def command(self, sql: str, params: Any = None) -> None:
        self.commands.append(sql)

    def query(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        if "currentDatabase() AS db" in sql:
            return [{"db": "streams"}]
        if "SELECT engine FROM system.tables" in sql:
            return [{"engine": self.migrations_table}] if self.migrations_table else []
        if "engine_full" in sql:
            return [
                {"name": t, "engine_full": f"ReplicatedMergeTree ORDER BY x TTL {ttl}"}
                for t, ttl in self.ttls.items()
                if t in params["tables"]
            ]
        return []

    def insert(self, table: str, rows: Any, *, dedup_token: str | None = None) -> int:
        self.inserts.append((table, list(rows)))
        return len(rows)

    def close(self) -> None:
        pass


def test_migrate_on_a_cluster_applies_the_clustered_statements() -> None:
    warehouse = Recording()
    done = migrate(warehouse, cluster="{cluster}")
    assert [m.version for m in done] == [m.version for m in load_migrations()]
    assert warehouse.commands[0] == "CREATE DATABASE IF NOT EXISTS streams ON CLUSTER '{cluster}'"
    assert warehouse.commands[1:] == _clustered("streams")
    assert [m["checksum"] for _, (m,) in warehouse.inserts] == [
        m.checksum for m in load_migrations()
    ]
    # Later starts find the migrations table and make no ON CLUSTER DDL.
    again = Recording(migrations_table="ReplicatedMergeTree")
    migrate(again, cluster="{cluster}")
    assert not any(
        "schema_migrations ON CLUSTER" in c or "CREATE DATABASE" in c for c in again.commands
    )
    # A database migrated for one node is not silently half-converted.
    single = Recording(migrations_table="MergeTree")
    with pytest.raises(WarehouseError, match="single node"):
        migrate(single, cluster="{cluster}")
    assert single.commands == []


def test_retention_on_a_cluster_alters_the_local_tables() -> None:
    settings = Settings(warehouse_url="clickhouse://h:9000/streams", warehouse_cluster="prod")
    current = {
        local_table(t): "toDateTime(x) + toIntervalDay(1)"
        for t in (
            "raw_captures",
            "plate_captures",
            "plate_days",
            "plate_names",
            "face_captures",
            "face_vectors",
            "alarms",
            "alerts",
            "correlations",
            "dead_letters",
            "search_audit",
        )
    }
    warehouse = Recording(ttls=current)
    changed = apply_retention(warehouse, settings)
    assert len(changed) == len(current)
    assert (
        "ALTER TABLE plate_captures_local ON CLUSTER 'prod' MODIFY TTL "
        "toDateTime(captured_at) + toIntervalDay(90) SETTINGS materialize_ttl_after_modify = 0"
    ) in warehouse.commands
    assert (
        "ALTER TABLE search_audit MODIFY TTL toDateTime(at) + toIntervalDay(1825) "
        "SETTINGS materialize_ttl_after_modify = 0"
    ) in warehouse.commands
    missing = Recording(ttls={})
    with pytest.raises(WarehouseError, match="alerts_local"):
        apply_retention(missing, settings)


# --- the setting ------------------------------------------------------------------------------


def test_a_cluster_with_the_embedded_engine_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMS_WAREHOUSE_URL", "chdb://.local/warehouse")
    monkeypatch.setenv("STREAMS_WAREHOUSE_CLUSTER", "prod")
    with pytest.raises(ConfigError, match=r"STREAMS_WAREHOUSE_CLUSTER.*chdb://"):
        load_settings()


def test_a_cluster_with_a_server_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMS_WAREHOUSE_URL", "clickhouse://default@h:9000/streams")
    monkeypatch.setenv("STREAMS_WAREHOUSE_CLUSTER", "{cluster}")
    assert load_settings().warehouse_cluster == "{cluster}"
    monkeypatch.setenv("STREAMS_WAREHOUSE_CLUSTER", "")
    assert load_settings().warehouse_cluster is None
    monkeypatch.setenv("STREAMS_WAREHOUSE_CLUSTER", "a b'")
    with pytest.raises(ConfigError, match="STREAMS_WAREHOUSE_CLUSTER"):
        load_settings()


def test_single_node_is_the_default() -> None:
    assert Settings().warehouse_cluster is None


# --- a real cluster, when one is named --------------------------------------------------------

SERVER_URL = os.environ.get("STREAMS_TEST_CLICKHOUSE_URL")
SERVER_CLUSTER = os.environ.get("STREAMS_TEST_CLICKHOUSE_CLUSTER")


@pytest.mark.clickhouse_server
@pytest.mark.skipif(
    not (SERVER_URL and SERVER_CLUSTER),
    reason="STREAMS_TEST_CLICKHOUSE_URL and STREAMS_TEST_CLICKHOUSE_CLUSTER are not both set",
)
def test_migrate_insert_and_read_on_a_real_cluster() -> None:
    from streams.warehouse.server import ServerWarehouse

    assert SERVER_URL is not None
    assert SERVER_CLUSTER is not None
    database = f"streams_test_{uuid.uuid4().hex[:8]}"
    admin = ServerWarehouse(SERVER_URL)
    admin.command(f"CREATE DATABASE {database} ON CLUSTER '{SERVER_CLUSTER}'")
    url = f"{SERVER_URL.rsplit('/', 1)[0]}/{database}"
    warehouse = ServerWarehouse(url)
    try:
        assert len(migrate(warehouse, cluster=SERVER_CLUSTER)) == len(load_migrations())
        assert migrate(warehouse, cluster=SERVER_CLUSTER) == []
        settings = Settings(warehouse_url=url, warehouse_cluster=SERVER_CLUSTER)
        apply_retention(warehouse, settings)
        assert apply_retention(warehouse, settings) == []
        at = datetime.now(UTC)
        rows = [
            {
                "event_id": f"e{i}",
                "device_id": "d1",
                "plate_number": f"浙A1234{i}",
                "captured_at": at + timedelta(seconds=i),
                "received_at": at,
                "lat": 30.0,
                "lon": 120.0 + i,
            }
            for i in range(5)
        ]
        warehouse.insert("plate_captures", rows, dedup_token="batch-1")
        warehouse.insert("plate_captures", rows, dedup_token="batch-1")  # a retry: dropped
        assert warehouse.query("SELECT count() AS n FROM plate_captures") == [{"n": 5}]
        hourly = warehouse.query("SELECT sum(events) AS n FROM device_hourly")
        assert [int(r["n"]) for r in hourly] == [5]
        positions = warehouse.query("SELECT device_id, lon FROM device_positions FINAL")
        assert positions == [{"device_id": "d1", "lon": 124.0}]
    finally:
        warehouse.close()
        admin.command(f"DROP DATABASE IF EXISTS {database} ON CLUSTER '{SERVER_CLUSTER}' SYNC")
        admin.close()


def test_the_docs_show_every_sharding_key() -> None:
    docs = (ROOT / "docs" / "clickhouse-cluster.md").read_text(encoding="utf-8")
    for table, sharding in SHARDED.items():
        assert f"| `{table}` | `{sharding.key}` |" in docs, table
    for table in EVERYWHERE:
        assert f"`{table}`" in docs, table
