"""The ``streams`` command line."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from streams.errors import UserError
from streams.settings import Settings, load_settings

if TYPE_CHECKING:
    from streams.localkafka import LocalKafka

Handler = Callable[[argparse.Namespace, Settings], int]
LOG_LEVELS = ["crit", "error", "warn", "info", "debug"]


def _local_kafka(settings: Settings) -> LocalKafka:
    from streams.localkafka import development_broker

    return development_broker(settings)


class _LocalService(Protocol):
    def up(self) -> bool: ...
    def down(self) -> bool: ...
    def running_pid(self) -> int | None: ...
    def log_tail(self, lines: int = 15) -> str: ...


def _dev_service(
    args: argparse.Namespace, service: _LocalService, name: str, where: str, started: str
) -> int:
    """``streams dev SERVICE up|down|status|logs``; ``started`` is said after a start."""
    if args.action == "up":
        state = "started" if service.up() else "already running"
        print(f"{name} {state} at {where} (pid {service.running_pid()}); {started}")
    elif args.action == "down":
        print(f"{name} stopped" if service.down() else f"{name} was not running")
    elif args.action == "status":
        pid = service.running_pid()
        if pid is None:
            print(f"{name} is not running")
            return 1
        print(f"{name} running at {where} (pid {pid})")
    elif args.action == "logs":
        print(service.log_tail(args.lines))
    return 0


def cmd_dev_kafka(args: argparse.Namespace, settings: Settings) -> int:
    broker = _local_kafka(settings)
    code = _dev_service(args, broker, "kafka", broker.bootstrap, f"data in {broker.home}")
    if args.action == "down" and args.wipe:
        broker.wipe()
        print(f"removed {broker.home}")
    return code


def cmd_dev_registry(args: argparse.Namespace, settings: Settings) -> int:
    from streams.localregistry import development_registry

    registry = development_registry(settings)
    use = f"use it with STREAMS_SCHEMA_REGISTRY_URL={registry.url}"
    return _dev_service(args, registry, "schema registry", registry.url, use)


def cmd_topics(args: argparse.Namespace, settings: Settings) -> int:
    from streams.kafka_admin import existing_topics, prepare_topics
    from streams.topics import ALL_TOPICS

    if args.action == "create":
        changes = prepare_topics(settings)
        created = changes.created
        print(f"created {len(created)} topics" + (": " + ", ".join(created) if created else ""))
        for name, entries in sorted(changes.updated.items()):
            shown = ", ".join(f"{key}={value}" for key, value in sorted(entries.items()))
            print(f"updated the configuration of {name}: {shown}")
    else:
        present = existing_topics(settings)
        for spec in ALL_TOPICS:
            name = settings.topic(spec.name)
            mark = "ok     " if name in present else "missing"
            print(f"{mark} {name:40} {spec.description}")
    return 0


def _wait_for_migrations(settings: Settings, timeout: float) -> int:
    from streams.warehouse import open_warehouse
    from streams.warehouse.migrations import wait_until_migrated

    if timeout < 0:
        raise UserError("--wait needs a number of seconds >= 0")
    warehouse = open_warehouse(settings)
    try:
        wait_until_migrated(
            warehouse, timeout=timeout, progress=lambda message: print(message, flush=True)
        )
    finally:
        warehouse.close()
    print(f"warehouse {warehouse.description} is up to date")
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    if args.print_clustered:
        if args.enforce_retention:
            raise UserError("--print-clustered connects nowhere; --enforce-retention needs it")
        return _print_clustered(args)
    if args.cluster is not None or args.database is not None:
        raise UserError(
            "--cluster and --database go with --print-clustered; the cluster `streams migrate` "
            "applies is STREAMS_WAREHOUSE_CLUSTER"
        )
    if args.wait is not None:
        if args.enforce_retention:
            raise UserError("--wait applies nothing; --enforce-retention goes without it")
        return _wait_for_migrations(settings, args.wait)
    from streams.warehouse import open_warehouse
    from streams.warehouse.retention import bring_up_to_date, enforce_retention

    warehouse = open_warehouse(settings)
    try:
        done, retimed = bring_up_to_date(
            warehouse, settings, progress=lambda message: print(message, flush=True)
        )
        for migration in done:
            print(f"applied {migration.version:04d}_{migration.name}")
        if retimed:
            print(f"retention set from the settings on {', '.join(r.table for r in retimed)}")
        if args.enforce_retention:
            started = time.monotonic()
            enforced = enforce_retention(
                warehouse, settings, progress=lambda message: print(message, flush=True)
            )
            print(
                f"retention enforced on {len(enforced)} tables in "
                f"{time.monotonic() - started:.1f} s"
            )
    finally:
        warehouse.close()
    print(f"warehouse {warehouse.description} is up to date ({len(done)} applied now)")
    return 0


def _print_clustered(args: argparse.Namespace) -> int:
    from streams.warehouse.clustered import DEFAULT_CLUSTER
    from streams.warehouse.migrations import clustered_schema

    print(clustered_schema(args.cluster or DEFAULT_CLUSTER, args.database), end="")
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from streams.worker import run_worker

    run_worker(settings, loglevel=args.loglevel)
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from streams.demo import DemoOptions, run_demo

    options = DemoOptions(
        cameras=args.cameras,
        vehicles=args.vehicles,
        speedup=args.speedup,
        exit=args.exit,
        json=args.json,
        keep_broker=args.keep_broker,
    )
    return run_demo(settings, options)


def cmd_normalize(args: argparse.Namespace, settings: Settings) -> int:
    from streams.normalize_files import normalize_files

    if args.devices is not None:
        settings = settings.model_copy(update={"devices_csv": args.devices})
    return normalize_files(
        settings, args.source, args.files, key=args.device, content_type=args.content_type
    )


def cmd_gateway(args: argparse.Namespace, settings: Settings) -> int:
    from streams.gateway.server import run_gateway

    run_gateway(settings)
    return 0


def cmd_deadletters(args: argparse.Namespace, settings: Settings) -> int:
    from streams.agents import STAGE_NAMES
    from streams.deadletter_tools import LetterFilter, list_dead_letters, replay_dead_letters

    if args.stage is not None and args.stage not in STAGE_NAMES:
        raise UserError(f"--stage {args.stage!r}: the stages are {', '.join(STAGE_NAMES)}")
    which = LetterFilter(source=args.source, stage=args.stage, contains=args.reason)
    if args.action == "list":
        return list_dead_letters(settings, which, limit=args.limit, as_json=args.json)
    return replay_dead_letters(settings, which, dry_run=args.dry_run)


def cmd_correlate(args: argparse.Namespace, settings: Settings) -> int:
    from streams.correlate_files import correlate_file

    return correlate_file(settings.rule_config(), args.events, args.devices, args.watchlist)


def cmd_alerts(args: argparse.Namespace, settings: Settings) -> int:
    from streams.alerts_tail import tail_alerts

    return tail_alerts(
        settings,
        from_beginning=args.from_beginning,
        rules=args.rule,
        as_json=args.json,
        limit=args.limit,
        idle_seconds=args.idle_exit,
    )


def cmd_watchlist(args: argparse.Namespace, settings: Settings) -> int:
    from streams import watchlist_cli

    if args.action == "add":
        return watchlist_cli.add_entry(
            settings,
            plate=args.plate,
            embedding_file=args.face_embedding,
            threshold=args.threshold,
            priority=args.priority,
            reason=args.reason,
            case=args.case,
            expires=args.expires,
            days=args.days,
            entry_id=args.id,
        )
    if args.action == "remove":
        if not args.entry_ids:
            raise UserError("usage: streams watchlist remove ID [ID...]")
        return watchlist_cli.remove(settings, args.entry_ids)
    if args.action == "load":
        if args.file is None and len(args.entry_ids) != 1:
            raise UserError("usage: streams watchlist load FILE")
        return watchlist_cli.load_file(settings, args.file or Path(args.entry_ids[0]))
    return watchlist_cli.list_entries(settings, args.json)


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from streams.worker import run_worker

    run_worker(settings, loglevel=args.loglevel, with_api=True)
    return 0


def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    from streams.api.server import serve_api
    from streams.search_cli import direct_service

    with direct_service(settings) as service:
        serve_api(service, settings)
    return 0


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from streams.search_cli import run_search_command

    return run_search_command(args, settings)


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    from streams.search_cli import run_audit_command

    return run_audit_command(args, settings)


def cmd_users(args: argparse.Namespace, settings: Settings) -> int:
    from streams.search_cli import run_users_command

    if args.action in ("add", "revoke") and not args.user:
        raise UserError(
            f"usage: streams users {args.action} USER"
            + (" --role ROLE" if args.action == "add" else "")
        )
    if args.action == "add" and not args.role:
        raise UserError("streams users add needs --role (investigator, supervisor, auditor, admin)")
    return run_users_command(args, settings)


def cmd_bench_warehouse(args: argparse.Namespace, settings: Settings) -> int:
    if args.what == "sink":
        from streams.bench import sink

        return sink.run(args, settings)
    from streams.bench import search

    return search.run(args, settings)


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    if args.what == "correlate":
        from streams.bench.correlate import run_bench

        broker = _local_kafka(settings)
        started = broker.up() if args.events else False
        try:
            if args.events:
                settings = settings.model_copy(update={"kafka_bootstrap_servers": broker.bootstrap})
            return run_bench(
                settings,
                events=args.events,
                pure_events=args.pure_events,
                rate=args.rate,
                seconds=args.latency_seconds,
                restart_after=args.restart_after,
                as_json=args.json,
            )
        finally:
            if started:
                broker.down()
    return _bench_normalize(args, settings)


def _bench_normalize(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from streams.bench.normalize import bench_adapters, bench_agent, load_payloads

    payloads = load_payloads(args.payloads) if args.payloads else load_payloads()
    print("normalize, pure adapters (one core):", flush=True)
    adapters = bench_adapters(payloads, args.seconds)
    for source, numbers in adapters.items():
        print(
            f"  {source:16} {numbers['events_per_cpu_second']:>8} events/s  "
            f"{numbers['us_per_event']:>7} us/event",
            flush=True,
        )
    report: dict[str, object] = {"adapters": adapters}
    if args.agent_payloads:
        broker = _local_kafka(settings)
        started = broker.up()
        try:
            settings = settings.model_copy(update={"kafka_bootstrap_servers": broker.bootstrap})
            agent = bench_agent(settings, payloads, args.agent_payloads)
        finally:
            if started:
                broker.down()
        print(
            f"normalize agent, one worker process through Kafka: "
            f"{agent['payloads_per_second']} payloads/s wall, "
            f"{agent['payloads_per_cpu_second']} payloads per worker CPU-second",
            flush=True,
        )
        report["agent"] = agent
    if args.json:
        print(json.dumps(report, indent=2))
    return 0


def cmd_settings(args: argparse.Namespace, settings: Settings) -> int:
    for name, value in settings.model_dump().items():
        print(f"STREAMS_{name.upper()}={value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streams",
        description="Event-stream backbone for public-safety video networks. Every setting "
        "is read from an environment variable STREAMS_<NAME>; `streams settings` lists them.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="the main job: a small city's hour of traffic through the whole backbone",
        description="Starts the local broker, the backbone on the embedded warehouse "
        "(streams run: pipeline, sinks, search API) and the gateway; generates a small city; "
        "replays an hour of its traffic through the gateway at high speed; waits until "
        "everything landed; prints a summary (events in, landed, duplicates dropped, dead "
        "letters, alerts by rule, capture-to-alert latency) and the answers to investigator "
        "searches (a trajectory, a collision, a co-travel) made through the search API; then "
        "leaves the API running until Ctrl-C (--exit stops instead).",
    )
    demo.add_argument("--cameras", type=int, default=300, help="cameras (default 300)")
    demo.add_argument("--vehicles", type=int, default=1500, help="vehicles (default 1500)")
    demo.add_argument(
        "--speedup", type=float, default=90, help="replay speed-up (default 90: 1 h in 40 s)"
    )
    demo.add_argument("--exit", action="store_true", help="stop everything after the searches")
    demo.add_argument(
        "--json",
        action="store_true",
        help="print the summary as one JSON object (progress goes to stderr)",
    )
    demo.add_argument(
        "--keep-broker",
        action="store_true",
        help="leave the local broker running if the demo started it",
    )
    demo.set_defaults(handler=cmd_demo)

    worker = sub.add_parser(
        "worker",
        help="run the pipeline worker (owns the embedded warehouse)",
        description="Runs the pipeline stages (STREAMS_WORKER_STAGES, default all: normalize, "
        "raw archive, dedup and correlation, warehouse sinks) against STREAMS_KAFKA_BOOTSTRAP_"
        "SERVERS and STREAMS_WAREHOUSE_URL. It checks the broker, creates missing topics and "
        "migrates the warehouse first. HTTP on STREAMS_WEB_HOST:STREAMS_WEB_PORT: /healthz, "
        "/readyz, /stats, /metrics (docs/metrics.md). Start more workers (same STREAMS_APP_ID) "
        "to share the partitions; stop with SIGTERM or Ctrl-C (it flushes and commits first).",
    )
    worker.add_argument("--loglevel", default="warn", choices=LOG_LEVELS)
    worker.set_defaults(handler=cmd_worker)

    migrate = sub.add_parser(
        "migrate",
        help="apply pending warehouse migrations (or print the clustered schema)",
        description="Applies the pending migrations of schemas/clickhouse/ to the warehouse of "
        "STREAMS_WAREHOUSE_URL, then sets each table's retention from the settings. With "
        "STREAMS_WAREHOUSE_CLUSTER set (clickhouse:// only) it applies their clustered form: "
        "Replicated *_local tables and Distributed tables over them, ON CLUSTER "
        "(docs/clickhouse-cluster.md). --print-clustered prints that clustered schema instead, "
        "connecting nowhere.",
    )
    migrate.add_argument(
        "--print-clustered",
        action="store_true",
        help="print the clustered schema derived from the migrations and exit (no connection)",
    )
    migrate.add_argument(
        "--cluster",
        metavar="NAME",
        help="with --print-clustered: the cluster name or {macro} (default '{cluster}', the "
        "macro the Altinity operator defines on every node)",
    )
    migrate.add_argument(
        "--database",
        metavar="NAME",
        help="with --print-clustered: qualify every name with this database, as `streams "
        "migrate` does (default: unqualified names)",
    )
    migrate.add_argument(
        "--enforce-retention",
        action="store_true",
        help="then apply each table's retention to the rows already stored, at once: rows "
        "past it are deleted. A changed retention otherwise reaches existing rows only as their "
        "parts merge; run this after shortening one. Rewrites the parts holding expired rows "
        "(minutes on large tables)",
    )
    migrate.add_argument(
        "--wait",
        type=float,
        metavar="SECONDS",
        help="apply nothing: wait up to SECONDS until another process (a deploy's migration "
        "Job) has applied every migration, then exit 0; exit 1 if it has not by then. For "
        "init containers: a migration that rebuilds a table must run in one process only",
    )
    migrate.set_defaults(handler=cmd_migrate)

    topics = sub.add_parser("topics", help="create or list the declared Kafka topics")
    topics.add_argument("action", choices=["create", "list"])
    topics.set_defaults(handler=cmd_topics)

    dev = sub.add_parser("dev", help="local development services")
    dev_sub = dev.add_subparsers(dest="service", required=True, metavar="SERVICE")
    kafka = dev_sub.add_parser(
        "kafka", help="single-node Kafka (KRaft) on 127.0.0.1 from Maven Central jars"
    )
    kafka.add_argument("action", choices=["up", "down", "status", "logs"])
    kafka.add_argument("--wipe", action="store_true", help="with down: delete data and logs")
    kafka.add_argument("--lines", type=int, default=30, help="with logs: lines to show")
    kafka.set_defaults(handler=cmd_dev_kafka)
    registry = dev_sub.add_parser(
        "registry",
        help="Confluent-compatible schema registry on 127.0.0.1 (Apicurio, from Maven Central)",
        description="A schema registry for trying Confluent framing locally: built once from "
        "Maven Central, run with Java 17 on STREAMS_LOCAL_REGISTRY_PORT, schemas kept in memory "
        "(a restart forgets them), compatibility BACKWARD. Point STREAMS_SCHEMA_REGISTRY_URL at "
        "the URL `up` prints.",
    )
    registry.add_argument("action", choices=["up", "down", "status", "logs"])
    registry.add_argument("--lines", type=int, default=30, help="with logs: lines to show")
    registry.set_defaults(handler=cmd_dev_registry)

    from streams.topics import SOURCES

    gateway = sub.add_parser(
        "gateway",
        help="HTTP receiver for vendor pushes (GA/T 1400, ISAPI, LAPI, /push/SOURCE)",
        description="Listens on STREAMS_GATEWAY_HOST:STREAMS_GATEWAY_PORT for camera and "
        "platform pushes and writes each body, unchanged, to its raw.<source> topic; it answers "
        "once the broker has it (503 with Retry-After when its queue is full). Routes and "
        "device identification: docs/gateway.md. Also /healthz, /readyz, /stats, /metrics.",
    )
    gateway.set_defaults(handler=cmd_gateway)

    norm = sub.add_parser(
        "normalize",
        help="print the canonical events of raw payload files, one JSON object per line",
        description="Reads raw payload files (the body as it arrives on raw.<source>) and prints "
        "one JSON object per line: canonical events (kind plate, face or alarm) or "
        '{"kind": "dead_letter", "reason": ...} for input that cannot be used. Exit status 0 '
        "even when some input is dead-lettered.",
    )
    norm.add_argument("--source", required=True, choices=SOURCES, help="payload format")
    norm.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help="payload files; - for stdin"
    )
    norm.add_argument("--devices", type=Path, help="device registry CSV for positions and zones")
    norm.add_argument("--device", help="device hint, as the gateway sets it (Kafka key)")
    norm.add_argument("--content-type", help="HTTP Content-Type of the payload (multipart bodies)")
    norm.set_defaults(handler=cmd_normalize)

    dead = sub.add_parser(
        "deadletters",
        help="list dead letters, or replay them to where they came from after a fix",
        description="list: print dead letters (newest last). replay: produce their original "
        "bytes back to the topic they came from (raw.<source> for payloads an adapter refused, "
        "the warehouse sink's input for records the warehouse refused; header x-replay-of), "
        "continuing after the last replay.",
    )
    dead.add_argument("action", choices=["list", "replay"])
    dead.add_argument("--source", choices=SOURCES, help="only dead letters of this source")
    dead.add_argument("--reason", help="only dead letters whose reason contains this text")
    dead.add_argument(
        "--stage",
        help="only dead letters of this stage (normalize: payloads an adapter refused; "
        "warehouse_sink, raw_archive: records the warehouse could not store)",
    )
    dead.add_argument("--limit", type=int, default=100, help="with list: at most this many")
    dead.add_argument("--json", action="store_true", help="with list: JSON lines")
    dead.add_argument("--dry-run", action="store_true", help="with replay: count, send nothing")
    dead.set_defaults(handler=cmd_deadletters)

    corr = sub.add_parser(
        "correlate",
        help="deduplicate and correlate canonical events from a file, as the worker does",
        description="Reads canonical events as JSON lines (what `streams normalize` prints; stdin "
        "when no file is given) and prints the unique events (same shape, with "
        "absorbed_event_ids and late), the alerts (kind alert: rule, alert_id, priority, "
        "plate_numbers, event_ids, evidence) and person-vehicle correlations, one JSON object "
        "per line. Rule figures come from the STREAMS_* settings (see `streams settings`). "
        "A watchlist file has one plate pattern per line (* any run, ? one character), "
        "optionally followed by ,PRIORITY (1 is the most urgent); # starts a comment.",
    )
    corr.add_argument("events", nargs="?", type=Path, metavar="EVENTS.jsonl", help="input file")
    corr.add_argument("--devices", type=Path, help="device registry CSV (positions of devices)")
    corr.add_argument("--watchlist", type=Path, help="watchlist file of plate patterns")
    corr.set_defaults(handler=cmd_correlate)

    alerts = sub.add_parser("alerts", help="follow the alert topic")
    alerts.add_argument("action", choices=["tail"])
    alerts.add_argument("--from-beginning", action="store_true", help="start at the oldest alert")
    alerts.add_argument("--rule", action="append", help="only this rule (repeatable)")
    alerts.add_argument("--json", action="store_true", help="JSON lines instead of text")
    alerts.add_argument("--limit", type=int, help="stop after this many alerts")
    alerts.add_argument(
        "--idle-exit", type=float, metavar="SECONDS", help="stop after this long without alerts"
    )
    alerts.set_defaults(handler=cmd_alerts)

    watch = sub.add_parser(
        "watchlist",
        help="manage the watchlist (plate patterns, face embeddings)",
        description="Entries live on the compacted watchlist topic; every worker applies a "
        "change within a second. add: one entry; load FILE: plate patterns, one per line "
        "(,PRIORITY optional); remove ID...: delete entries; list: the current entries.",
    )
    watch.add_argument("action", choices=["add", "remove", "list", "load"])
    watch.add_argument(
        "entry_ids", nargs="*", metavar="ID", help="with remove: entry ids; with load: the file"
    )
    watch.add_argument("--plate", help="with add: plate pattern (* any run, ? one character)")
    watch.add_argument(
        "--face-embedding", type=Path, metavar="FILE", help="with add: JSON array of floats"
    )
    watch.add_argument("--threshold", type=float, help="with a face: cosine similarity to match")
    watch.add_argument("--priority", type=int, default=3, help="1 is the most urgent (default 3)")
    watch.add_argument("--reason", default="", help="with add: why the target is watched")
    watch.add_argument("--case", help="case number or reference")
    watch.add_argument("--expires", help="ISO 8601 time with zone after which it stops matching")
    watch.add_argument("--days", type=float, help="expires after this many days")
    watch.add_argument("--id", help="entry id (default: derived)")
    watch.add_argument("--file", type=Path, help="with load: the watchlist file")
    watch.add_argument("--json", action="store_true", help="with list: JSON lines")
    watch.set_defaults(handler=cmd_watchlist)

    _bench_parsers(sub)
    _search_parsers(sub)

    from streams.traffic_cli import add_traffic_parsers

    add_traffic_parsers(sub)

    show = sub.add_parser("settings", help="print the effective settings (secrets masked)")
    show.set_defaults(handler=cmd_settings)
    return parser


def _bench_parsers(sub: Any) -> None:
    bench = sub.add_parser("bench", help="benchmarks that print numbers")
    kinds = bench.add_subparsers(dest="what", required=True, metavar="WHAT")
    norm = kinds.add_parser(
        "normalize", help="normalize throughput: adapters per source, and the stage through Kafka"
    )
    norm.add_argument("--seconds", type=float, default=2.0, help="CPU seconds per adapter")
    norm.add_argument(
        "--agent-payloads",
        type=int,
        default=50_000,
        help="payloads through the agent (0 skips the agent run)",
    )
    norm.add_argument("--payloads", type=Path, help="folder with one folder of payloads per source")
    norm.add_argument("--json", action="store_true", help="also print the numbers as JSON")
    norm.set_defaults(handler=cmd_bench)
    corr = kinds.add_parser(
        "correlate",
        help="dedup and correlation rules, their stages through Kafka, and alert latency",
    )
    corr.add_argument(
        "--events",
        type=int,
        default=300_000,
        help="captures through the worker (the default reaches past the warm-up too)",
    )
    corr.add_argument(
        "--pure-events",
        type=int,
        default=300_000,
        help="captures for the rules alone (the default spans about a minute of event time "
        "past the warm-up, so the lasting rate is reported too)",
    )
    corr.add_argument(
        "--rate",
        type=float,
        default=2_000,
        help="offered captures/s for the latency run (keep it below the worker's throughput, "
        "or latency only measures the growing backlog)",
    )
    corr.add_argument("--latency-seconds", type=float, default=20, help="length of the latency run")
    corr.add_argument(
        "--restart-after",
        type=float,
        default=0,
        metavar="SECONDS",
        help="kill the worker this many seconds into the latency run and start it again at once "
        "under the same STREAMS_WORKER_INSTANCE_ID; report the alerts of the captures sent "
        "after the kill apart (default 0: no restart)",
    )
    corr.add_argument("--json", action="store_true", help="also print the numbers as JSON")
    corr.set_defaults(handler=cmd_bench)

    from streams.bench import search, sink

    sink_parser = kinds.add_parser(
        "sink",
        help="warehouse sink: insert path alone, and the sink stage through Kafka",
        description="Synthetic plate passes: the insert paths alone on a scratch warehouse, "
        "and the sink stage reading them through the local development broker. With "
        "STREAMS_SCHEMA_REGISTRY_URL set (e.g. `streams dev registry up`), the stage reads "
        "them Confluent-framed.",
    )
    sink.add_arguments(sink_parser)
    sink_parser.set_defaults(handler=cmd_bench_warehouse)
    search_parser = kinds.add_parser(
        "search", help="search latency per query kind on generated data, face recall"
    )
    search.add_arguments(search_parser)
    search_parser.set_defaults(handler=cmd_bench_warehouse)

    from streams.bench.side_by_side import add_side_by_side_parser

    add_side_by_side_parser(kinds)

    from streams.bench import gateway

    gateway_parser = kinds.add_parser(
        "gateway",
        help="ingest gateway: payloads/s and payloads per gateway CPU-second, through Kafka",
        description="Post a generated city's payloads to a `streams gateway` process as fast as "
        "it answers (the local broker is started if needed) and print the wall rate and the "
        "gateway's payloads per CPU-second.",
    )
    gateway.add_arguments(gateway_parser)
    gateway_parser.set_defaults(handler=lambda args, settings: gateway.run(args, settings))


def _search_parsers(sub: Any) -> None:
    from streams import search_cli

    run = sub.add_parser(
        "run",
        help="the backbone in one process: pipeline worker, warehouse sinks and the search API",
        description="Runs the pipeline worker (normalize, dedup, correlation, warehouse sinks) "
        "and the search API (STREAMS_API_HOST:STREAMS_API_PORT) in one process: the embedded "
        "warehouse admits one process, so this is how embedded mode serves search.",
    )
    run.add_argument("--loglevel", default="warn", choices=LOG_LEVELS)
    run.set_defaults(handler=cmd_run)

    api = sub.add_parser(
        "api",
        help="the search API alone (server mode, or an embedded warehouse no worker holds)",
        description="Serves the search API (OpenAPI at /openapi.json; docs/search.md) on "
        "STREAMS_API_HOST:STREAMS_API_PORT against STREAMS_WAREHOUSE_URL. Every search needs an "
        "API key, a reason and a case number, and is audited. Also /healthz, /readyz, /metrics. "
        "Run several behind a load balancer against a ClickHouse server; with the embedded "
        "warehouse use `streams run` instead while a worker runs.",
    )
    api.set_defaults(handler=cmd_api)

    search = sub.add_parser(
        "search",
        help="investigators' searches (needs a key, --reason and --case; audited)",
        description="Searches the landed events. Every search needs an API key (--token or "
        "STREAMS_API_TOKEN) of role investigator or supervisor, a reason (--reason) and a case "
        "number (--case), and is written to the audit trail before it answers. Goes through "
        "the search API when one is running (streams run), else to the warehouse directly.",
    )
    search_cli.add_search_parsers(search)
    search.set_defaults(handler=cmd_search)

    audit = sub.add_parser(
        "audit", help="the search audit trail, newest first (needs an auditor's key)"
    )
    search_cli.add_audit_arguments(audit)
    audit.set_defaults(handler=cmd_audit)

    users = sub.add_parser(
        "users",
        help="API keys of users: add (prints the key once), list, revoke",
        description="Roles: investigator (search), supervisor (search, watchlists), auditor "
        "(audit trail only), admin (users only). Through a running API this needs an admin's "
        "key; without one, whoever can open the warehouse may make keys (the first admin).",
    )
    users.add_argument("action", choices=["add", "list", "revoke"])
    users.add_argument("user", nargs="?", metavar="USER", help="with add and revoke: the user")
    users.add_argument("--role", help="with add: investigator, supervisor, auditor or admin")
    users.add_argument("--token", help="an admin's API key (default: STREAMS_API_TOKEN)")
    users.set_defaults(handler=cmd_users)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        handler: Handler = args.handler
        return handler(args, settings)
    except UserError as exc:
        print(f"streams: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
