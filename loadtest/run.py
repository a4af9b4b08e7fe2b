"""``streams loadtest``: a city's traffic replayed through the whole backbone, then measured.

Steps: the local broker; a generated city (or ``--city DIR``); the backbone (``streams worker``
and, with ``--via-gateway``, ``streams gateway``) on topics, consumer groups and a warehouse of
the run's own; the watchlist; the replay, with progress; waiting until everything landed; then,
with the worker stopped, the warehouse is read and scored against the ground truth.
"""

from __future__ import annotations

import base64
import json
import platform
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from loadtest.backbone import LocalBackbone, Progress
from loadtest.generate import WATCHLIST
from loadtest.observe import AlertWatcher, LagSampler, ReceivedAlert
from loadtest.report import percentiles, plot, write_report
from streams.localkafka import development_broker, free_port
from streams.replay import (
    MANIFEST,
    Capture,
    Pacing,
    ReplayResult,
    manifest_start,
    read_captures,
    run_replay,
)
from streams.settings import Settings


@dataclass(frozen=True)
class LoadTestOptions:
    out: Path
    city: Path | None = None
    cameras: int = 2000
    vehicles: int = 5000
    hours: float = 1.0
    seed: int = 7
    pacing: Pacing = field(default_factory=lambda: Pacing(speedup=15.0))
    via_gateway: bool = False
    drain_timeout: float = 900.0


# The pipeline delivers captures to the dedup stage up to about half a second of wall time out
# of received order (normalize merges the per-source raw topics in batches; measured 0.47 s at
# most in a 60x replay). Live, that is well inside the 10 s lateness; a replay at S x turns it
# into S times as much event time, so a run allows this much wall time, in event time.
DISORDER_WALL_SECONDS = 1.0
# What --max is assumed to reach, to scale the lateness of an unpaced replay.
MAX_PAYLOADS_PER_SECOND = 5000.0


def replay_lateness(settings: Settings, pacing: Pacing, city: Path) -> float:
    """The lateness (event-time seconds) a replay of this city at this pacing needs."""
    manifest = json.loads((city / MANIFEST).read_text(encoding="utf-8"))
    duration = float(manifest["duration_seconds"])
    lines = max(int(manifest["counts"]["payload_lines"]), 1)
    if pacing.speedup is not None:
        speedup = pacing.speedup
    else:
        rate = pacing.rate or MAX_PAYLOADS_PER_SECOND
        speedup = duration / (lines / rate)
    return max(settings.lateness_seconds, round(speedup * DISORDER_WALL_SECONDS))


def run_settings(settings: Settings, state: Path, city: Path, tag: str, pacing: Pacing) -> Settings:
    """The run's own topics, consumer groups, state, warehouse and ports, and the lateness
    its replay speed needs."""
    return settings.model_copy(
        update={
            "lateness_seconds": replay_lateness(settings, pacing, city),
            "topic_prefix": f"{tag}.",
            "app_id": tag,
            "data_dir": state / "worker",
            "warehouse_url": f"chdb://{state / 'warehouse'}",
            "devices_csv": (city / "devices.csv").resolve(),
            "web_port": free_port(settings.web_host),
            "api_port": free_port(settings.api_host),
            "gateway_port": free_port(settings.gateway_host),
        }
    )


def make_city(options: LoadTestOptions, into: Path) -> Path:
    if options.city is not None:
        return options.city
    from loadtest.generate import CityConfig, generate, write_city

    config = CityConfig(
        seed=options.seed, cameras=options.cameras, vehicles=options.vehicles, hours=options.hours
    )
    print(
        f"generating a city: {options.cameras} cameras, {options.vehicles} vehicles, "
        f"{options.hours:g} h ...",
        flush=True,
    )
    write_city(generate(config), into)
    return into


class TrafficRun:
    """Backbone up, watchers on, the city replayed, everything landed: the part of a run the
    load test and the main job share."""

    def __init__(
        self, settings: Settings, city: Path, state: Path, *, command: str, via_gateway: bool
    ) -> None:
        self.settings = settings
        self.city = city
        self.start = manifest_start(city / "captures.jsonl")
        self.backbone = LocalBackbone(
            settings, state / "logs", command=command, gateway=via_gateway
        )
        self.via_gateway = via_gateway
        self.started = time.time()
        self.watcher: AlertWatcher | None = None
        self.sampler: LagSampler | None = None

    def up(self) -> None:
        from streams.kafka_admin import ensure_topics
        from streams.watchlist_cli import load_file

        ensure_topics(self.settings)
        watchlist = self.city / WATCHLIST
        if watchlist.exists():
            load_file(self.settings, watchlist)
        print("starting the backbone ...", flush=True)
        self.backbone.start()
        self.watcher = AlertWatcher(self.settings)
        self.watcher.start()
        self.sampler = LagSampler(self.settings, self.started, probe=self._probe)
        self.sampler.start()

    def _probe(self) -> dict[str, int]:
        now = self.backbone.progress()
        return {"payloads_read": now.payloads_read, "landed": now.landed}

    def replay(self, pacing: Pacing) -> ReplayResult:
        gateway = self.backbone.gateway_url if self.via_gateway else None
        result = run_replay(
            self.settings, self.city / "captures.jsonl", pacing, gateway=gateway, start=self.start
        )
        if result.failed:
            raise RuntimeError(f"{result.failed} payloads not delivered: {result.errors[:3]}")
        return result

    def drain(self, sent: int, timeout: float) -> Progress:
        def show(now: Progress) -> None:
            print(
                f"  backbone: {now.payloads_read:,} payloads read, {now.unique:,} unique, "
                f"{now.duplicates:,} duplicates, {now.landed:,} landed, "
                f"{now.dead_letters:,} dead letters, {sum(now.alerts.values()):,} alerts",
                flush=True,
            )

        print("waiting until everything landed ...", flush=True)
        return self.backbone.wait_drained(sent, timeout, show)

    def alerts(self, expected: int, timeout: float = 60.0) -> list[ReceivedAlert]:
        """The alerts received once the watcher has as many as the worker published."""
        assert self.watcher is not None
        deadline = time.monotonic() + timeout
        while len(self.watcher.alerts) < expected and time.monotonic() < deadline:
            time.sleep(0.2)
        return list(self.watcher.alerts)

    def down(self) -> None:
        if self.sampler is not None:
            self.sampler.stop()
        if self.watcher is not None:
            self.watcher.stop()
        self.backbone.stop()


def line_of_events(city: Path, start: datetime | None) -> dict[str, int]:
    """Event id -> capture line, by normalizing the city's payloads as the pipeline does."""
    from loadtest.score import line_event_ids

    if start is None:
        raise ValueError(f"{city / 'city.json'} names no scenario start")
    return _line_of(line_event_ids(list(read_captures(city / "captures.jsonl")), start).events)


def _line_of(line_events: dict[int, list[str]]) -> dict[str, int]:
    """Event id -> the first capture line that carries it (re-pushes carry it again later)."""
    first: dict[str, int] = {}
    for line in sorted(line_events):
        for event_id in line_events[line]:
            first.setdefault(event_id, line)
    return first


def searchable_latencies(
    rows: list[dict[str, Any]], line_of: dict[str, int], intended: dict[int, float]
) -> list[float]:
    out = []
    for row in rows:
        line = line_of.get(row["event_id"])
        if line is not None and line in intended:
            out.append(row["landed_ms"] - intended[line] * 1000)
    return out


def alert_latencies(
    alerts: list[ReceivedAlert], line_of: dict[str, int], intended: dict[int, float]
) -> list[float]:
    """From the newest evidence's intended send (the capture that completed the alert) to the
    alert's publication; late alerts (about late captures) are left out."""
    out = []
    for received in alerts:
        if received.alert.late:
            continue
        sends = [intended[line_of[e]] for e in received.alert.event_ids if e in line_of]
        if sends:
            out.append(received.published_ms - max(sends) * 1000)
    return out


def read_landed(settings: Settings) -> dict[str, Any]:
    """Unique events, dead letters and alerts as the warehouse holds them (worker stopped)."""
    from streams.warehouse import open_warehouse

    warehouse = open_warehouse(settings)
    try:
        events: list[dict[str, Any]] = []
        for table, kind, plate in (
            ("plate_captures", "plate", "plate_number"),
            ("face_captures", "face", "''"),
            ("alarms", "alarm", "''"),
        ):
            events += warehouse.query(
                f"SELECT DISTINCT ON (event_id) event_id, '{kind}' AS kind, device_id, "  # noqa: S608
                f"{plate} AS plate_number, late, absorbed_event_ids, "
                f"toUnixTimestamp64Milli(landed_at) AS landed_ms FROM {table}"
            )
        dead = warehouse.query(
            "SELECT DISTINCT ON (dead_letter_id) payload_base64 FROM dead_letters "
            "WHERE stage = 'normalize'"
        )
        alerts = warehouse.query("SELECT count(DISTINCT alert_id) AS n FROM alerts")[0]["n"]
    finally:
        warehouse.close()
    return {
        "events": events,
        "dead_letters": len(dead),
        "dead_payloads": {row["payload_base64"] for row in dead},
        "alerts": int(alerts),
    }


def dead_lettered_lines(captures: list[Capture], payloads: set[str]) -> set[int]:
    """Capture lines whose exact bytes are in the dead-letter table."""
    return {c.line for c in captures if base64.b64encode(c.body).decode() in payloads}


def machine() -> str:
    import os

    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def run_loadtest(settings: Settings, options: LoadTestOptions) -> dict[str, Any]:
    from loadtest.score import LineEvents, line_event_ids, score
    from loadtest.truth import read_truth

    tag = f"lt{uuid.uuid4().hex[:8]}"
    state = (settings.local_dir / "loadtest" / tag).resolve()
    broker = development_broker(settings)
    started_broker = broker.up()
    settings = settings.model_copy(update={"kafka_bootstrap_servers": broker.bootstrap})
    try:
        city = make_city(options, state / "city")
        settings = run_settings(settings, state, city, tag, options.pacing)
        run = TrafficRun(settings, city, state, command="worker", via_gateway=options.via_gateway)
        try:
            run.up()
            replayed = run.replay(options.pacing)
            progress = run.drain(replayed.sent, options.drain_timeout)
            received = run.alerts(sum(progress.alerts.values()))
        finally:
            run.down()
        assert run.sampler is not None
        landed = read_landed(settings)
    finally:
        if started_broker:
            broker.down()
    truth = read_truth(city / "truth.json")
    captures = list(read_captures(city / "captures.jsonl"))
    start = run.start
    assert start is not None, "city.json names the scenario start"
    line_events = line_event_ids(captures, start)
    line_of = _line_of(line_events.events)
    # Dead letters as the warehouse holds them, not as normalizing offline predicts.
    accuracy = score(
        truth,
        LineEvents(line_events.events),
        landed["events"],
        [r.alert for r in received],
        dead_lettered_lines(captures, landed["dead_payloads"]),
    )
    latencies = {
        "capture_to_alert": alert_latencies(received, line_of, replayed.intended),
        "capture_to_searchable": searchable_latencies(landed["events"], line_of, replayed.intended),
    }
    report = build_report(
        tag,
        options,
        replayed,
        progress,
        landed,
        received,
        accuracy,
        latencies,
        len(captures),
        run.backbone.drained_at,
        settings.lateness_seconds,
    )
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    report["plots"] = [
        str(p) for p in plot(out, run.sampler.samples, replayed.sent_per_second, latencies)
    ]
    report["lag"] = {"seconds": run.sampler.samples.seconds, **run.sampler.samples.lag}
    write_report(out, report)
    return report


# The bar for a default scenario.
TARGETS = (
    ("dedup_precision", 0.999),
    ("dedup_recall", 0.999),
    ("cloned_plate_precision", 0.99),
    ("cloned_plate_recall", 0.99),
    ("watchlist_precision", 0.99),
    ("watchlist_recall", 0.99),
)


def _ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 5)


def accuracy_summary(accuracy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The scorer's figures as one flat table: name -> value and the counts behind it."""
    dedup = accuracy["dedup"]
    hit = sum(dedup[k]["true_items_hit"] for k in ("plate", "face"))
    unique = sum(dedup[k]["unique_events"] for k in ("plate", "face"))
    true = sum(dedup[k]["true_items"] for k in ("plate", "face"))
    out: dict[str, dict[str, Any]] = {
        "dedup_precision": {"value": _ratio(hit, unique), "true_items_hit": hit, "unique": unique},
        "dedup_recall": {"value": _ratio(hit, true), "true_items_hit": hit, "true_items": true},
    }
    for kind in ("plate", "face", "alarm"):
        figures = dedup[kind]
        out[f"{kind}_dedup_precision"] = {
            "value": figures["precision"],
            "hit": figures["true_items_hit"],
            "unique": figures["unique_events"],
        }
        out[f"{kind}_dedup_recall"] = {
            "value": figures["recall"],
            "hit": figures["true_items_hit"],
            "true": figures["true_items"],
        }
    for rule in ("watchlist", "cloned_plate", "convoy"):
        figures = accuracy["alerts"][rule]
        out[f"{rule}_precision"] = {
            "value": figures["precision"],
            "right": figures["right"],
            "wrong": figures["wrong"],
        }
        out[f"{rule}_recall"] = {
            "value": figures["recall"],
            "found": figures["found"],
            "expected": figures["expected"],
        }
    late, dead = accuracy["late"], accuracy["dead_letters"]
    out["late_passes_landed"] = {
        "value": late["ratio"],
        "landed": late["landed"],
        "late_passes": late["late_passes"],
    }
    out["malformed_dead_lettered"] = {
        "value": dead["ratio"],
        "dead_lettered": dead["dead_lettered"],
        "malformed": dead["malformed_lines"],
    }
    return out


def build_report(
    tag: str,
    options: LoadTestOptions,
    replayed: ReplayResult,
    progress: Progress,
    landed: dict[str, Any],
    received: list[ReceivedAlert],
    accuracy: dict[str, Any],
    latencies: dict[str, list[float]],
    lines: int,
    drained_at: float,
    lateness: float,
) -> dict[str, Any]:
    intended = sorted(replayed.intended.values())
    span = max(intended[-1] - intended[0], 1e-9) if intended else 1e-9
    drained = max(drained_at - replayed.started, 1e-9)
    accounting = {
        "payloads_sent": replayed.sent,
        "payloads_read_by_normalize": progress.payloads_read,
        "payloads_dead_lettered": progress.dead_letters,
        "dead_letter_rows_landed": landed["dead_letters"],
        "canonical_events": progress.canonical,
        # A pass closed twice (regrouped after a restart or disorder) is published twice
        # under one id: rows landed count distinct ids.
        "unique_events_published": progress.unique,
        "duplicates_dropped": progress.duplicates,
        "unique_event_rows_landed": len(landed["events"]),
        "alerts_published": sum(progress.alerts.values()),
        "alerts_received_by_a_subscriber": len({r.alert.alert_id for r in received}),
        "alert_rows_landed": landed["alerts"],
    }
    dedup = accuracy["dedup"]
    every_item_landed = all(
        dedup[kind]["true_items_hit"] == dedup[kind]["true_items"] for kind in dedup
    )
    nothing_lost = (
        progress.payloads_read == replayed.sent
        and progress.canonical == progress.unique + progress.duplicates
        and landed["dead_letters"] == progress.dead_letters
        and every_item_landed
    )
    summary = accuracy_summary(accuracy)
    verdict = {"nothing lost (events in = landed + dead-lettered)": nothing_lost}
    for name, wanted in TARGETS:
        value = summary.get(name, {}).get("value")
        verdict[f"{name.replace('_', ' ')} >= {wanted}"] = value is not None and value >= wanted
    return {
        "run": tag,
        "at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(),
        "scenario": {
            "description": (
                f"{lines:,} payloads, {options.pacing.describe()}, "
                + ("through the gateway" if options.via_gateway else "straight into Kafka")
            ),
            "city": str(options.city or "generated"),
            "pacing": options.pacing.describe(),
            "lateness_seconds": lateness,
            "via_gateway": options.via_gateway,
        },
        "rates": {
            "offered_payloads_per_s": round(len(intended) / span, 1),
            "achieved_send_payloads_per_s": round(replayed.sent / replayed.seconds, 1),
            "end_to_end_payloads_per_s": round(replayed.sent / drained, 1),
            "replay_seconds": round(replayed.seconds, 1),
            "until_all_landed_seconds": round(drained, 1),
        },
        "accounting": accounting,
        "latency_ms": {path: percentiles(values) for path, values in latencies.items()},
        "accuracy": summary,
        "accuracy_details": accuracy,
        "alerts_by_rule": progress.alerts,
        "verdict": verdict,
    }
