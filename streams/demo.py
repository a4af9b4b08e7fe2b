"""The main job (``streams demo``, the README's first command): the local broker, the backbone
on the embedded warehouse (``streams run``), the gateway, a small generated city whose hour of
traffic is replayed through the gateway at high speed, a summary once everything landed, a few
investigator searches through the search API, and the API left running."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from streams.errors import UserError
from streams.localkafka import development_broker, port_is_free
from streams.replay import Pacing
from streams.settings import Settings


class DemoError(UserError):
    pass


@dataclass(frozen=True)
class DemoOptions:
    cameras: int = 300
    vehicles: int = 1500
    hours: float = 1.0
    speedup: float = 90.0
    exit: bool = False
    json: bool = False
    keep_broker: bool = False


def run_demo(settings: Settings, options: DemoOptions) -> int:
    broker = development_broker(settings)
    summary: dict[str, Any] = {}
    out = sys.stdout
    # With --json, progress goes to stderr and the summary alone to stdout.
    progress = contextlib.redirect_stdout(sys.stderr) if options.json else contextlib.nullcontext()
    with progress:
        print(f"[1/6] local Kafka at {broker.bootstrap} ...", flush=True)
        started_broker = broker.up()
        try:
            settings = settings.model_copy(update={"kafka_bootstrap_servers": broker.bootstrap})
            summary = _demo_on(settings, options)
        finally:
            if started_broker and not options.keep_broker:
                broker.down()
                print("stopped the local Kafka broker (keep it with --keep-broker)", flush=True)
    if options.json:
        out.write(json.dumps(summary, ensure_ascii=False) + "\n")
    return 0


def _check_ports(settings: Settings) -> None:
    for port, host, name in (
        (settings.web_port, settings.web_host, "STREAMS_WEB_PORT"),
        (settings.api_port, settings.api_host, "STREAMS_API_PORT"),
        (settings.gateway_port, settings.gateway_host, "STREAMS_GATEWAY_PORT"),
    ):
        if not port_is_free(port, host):
            raise DemoError(f"port {port} is in use; set {name} to a free port")


def _demo_on(settings: Settings, options: DemoOptions) -> dict[str, Any]:
    from loadtest.generate import CityConfig, generate, write_city
    from loadtest.run import TrafficRun, alert_latencies, line_of_events

    _check_ports(settings)
    run_id = uuid.uuid4().hex[:6]
    state = (settings.local_dir / "demo" / run_id).resolve()
    city = state / "city"
    print(
        f"[2/6] generating a city: {options.cameras} cameras, {options.vehicles} vehicles, "
        f"{options.hours:g} h of traffic ({city}) ...",
        flush=True,
    )
    write_city(
        generate(
            CityConfig(
                seed=int(run_id, 16),
                cameras=options.cameras,
                vehicles=options.vehicles,
                pedestrians=options.vehicles // 2,
                hours=options.hours,
            )
        ),
        city,
    )
    from loadtest.run import replay_lateness

    pacing = Pacing(speedup=options.speedup)
    # Topics and consumer groups of this run: a second demo never meets the first one's state.
    settings = settings.model_copy(
        update={
            "lateness_seconds": replay_lateness(settings, pacing, city),
            "topic_prefix": f"{settings.topic_prefix}demo-{run_id}.",
            "app_id": f"demo-{run_id}",
            "devices_csv": city / "devices.csv",
        }
    )
    keys = _demo_keys(settings)
    print("[3/6] made API keys for demo-investigator and demo-auditor", flush=True)
    run = TrafficRun(settings, city, state, command="run", via_gateway=True)
    print(f"[4/6] starting the backbone (streams run) and the gateway; logs in {state}/logs")
    try:
        run.up()
        print(
            f"[5/6] replaying {options.hours:g} h of traffic through the gateway at "
            f"x{options.speedup:g} ...",
            flush=True,
        )
        replayed = run.replay(pacing)
        progress = run.drain(replayed.sent, timeout=900)
        received = run.alerts(sum(progress.alerts.values()))
        line_of = line_of_events(city, run.start)
        latency = sorted(alert_latencies(received, line_of, replayed.intended))
        summary = {
            "events_in": replayed.sent,
            "events_landed": progress.landed,
            "dead_letters": progress.dead_letters,
            "duplicates_dropped": progress.duplicates,
            "alerts": dict(sorted(progress.alerts.items())),
            "e2e_latency_ms_p99": _p99(latency),
        }
        print("[6/6] everything landed", flush=True)
        searches = DemoSearches(settings, keys, city, run.start)
        answers = searches.run()
        summary["searches"] = {title: len(rows) for title, _text, rows in answers}
        if not options.json:
            _print_summary(summary, replayed.summary(), answers)
        if options.exit:
            return summary
        _serve_until_interrupted(run, settings, keys)
    finally:
        run.down()
    return summary


def _p99(values: list[float]) -> float | None:
    from loadtest.report import percentiles

    value = percentiles(values)["p99"]
    return None if value is None else float(value)


def _print_summary(
    summary: dict[str, Any], replay: dict[str, Any], answers: list[tuple[str, str, list[Any]]]
) -> None:
    print(
        f"\nsummary: {summary['events_in']:,} payloads in through the gateway "
        f"({replay['rate']:,.0f}/s), {summary['events_landed']:,} unique events landed, "
        f"{summary['duplicates_dropped']:,} duplicates dropped, "
        f"{summary['dead_letters']:,} dead letters"
    )
    alerts = ", ".join(f"{rule} {n}" for rule, n in summary["alerts"].items()) or "none"
    print(f"alerts by rule: {alerts}")
    p99 = summary["e2e_latency_ms_p99"]
    print(f"capture to alert latency p99: {'-' if p99 is None else f'{p99:,.0f} ms'}")
    for title, text, _rows in answers:
        print(f"\n{title}\n{text}")


def _serve_until_interrupted(run: Any, settings: Settings, keys: dict[str, str]) -> None:
    from streams.search_cli import api_url

    print(
        f"\nthe search API is running at {api_url(settings)} (OpenAPI at /openapi.json).\n"
        f"  investigator key: {keys['investigator']}\n  auditor key:      {keys['auditor']}\n"
        f"try: STREAMS_API_TOKEN={keys['investigator']} streams search plate --plate '浙A*' "
        "--reason 'demonstration search' --case DEMO-0001\n"
        "press Ctrl-C to stop (the data stays in the warehouse)",
        flush=True,
    )
    wait_for_stop(run.backbone.check_alive)


# Ctrl-C in a terminal reaches the backbone's processes too, and one of them may be seen gone
# before the signal is seen here: give the signal this long before calling it a crash.
SIGNAL_GRACE_SECONDS = 2.0


def wait_for_stop(check_alive: Any, every: float = 1.0) -> None:
    """Until SIGINT or SIGTERM, call ``check_alive`` (which raises if a process of the backbone
    has ended) every ``every`` seconds; a process that ended with the signal is no error."""
    from loadtest.backbone import BackboneError

    stop = threading.Event()
    handlers = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        while not stop.wait(every):
            try:
                check_alive()
            except BackboneError:
                if not stop.wait(SIGNAL_GRACE_SECONDS):
                    raise
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def _demo_keys(settings: Settings) -> dict[str, str]:
    """Keys for a demo investigator and auditor, made on the warehouse before ``streams run``
    holds it (that is how the first keys of an embedded warehouse are made)."""
    from streams.search.access import Role
    from streams.search_cli import direct_service

    with direct_service(settings) as service:
        return {
            role.value: service.keys.create(f"demo-{role.value}", role, created_by="demo")
            for role in (Role.INVESTIGATOR, Role.AUDITOR)
        }


_DEMO_REASON = {"reason": "demonstration of the search", "case_ref": "DEMO-0001"}


class DemoSearches:
    """The investigator's searches over this run's traffic, through the running search API:
    picked from the ground truth so each has something to find."""

    def __init__(
        self, settings: Settings, keys: dict[str, str], city: Path, start: datetime | None
    ) -> None:
        from loadtest.targets import demo_targets
        from loadtest.truth import read_truth
        from streams.search_cli import ApiClient, api_url

        if start is None:
            raise DemoError(f"{city / 'city.json'} names no scenario start")
        self.investigator = ApiClient(api_url(settings), keys["investigator"])
        self.auditor = ApiClient(api_url(settings), keys["auditor"])
        self.targets = demo_targets(read_truth(city / "truth.json"), city / "devices.csv")
        self.since = start
        self.until = start + timedelta(hours=2)

    def _search(self, kind: str, query: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self.investigator.call(
            "POST", f"/api/v1/search/{kind}", {**_DEMO_REASON, "query": query}
        )
        return answer

    def run(self) -> list[tuple[str, str, list[Any]]]:
        from streams.search_cli import format_rows

        targets = self.targets
        window = {"since": self.since.isoformat(), "until": self.until.isoformat()}
        answers: list[tuple[str, str, list[Any]]] = []
        path = self._search("trajectory", {"plate": targets.cloned_plate, **window})
        answers.append(
            (
                f"search: trajectory of {targets.cloned_plate} (a cloned plate: two cars carry it)",
                format_rows(["captured_at", "device_id", "lat", "lon"], path["rows"]),
                path["rows"],
            )
        )
        sets = [
            {
                "area": {"lat": lat, "lon": lon, "radius_m": 300},
                "since": (self.since + timedelta(seconds=at - 120)).isoformat(),
                "until": (self.since + timedelta(seconds=at + 120)).isoformat(),
            }
            for lat, lon, at in targets.collision_sets
        ]
        if len(sets) >= 2:  # a collision needs two sets
            collision = self._search("collision", {"sets": sets})
            answers.append(
                (
                    f"search: collision: plates seen near {len(sets)} places of a convoy's "
                    "route, each within 2 minutes of its passing",
                    format_rows([], collision["rows"][:10]),
                    collision["rows"],
                )
            )
        cotravel = self._search("cotravel", {"plate": targets.convoy_plate, **window})
        answers.append(
            (
                f"search: vehicles that travelled with {targets.convoy_plate} (co-travel, ranked)",
                format_rows([], cotravel["rows"][:10]),
                cotravel["rows"],
            )
        )
        trail = self.auditor.call("GET", "/api/v1/audit?case_ref=DEMO-0001&limit=5")
        answers.append(
            (
                "audit trail of case DEMO-0001, as an auditor reads it (newest first):",
                format_rows(
                    ["at", "user", "kind", "outcome", "result_count", "case_ref"], trail["rows"]
                ),
                trail["rows"],
            )
        )
        return answers
