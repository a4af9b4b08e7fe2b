"""The local demo: broker, topics, warehouse, the backbone (``streams run``), a few events end
to end, what landed, and an investigator's audited searches over them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from streams.errors import UserError
from streams.kafka_admin import LIBRDKAFKA_LOGGER, ensure_topics
from streams.localkafka import LocalKafka, development_broker, port_is_free
from streams.settings import Settings


class DemoError(UserError):
    pass


def produce(
    settings: Settings, payloads: list[tuple[str, str, bytes]]
) -> list[tuple[str, int, int]]:
    """Send raw payloads to raw.<source>; return their (topic, partition, offset)."""
    from confluent_kafka import Producer

    from streams.topics import raw_topic_name

    producer = Producer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "logger": LIBRDKAFKA_LOGGER,
        }
    )
    positions: list[tuple[str, int, int]] = []
    errors: list[str] = []

    def delivered(err: object, msg: object) -> None:
        if err is not None:
            errors.append(str(err))
        else:
            positions.append((msg.topic(), msg.partition(), msg.offset()))  # type: ignore[attr-defined]

    for source, device, body in payloads:
        producer.produce(
            settings.topic(raw_topic_name(source)),
            value=body,
            key=device.encode(),
            on_delivery=delivered,
        )
    remaining = producer.flush(settings.kafka_timeout_seconds)
    if remaining or errors:
        raise DemoError(f"{remaining} events not delivered to Kafka: {errors[:3]}")
    return positions


def _get_json(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310  (http on loopback)
        data: dict[str, object] = json.loads(response.read())
        return data


def _landed_total(url: str) -> int:
    counts = _get_json(url + "/landed").get("raw_captures", {})
    return sum(int(v) for v in counts.values()) if isinstance(counts, dict) else 0


def wait_until(
    predicate: object, timeout: float, what: str, log: Path, worker: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and worker.poll() is None:
        try:
            if predicate():  # type: ignore[operator]
                return
        except OSError:
            pass
        time.sleep(0.5)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:]) if log.exists() else ""
    if worker.poll() is not None:
        raise DemoError(f"the worker exited ({worker.returncode}) before {what}; its log:\n{tail}")
    raise DemoError(f"timed out after {timeout:g}s waiting for {what}; worker log:\n{tail}")


def run_demo(settings: Settings, per_source: int = 3, keep_broker: bool = False) -> int:
    broker = development_broker(settings)
    print(f"[1/6] local Kafka at {broker.bootstrap} ...", flush=True)
    started_broker = broker.up()
    try:
        return _demo_on(broker, settings, per_source)
    finally:
        if started_broker and not keep_broker:
            broker.down()
            print("stopped the local Kafka broker (keep it with --keep-broker)")


def _demo_on(broker: LocalKafka, settings: Settings, per_source: int) -> int:
    from streams.demo_payloads import demo_payloads

    env = dict(os.environ, STREAMS_KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap)
    settings = settings.model_copy(update={"kafka_bootstrap_servers": broker.bootstrap})
    created = ensure_topics(settings)
    print(f"[2/6] topics ready ({len(created)} created)", flush=True)
    for port, name in (
        (settings.web_port, "STREAMS_WEB_PORT"),
        (settings.api_port, "STREAMS_API_PORT"),
    ):
        if not port_is_free(port, settings.web_host):
            raise DemoError(f"port {port} is in use; set {name}")
    keys = _demo_keys(settings)
    print("[3/6] made API keys for demo-investigator and demo-auditor", flush=True)

    log = settings.local_dir.resolve() / "logs" / "worker.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    url = f"http://{settings.web_host}:{settings.web_port}"
    print(f"[4/6] starting the backbone: streams run (log {log}) ...", flush=True)
    with log.open("ab") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "streams", "run", "--loglevel", "info"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(
            lambda: _get_json(url + "/readyz")["status"] == "ready",
            120,
            "the worker to be ready",
            log,
            worker,
        )
        before = _landed_total(url)
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
        payloads = demo_payloads(per_source)
        positions = produce(settings, payloads)
        print(f"[5/6] sent {len(positions)} vendor payloads to raw topics", flush=True)
        wait_until(
            lambda: _landed_total(url) >= before + len(positions),
            60,
            "the events to land",
            log,
            worker,
        )
        counts = _get_json(url + "/landed")["raw_captures"]
        wait_until(lambda: _normalized(url) >= len(positions), 60, "normalization", log, worker)
        wait_until(lambda: _deduplicated(url), 60, "deduplication", log, worker)
        counters = _get_json(url + "/stats")["counters"]
        searches = _DemoSearches(settings, keys, sorted({d for _s, d, _b in payloads}), start)
        unique = _counter(url, "streams_unique_events_out_total")
        wait_until(lambda: searches.landed() >= unique, 60, "searchable passes", log, worker)
        answers = searches.run()
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    print("[6/6] landed in the embedded warehouse:", flush=True)
    _print_landed(settings, positions)
    print(f"totals by source: {json.dumps(counts, sort_keys=True)}")
    assert isinstance(counters, dict)
    events = counters.get("streams_canonical_events_out_total", {})
    dead = sum(counters.get("streams_dead_letters_total", {}).values())
    print(
        f"normalized into canonical events: {json.dumps(events, sort_keys=True)}; "
        f"dead letters: {dead}"
    )
    dropped = counters.get("streams_duplicates_dropped_total", {})
    print(
        f"deduplication read {sum(counters.get('streams_captures_in_total', {}).values())} "
        f"captures, published {unique} unique passes; exact repeats dropped: "
        f"{dropped.get('exact', 0)} (`streams alerts tail` follows the alerts)"
    )
    for title, text in answers:
        print(f"\n{title}\n{text}")
    return 0


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


class _DemoSearches:
    """The investigator's searches over this run's passes, through the running search API."""

    def __init__(
        self, settings: Settings, keys: dict[str, str], devices: list[str], start: datetime
    ) -> None:
        from streams.search_cli import ApiClient, api_url

        self.investigator = ApiClient(api_url(settings), keys["investigator"])
        self.auditor = ApiClient(api_url(settings), keys["auditor"])
        self.query = {"devices": devices, "since": start.isoformat()}

    def _search(self, kind: str, query: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self.investigator.call(
            "POST", f"/api/v1/search/{kind}", {**_DEMO_REASON, "query": query}
        )
        return answer

    def landed(self) -> int:
        return int(self._search("plate", {**self.query, "limit": 1000})["count"])

    def run(self) -> list[tuple[str, str]]:
        from streams.search_cli import format_rows

        passes = self._search("plate", {**self.query, "limit": 1000})
        first = passes["rows"][-1]["plate_number"] if passes["rows"] else "浙A12345"
        path = self._search("trajectory", {"plate": first, "since": self.query["since"]})
        trail = self.auditor.call("GET", "/api/v1/audit?case_ref=DEMO-0001&limit=5")
        audit_columns = ["at", "user", "kind", "outcome", "result_count", "case_ref", "reason"]
        return [
            (
                f"search: plate passes of this run ({passes['count']}, newest first):",
                format_rows(
                    ["captured_at", "plate_number", "plate_color", "device_id"], passes["rows"]
                ),
            ),
            (
                f"search: trajectory of {first}:",
                format_rows(["captured_at", "device_id", "subject", "event_id"], path["rows"]),
            ),
            (
                "audit trail of case DEMO-0001, as an auditor reads it (newest first):",
                format_rows(audit_columns, trail["rows"]),
            ),
        ]


def _counter(url: str, name: str) -> int:
    counters = _get_json(url + "/stats").get("counters", {})
    values = counters.get(name, {}) if isinstance(counters, dict) else {}
    return sum(int(v) for v in values.values())


def _deduplicated(url: str) -> bool:
    """Every capture read by the dedup stage has come out, as a unique pass or a repeat."""
    read = _counter(url, "streams_captures_in_total")
    out = _counter(url, "streams_unique_events_out_total")
    return read > 0 and out + _counter(url, "streams_duplicates_dropped_total") >= read


def _normalized(url: str) -> int:
    counters = _get_json(url + "/stats").get("counters", {})
    seen = counters.get("streams_raw_events_in_total", {}) if isinstance(counters, dict) else {}
    return sum(int(v) for v in seen.values())


def _print_landed(settings: Settings, positions: list[tuple[str, int, int]]) -> None:
    from streams.warehouse import open_warehouse

    warehouse = open_warehouse(settings)
    try:
        wanted = {(t, p, o) for t, p, o in positions}
        topics = sorted({t for t, _p, _o in positions})
        rows = warehouse.query(
            "SELECT source, device_key, topic, partition, offset, payload_size, "
            "substring(payload, 1, 60) AS head FROM raw_captures FINAL "
            "WHERE topic IN {topics:Array(String)} ORDER BY source, offset",
            {"topics": topics},
        )
    finally:
        warehouse.close()
    mine = [r for r in rows if (r["topic"], r["partition"], r["offset"]) in wanted]
    print(f"  {'source':16} {'device':21} {'partition':>9} {'offset':>6} {'bytes':>6}  payload")
    for r in mine:
        head = str(r["head"]).replace("\n", " ")
        print(
            f"  {r['source']:16} {r['device_key']:21} {r['partition']:>9} {r['offset']:>6} "
            f"{r['payload_size']:>6}  {head}"
        )
    print(f"  {len(mine)} of {len(positions)} events sent in this run landed")
    if len(mine) != len(positions):
        raise DemoError("some events sent in this run are missing from the warehouse")
