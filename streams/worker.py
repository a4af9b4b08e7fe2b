"""Starts the faust worker after checking everything it needs, so bad setup fails in one line."""

from __future__ import annotations

from streams.errors import ConfigError
from streams.kafka_admin import ensure_topics
from streams.localkafka import port_is_free
from streams.runtime import install_warehouse
from streams.settings import Settings
from streams.warehouse import open_warehouse
from streams.warehouse.migrations import migrate
from streams.warehouse.offloop import OffLoopWarehouse


def prepare_worker(settings: Settings) -> None:
    """Broker reachable, topics present, warehouse open and migrated, web port free."""
    ensure_topics(settings)
    if not port_is_free(settings.web_port, settings.web_host):
        raise ConfigError(
            f"port {settings.web_port} on {settings.web_host} is in use; "
            "set STREAMS_WEB_PORT to a free port"
        )
    warehouse = open_warehouse(settings)
    migrate(warehouse)
    install_warehouse(OffLoopWarehouse(warehouse))


def run_worker(settings: Settings, loglevel: str = "warn") -> None:
    prepare_worker(settings)
    import faust

    import streams.agents
    import streams.worker_web  # noqa: F401  (registers the HTTP endpoints)
    from streams.app import app

    faust.Worker(app, loglevel=loglevel, quiet=True).execute_from_commandline()
