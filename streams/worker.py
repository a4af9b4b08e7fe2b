"""Starts the faust worker after checking everything it needs, so bad setup fails in one line."""

from __future__ import annotations

import gc
import logging
import os
import sys

import mode

from streams.errors import ConfigError
from streams.kafka_admin import prepare_topics
from streams.localkafka import port_is_free
from streams.settings import Settings
from streams.warehouse import Warehouse, open_warehouse


def prepare_worker(settings: Settings) -> Warehouse:
    """Broker reachable, topics present with their declared configuration, warehouse open,
    migrated and its retention set, web port free."""
    from streams.warehouse.retention import bring_up_to_date

    prepare_topics(settings)
    if not port_is_free(settings.web_port, settings.web_host):
        raise ConfigError(
            f"port {settings.web_port} on {settings.web_host} is in use; "
            "set STREAMS_WEB_PORT to a free port"
        )
    warehouse = open_warehouse(settings)
    bring_up_to_date(warehouse, settings, progress=_to_stderr)
    return warehouse


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_worker(settings: Settings, loglevel: str = "warn", with_api: bool = False) -> None:
    """Run the pipeline worker; ``with_api`` also hosts the search API in this process (the
    embedded warehouse admits one process, so ``streams run`` serves search from here)."""
    if with_api and not port_is_free(settings.api_port, settings.api_host):
        raise ConfigError(
            f"port {settings.api_port} on {settings.api_host} is in use; "
            "set STREAMS_API_PORT to a free port"
        )
    from streams.agents import selected_stages

    selected_stages(settings)  # a bad list is reported before anything starts
    warehouse = prepare_worker(settings)
    import aiokafka  # noqa: F401  (its loggers exist once its modules are loaded)
    import faust

    from streams.log_repeats import condense, loggers_under

    condense(loggers_under("aiokafka"))  # faust's clients retrying a broker that is down

    from streams import runtime
    from streams.agents import build_stages
    from streams.agents.runner import StageRunner, StageService
    from streams.warehouse.offloop import OffLoopWarehouse

    # Window state keeps hundreds of thousands of small objects alive: with the default
    # thresholds the collector's full passes over them stall every stage (alert latency).
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)
    runners = [
        StageRunner(settings, stage, on_fatal=lambda _exc: None)
        for stage in build_stages(settings, warehouse)
    ]
    stages = StageService(runners)
    runtime.install(OffLoopWarehouse(warehouse), stages)
    import streams.worker_web  # noqa: F401  (registers the HTTP endpoints)
    from streams.app import app

    services: list[mode.ServiceT] = [stages]
    if with_api:
        from streams.api.server import ApiService, build_api
        from streams.search.service import SearchService

        api = build_api(SearchService(warehouse), settings)
        services.append(ApiService(api, settings.api_host, settings.api_port))
    try:
        faust.Worker(app, *services, loglevel=loglevel, quiet=True).execute_from_commandline()
    except SystemExit as exc:  # a clean stop: every stage has flushed and committed
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    else:
        code = 0
    warehouse.close()
    # Skip interpreter teardown: Kafka clients destroyed during it (their threads call back
    # into Python) can crash the process after a clean stop.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
