"""Dedup + correlation throughput and alert latency.

1. The rules alone on one core (events/s), fed in batches as the stages feed them.
2. A worker process through the real broker: canonical events produced up front, then timed
   from the first to the last capture consumed (wall and worker CPU).
3. Alert latency at a fixed offered rate: captures are sent on a schedule (event time = send
   time), some of them watchlisted; latency is the alert's arrival at a subscriber minus the
   capture's *intended* send time, so a stalled sender does not hide delay (no coordinated
   omission).

Traffic is a synthetic city: devices on a grid about 1 km apart, vehicles passing with one to
three snapshots each, 10% vendor re-pushes, faces with tracks, a few alarms. Vehicles drive
from camera to neighbouring camera, so only the few plates that two vehicles carry (cloned
plates) make impossible trips.
"""

from __future__ import annotations

import heapq
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from streams.bench.isolation import isolated_run
from streams.bench.normalize import process_cpu_seconds
from streams.canonical import (
    Alarm,
    AlarmState,
    AlarmType,
    CanonicalEvent,
    FaceCapture,
    GeoPoint,
    PlateCapture,
    TimeProvenance,
)
from streams.correlate.config import RuleConfig
from streams.correlate.pipeline import Correlator
from streams.correlate.records import WatchlistEntry
from streams.correlate.watchlist import Watchlist, watchlist_from_entries
from streams.settings import Settings

PROVINCES = "沪苏浙皖"
LETTERS = "ABCDEFGHJK"
# Every this many plates, one is carried by two vehicles: the cloned-plate rule's true
# positives (rare in real traffic).
CLONED_EVERY = 500
# Vehicles drive between their passes at a speed in this range (km/h), along the grid.
SPEEDS_KMH = (20.0, 80.0)
GRID_SPACING_M = 1_000.0
# Vehicles of the benchmark's city: about 870 plate passes/s (2,400 captures/s) need about
# 72,000 vehicles driving 1 km steps at those speeds.
BENCH_VEHICLES = 120_000


@dataclass(frozen=True)
class City:
    devices: list[str]
    positions: dict[str, GeoPoint]
    plates: list[str]


def _grid_side(devices: int) -> int:
    return max(1, int(devices**0.5))


def make_city(devices: int = 400, vehicles: int = 50_000, seed: int = 7) -> City:
    rng = random.Random(seed)  # noqa: S311 (synthetic traffic, not secrets)
    side = _grid_side(devices)
    ids = [f"310101000013200{i:05d}" for i in range(devices)]
    positions = {
        d: GeoPoint(lat=31.0 + (i // side) * 0.009, lon=121.2 + (i % side) * 0.0105)
        for i, d in enumerate(ids)
    }
    plates = sorted(
        {
            rng.choice(PROVINCES) + rng.choice(LETTERS) + f"{rng.randrange(100_000):05d}"
            for _ in range(vehicles)
        }
    )
    return City(ids, positions, plates)


def cloned_plates(city: City) -> frozenset[str]:
    """The plates two vehicles of the city's traffic carry: every CLONED_EVERY-th one."""
    return frozenset(city.plates[7::CLONED_EVERY])  # none of them watchlisted (every 50th)


class Fleet:
    """The city's vehicles, driving from device to neighbouring device (one grid step, about
    1 km) at a speed drawn from SPEEDS_KMH, each pass of the traffic by the vehicle that has
    waited longest since it reached its next device. A vehicle not there yet (more passes asked
    for than vehicles arrive) is seen where it is and leaves again from there. So a plate is
    never anywhere it could not have driven to, except the plates of :func:`cloned_plates`:
    two vehicles carry each of them."""

    def __init__(self, city: City, rng: random.Random) -> None:
        self._rng = rng
        self._count = len(city.devices)
        self._side = _grid_side(self._count)
        vehicles = [(plate, 0) for plate in city.plates]
        vehicles += [(plate, 1) for plate in sorted(cloned_plates(city))]
        self._plates = [plate for plate, _ in vehicles]
        self._at = [rng.randrange(self._count) for _ in vehicles]  # last seen at
        self._to = [self._neighbour(at) for at in self._at]  # driving to
        # (arrival at the next device, vehicle): each is somewhere along its first step.
        self._arrivals = [(rng.random() * self._step_seconds(), v) for v in range(len(vehicles))]
        heapq.heapify(self._arrivals)

    def next_pass(self, seconds: float) -> tuple[str, int]:
        """The plate passing at ``seconds`` (into the traffic), and the index of its device."""
        arrival, vehicle = self._arrivals[0]
        if arrival <= seconds:
            self._at[vehicle] = self._to[vehicle]
            self._to[vehicle] = self._neighbour(self._at[vehicle])
        heapq.heapreplace(self._arrivals, (seconds + self._step_seconds(), vehicle))
        return self._plates[vehicle], self._at[vehicle]

    def _step_seconds(self) -> float:
        return GRID_SPACING_M / (self._rng.uniform(*SPEEDS_KMH) / 3.6)

    def _neighbour(self, device: int) -> int:
        """A device one grid step from ``device``, along a row or a column."""
        if self._count == 1:
            return device
        row, col = divmod(device, self._side)
        while True:
            d_row, d_col = self._rng.choice(_STEPS)
            row2, col2 = row + d_row, col + d_col
            moved = row2 * self._side + col2
            if row2 >= 0 and 0 <= col2 < self._side and moved < self._count:
                return moved


_STEPS = ((1, 0), (-1, 0), (0, 1), (0, -1))


def traffic(
    city: City, count: int, start: datetime, rate: float, seed: int = 11
) -> Iterator[CanonicalEvent]:
    """``count`` captures in event-time order at ``rate`` per second of event time."""
    rng = random.Random(seed)  # noqa: S311 (synthetic traffic, not secrets)
    fleet = Fleet(city, rng)
    made = 0
    step = 1.0 / rate
    t = 0.0
    n = 0
    while made < count:
        device = rng.choice(city.devices)
        at = start + timedelta(seconds=t)
        n += 1
        roll = rng.random()
        group: list[CanonicalEvent]
        if roll < 0.001:
            group = [_alarm(city, device, at, n)]
        elif roll < 0.2:
            group = [
                _face(city, device, at + timedelta(seconds=k * 0.7), n, k, rng)
                for k in range(rng.randint(1, 2))
            ]
        else:
            plate, index = fleet.next_pass(t)
            device = city.devices[index]
            group = []
            for k in range(rng.randint(1, 3)):
                read = _plate(city, device, plate, at + timedelta(seconds=k * 0.6), n, k, rng)
                group.append(read)
                if rng.random() < 0.1:
                    group.append(read)  # a vendor re-push
        yield from group[: count - made]
        made += len(group)
        t += step * len(group)  # the offered rate counts every capture, re-pushes included


def _common(city: City, device: str, at: datetime, event_id: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "source": "hikvision-isapi",
        "device_id": device,
        "captured_at": at,
        "received_at": at + timedelta(milliseconds=300),
        "time_source": TimeProvenance.SOURCE_OFFSET,
        "position": city.positions[device],
    }


def _plate(
    city: City, device: str, plate: str, at: datetime, n: int, k: int, rng: random.Random
) -> PlateCapture:
    return PlateCapture(
        **_common(city, device, at, f"p{n}-{k}"),
        plate_number=plate,
        plate_raw=plate,
        confidence=round(rng.uniform(0.6, 0.99), 2),
    )


def _face(city: City, device: str, at: datetime, n: int, k: int, rng: random.Random) -> FaceCapture:
    return FaceCapture(
        **_common(city, device, at, f"f{n}-{k}"),
        track_id=str(n),
        quality=round(rng.uniform(0.3, 0.95), 2),
    )


def _alarm(city: City, device: str, at: datetime, n: int) -> Alarm:
    return Alarm(
        **_common(city, device, at, f"a{n}"),
        alarm_type=AlarmType.INTRUSION,
        state=AlarmState.START,
        vendor_event_type="fielddetection",
    )


def watchlist_for(city: City, size: int, created_at: datetime) -> list[WatchlistEntry]:
    """Every 50th plate of the city (about 2% of passes hit), plus wildcard entries."""
    entries = [
        WatchlistEntry(
            entry_id=f"bench-{i}",
            target="plate",
            pattern=plate,
            priority=2,
            reason="benchmark",
            created_at=created_at,
        )
        for i, plate in enumerate(city.plates[::50][:size])
    ]
    entries += [
        WatchlistEntry(
            entry_id=f"bench-wild-{letter}",
            target="plate",
            pattern=f"皖{letter}9*",
            priority=3,
            reason="benchmark",
            created_at=created_at,
        )
        for letter in LETTERS
    ]
    return entries


# Event time after which the rules' short windows (person-vehicle 25 s and co-passes 50 s with
# their slack) are full: the rate from then on is the one that lasts.
WARM_UP = timedelta(minutes=1)


def warm_up_index(events: list[CanonicalEvent]) -> int | None:
    """How many captures come before ``WARM_UP`` of event time has passed (the captures are in
    capture order); None when the run ends sooner."""
    if not events:
        return None
    warm_at = events[0].captured_at + WARM_UP
    return next((i for i, e in enumerate(events) if e.captured_at >= warm_at), None)


def _after_warm_up(rate: str | None) -> str:
    if rate is None:
        return f" (the run is shorter than {WARM_UP.seconds} s of event time)"
    return f"; after the first {WARM_UP.seconds} s of event time {rate}"


def bench_rules(
    events: list[CanonicalEvent],
    watchlist: Watchlist,
    batch: int = 2000,
    config: RuleConfig | None = None,
) -> dict[str, Any]:
    """The three rule parts chained in one process, fed in batches like the stages. Besides the
    whole run, the rate once ``WARM_UP`` of event time has passed (the rules' short windows are
    full then, and each capture meets as much state as it will for good), if the run lasts."""
    correlator = Correlator(config or RuleConfig(), watchlist)
    now = datetime.now(UTC)
    outputs = 0
    warm_index = warm_up_index(events)
    warm: tuple[int, float] | None = None  # (events before, CPU time then)
    started = time.process_time()
    for i in range(0, len(events), batch):
        if warm is None and warm_index is not None and i >= warm_index:
            warm = (i, time.process_time())
        outputs += len(correlator.feed_batch(events[i : i + batch], now))
    fed = time.process_time()  # the rate that lasts leaves out the final flush of every window
    outputs += len(correlator.finish(now))
    cpu = time.process_time() - started
    steady = None
    if warm is not None and fed > warm[1]:
        steady = round((len(events) - warm[0]) / (fed - warm[1]))
    return {
        "events": len(events),
        "cpu_seconds": round(cpu, 2),
        "events_per_cpu_second": round(len(events) / cpu),
        "after_warm_up_events_per_cpu_second": steady,
        "outputs": outputs,
        "duplicates_dropped": correlator.duplicates,
    }


# ---------------------------------------------------------------------------------------------
# Through the broker


def _produce(settings: Settings, events: list[CanonicalEvent]) -> None:
    from streams.codecs.avro import encode
    from streams.publisher import Publisher
    from streams.topics import ALARMS, FACE_CAPTURES, PLATE_CAPTURES

    topics = {
        "plate": settings.topic(PLATE_CAPTURES.name),
        "face": settings.topic(FACE_CAPTURES.name),
        "alarm": settings.topic(ALARMS.name),
    }
    publisher = Publisher(settings, **{"linger.ms": 20})
    for event in events:
        publisher.produce(topics[event.kind], encode(event), event.device_id.encode())
    publisher.flush_sync(120)


def _start_worker(settings: Settings, state: Path) -> subprocess.Popen[bytes]:
    env = settings.environment(dict(os.environ))
    with (state / "worker.log").open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "streams", "worker"], env=env, stdout=out, stderr=out
        )


def _counters(settings: Settings) -> dict[str, dict[str, int]] | None:
    import json
    import urllib.request

    url = f"http://{settings.web_host}:{settings.web_port}/stats"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            counters: dict[str, dict[str, int]] = json.loads(response.read())["counters"]
            return counters
    except OSError:
        return None


def _committed_everything(settings: Settings) -> bool:
    """Whether the dedup, plates and area stages have committed every record of their inputs."""
    from confluent_kafka import Consumer, TopicPartition

    from streams.agents.correlate import AreaStage, DedupStage, PlatesStage

    for stage in (DedupStage, PlatesStage, AreaStage):
        consumer = Consumer(
            {
                "bootstrap.servers": settings.kafka_bootstrap_servers,
                "group.id": f"{settings.app_id}.{stage.name}",  # read only, never joined
            }
        )
        try:
            parts = [
                TopicPartition(settings.topic(spec.name), p)
                for spec in stage.inputs
                for p in range(spec.partitions or settings.topic_partitions)
            ]
            for tp in consumer.committed(parts, timeout=10):
                _low, high = consumer.get_watermark_offsets(tp, timeout=10)
                if high > 0 and tp.offset < high:
                    return False
        finally:
            consumer.close()
    return True


def bench_worker(
    settings: Settings, events: list[CanonicalEvent], watchlist: list[WatchlistEntry]
) -> dict[str, Any]:
    """Produce the events up front, then time a fresh worker consuming them."""
    with isolated_run(settings) as (isolated, state):
        return _time_worker(isolated, state, events, watchlist)


def _time_worker(
    settings: Settings, state: Path, events: list[CanonicalEvent], watchlist: list[WatchlistEntry]
) -> dict[str, Any]:
    """Time a fresh worker from its first capture read to its last output, in wall and CPU
    time, and from the end of the warm-up (its first minute of event time) to the last output."""
    from streams.kafka_admin import ensure_topics
    from streams.watchlist_topic import publish_entries

    ensure_topics(settings)
    publish_entries(settings, watchlist)
    _produce(settings, events)
    worker = _start_worker(settings, state)
    warm_index = warm_up_index(events)  # they are produced in capture order
    # (time, CPU time) at the first capture read, at the end of the warm-up, when every
    # capture was read, and when every stage had committed all its input.
    first = warm = all_read = last = None
    decided = warm_seen = 0
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline and worker.poll() is None:
            counters = _counters(settings) or {}
            now = (time.monotonic(), process_cpu_seconds(worker.pid))
            seen = sum(counters.get("streams_captures_in_total", {}).values())
            if seen and first is None:
                first = now
            if warm is None and warm_index is not None and seen >= warm_index:
                warm, warm_seen = now, seen
            if all_read is None and seen >= len(events):
                all_read = now
            decided = sum(
                sum(counters.get(name, {}).values())
                for name in ("streams_unique_events_out_total", "streams_duplicates_dropped_total")
            )
            # Every capture passed on or dropped: the last windows of the dedup stage are
            # closed (by its idle clock, seconds after the last read); the stages downstream
            # are done once they have committed everything they were sent.
            if decided >= len(events) and _committed_everything(settings):
                last = now
                break
            time.sleep(0.1)
    finally:
        worker.terminate()
        worker.wait(60)
    if first is None or all_read is None or last is None or decided < len(events):
        tail = (state / "worker.log").read_text(errors="replace").splitlines()[-10:]
        raise RuntimeError(
            f"the worker did not finish the benchmark events ({decided:,} of {len(events):,} "
            "decided):\n" + "\n".join(tail)
        )
    wall, cpu = last[0] - first[0], last[1] - first[1]
    steady = None
    if warm is not None and last[1] > warm[1] and last[0] > warm[0]:
        rest = len(events) - warm_seen
        steady = {
            "events_per_second": round(rest / (last[0] - warm[0])),
            "events_per_worker_cpu_second": round(rest / (last[1] - warm[1])),
        }
    return {
        "events": len(events),
        "wall_seconds": round(wall, 2),
        "events_per_second": round(len(events) / wall) if wall else None,
        "worker_cpu_seconds": round(cpu, 2),
        "events_per_worker_cpu_second": round(len(events) / cpu) if cpu else None,
        "cpu_seconds_after_last_read": round(last[1] - all_read[1], 2),
        "after_warm_up": steady,
    }


def bench_latency(
    settings: Settings,
    city: City,
    rate: float,
    seconds: float,
    watchlist: list[WatchlistEntry],
    restart_after: float = 0.0,
) -> dict[str, Any]:
    """Captures at ``rate``/s for ``seconds`` against a running worker; watchlist alert latency.
    With ``restart_after``, the worker is killed that many seconds into the run and started
    again at once under the same instance id (as deployed), and the alerts of the captures
    sent after the kill are measured apart."""
    if restart_after:
        # Static membership, as in deploy/k8s: the new process takes the partitions back.
        settings = settings.model_copy(update={"worker_instance_id": "bench-worker"})
    with isolated_run(settings) as (isolated, state):
        return _alert_latency(isolated, state, city, rate, seconds, watchlist, restart_after)


def _alert_latency(
    settings: Settings,
    state: Path,
    city: City,
    rate: float,
    seconds: float,
    watchlist: list[WatchlistEntry],
    restart_after: float,
) -> dict[str, Any]:
    from confluent_kafka import Consumer

    from streams.codecs.avro import decode, encode
    from streams.correlate.records import Alert
    from streams.kafka_admin import LIBRDKAFKA_LOGGER, ensure_topics
    from streams.publisher import Publisher
    from streams.topics import ALARMS, ALERTS, FACE_CAPTURES, PLATE_CAPTURES
    from streams.watchlist_topic import publish_entries

    ensure_topics(settings)
    publish_entries(settings, watchlist)
    worker = _start_worker(settings, state)
    try:
        deadline = time.monotonic() + 120
        while _counters(settings) is None or _ready(settings) is False:
            if time.monotonic() > deadline or worker.poll() is not None:
                raise RuntimeError("the worker did not start")
            time.sleep(0.3)
        count = int(rate * seconds)
        # The schedule is made first and stamped with real times as it is sent: a sender that
        # starts late would otherwise add its delay to every latency.
        zero = datetime(2000, 1, 1, tzinfo=UTC)
        # A vehicle's later snapshots are generated with its first: send in capture order.
        events = sorted(traffic(city, count, zero, rate), key=lambda e: e.captured_at)
        topics = {
            "plate": settings.topic(PLATE_CAPTURES.name),
            "face": settings.topic(FACE_CAPTURES.name),
            "alarm": settings.topic(ALARMS.name),
        }
        intended: dict[str, float] = {}
        late_sends = 0
        arrivals: dict[str, float] = {}
        stop = threading.Event()

        def subscribe() -> None:
            consumer = Consumer(
                {
                    "bootstrap.servers": settings.kafka_bootstrap_servers,
                    "group.id": f"bench-alerts-{uuid.uuid4().hex[:8]}",
                    "auto.offset.reset": "earliest",
                    "fetch.wait.max.ms": 10,  # a subscriber that wants alerts at once
                    "logger": LIBRDKAFKA_LOGGER,
                }
            )
            consumer.subscribe([settings.topic(ALERTS.name)])
            while not stop.is_set():
                message = consumer.poll(0.05)
                if message is None or message.error() is not None:
                    continue
                arrived = time.time()
                alert = decode(message.value() or b"")
                if isinstance(alert, Alert) and alert.rule == "watchlist":
                    for event_id in alert.event_ids:
                        arrivals.setdefault(event_id, arrived)
            consumer.close()

        reader = threading.Thread(target=subscribe, daemon=True)
        reader.start()
        publisher = Publisher(settings, **{"linger.ms": 1})
        begin = datetime.now(UTC) + timedelta(seconds=1)
        kill_at = begin.timestamp() + restart_after if restart_after else None
        for event in events:
            at = begin + (event.captured_at - zero)
            if kill_at is not None and at.timestamp() >= kill_at:
                worker, kill_at = _restart(settings, state, worker), None
            stamped = event.model_copy(
                update={"captured_at": at, "received_at": at + timedelta(milliseconds=300)}
            )
            value = encode(stamped)
            due = at.timestamp()
            wait = due - time.time()
            if wait > 0:
                time.sleep(wait)
            elif wait < -0.01:
                late_sends += 1
            intended.setdefault(event.event_id, due)
            publisher.produce(topics[event.kind], value, event.device_id.encode())
        publisher.flush_sync(60)
        time.sleep(5)  # the last alerts
        stop.set()
        reader.join(10)
        restored = _counters(settings) if restart_after else None
    finally:
        worker.terminate()
        worker.wait(60)
    cut = begin.timestamp() + restart_after if restart_after else float("inf")
    latencies = sorted(
        (arrivals[e] - intended[e]) * 1000 for e in arrivals if intended.get(e, cut) < cut
    )
    report: dict[str, Any] = {
        "offered_rate": rate,
        "seconds": seconds,
        "alerts": len(latencies),
        "p50_ms": _percentile(latencies, 0.50),
        "p99_ms": _percentile(latencies, 0.99),
        "max_ms": round(latencies[-1], 1) if latencies else None,
        # Captures the sender put out more than 10 ms behind schedule (its own lag).
        "late_sends": late_sends,
    }
    if restart_after:
        report["restart"] = {
            "after_seconds": restart_after,
            **_after_restart(cut, intended, arrivals, restored or {}),
        }
    return report


def _restart(
    settings: Settings, state: Path, worker: subprocess.Popen[bytes]
) -> subprocess.Popen[bytes]:
    """Kill the worker (no shutdown: what it had not committed is redelivered) and start it
    again at once."""
    worker.kill()
    worker.wait(60)
    return _start_worker(settings, state)


def _after_restart(
    kill: float,
    intended: dict[str, float],
    arrivals: dict[str, float],
    counters: dict[str, dict[str, int]],
) -> dict[str, Any]:
    """The alerts of the captures sent after the kill: how long until the first came, their
    latencies, and how much state the new process read back."""
    after = {e: at for e, at in intended.items() if at >= kill}
    came = sorted((arrivals[e] - at) * 1000 for e, at in after.items() if e in arrivals)
    first = min((arrivals[e] for e in after if e in arrivals), default=None)
    restored = counters.get("streams_state_records_restored_total", {})
    return {
        "first_alert_seconds_after_kill": None if first is None else round(first - kill, 2),
        "alerts": len(came),
        "p50_ms": _percentile(came, 0.50),
        "p99_ms": _percentile(came, 0.99),
        "max_ms": round(came[-1], 1) if came else None,
        "state_records_restored": sum(restored.values()),
    }


def _ready(settings: Settings) -> bool:
    import urllib.request

    url = f"http://{settings.web_host}:{settings.web_port}/readyz"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return round(values[min(len(values) - 1, int(q * len(values)))], 1)


def run_bench(
    settings: Settings,
    *,
    events: int,
    pure_events: int,
    rate: float,
    seconds: float,
    as_json: bool,
    restart_after: float = 0.0,
) -> int:
    """``streams bench correlate``: print the three measurements (and JSON if asked)."""
    import json

    # Rush-hour density: 0.6 captures/s per device (a tier-2 city's 10x peak), with enough
    # vehicles on the road that each needs a step's drive between its passes.
    city = make_city(devices=4000, vehicles=BENCH_VEHICLES)
    start = datetime.now(UTC)
    entries = watchlist_for(city, len(city.plates) // 50, start - timedelta(days=1))
    report: dict[str, Any] = {"devices": len(city.devices), "watchlist_entries": len(entries)}
    print(f"synthetic city: {len(city.devices)} devices, {len(city.plates)} plates", flush=True)
    if pure_events:
        stream = list(traffic(city, pure_events, start, 2400))
        for label, only in (("watchlisted_only", True), ("every_pair", False)):
            numbers = bench_rules(
                stream,
                watchlist_from_entries(entries),
                config=RuleConfig(convoy_watchlisted_only=only),
            )
            report[f"rules_{label}"] = numbers
            steady = numbers["after_warm_up_events_per_cpu_second"]
            print(
                f"rules alone, one core, convoy {label.replace('_', ' ')}: "
                f"{numbers['events_per_cpu_second']} events/s"
                + _after_warm_up(None if steady is None else f"{steady} events/s"),
                flush=True,
            )
    if events:
        stream = list(traffic(city, events, start, 2400))
        numbers = bench_worker(settings, stream, entries)
        report["worker"] = numbers
        steady = numbers["after_warm_up"]
        print(
            f"worker through Kafka ({events} captures): {numbers['events_per_second']} events/s "
            f"wall, {numbers['events_per_worker_cpu_second']} per worker CPU-second"
            + _after_warm_up(
                None
                if steady is None
                else f"{steady['events_per_second']} events/s wall, "
                f"{steady['events_per_worker_cpu_second']} per worker CPU-second"
            ),
            flush=True,
        )
        latency = bench_latency(settings, city, rate, seconds, entries, restart_after)
        report["latency"] = latency
        before = f" before the restart at {restart_after:g} s" if restart_after else ""
        print(
            f"watchlist alert latency at {rate:g} captures/s offered{before}: "
            f"p50 {latency['p50_ms']} ms, p99 {latency['p99_ms']} ms, max {latency['max_ms']} ms "
            f"({latency['alerts']} alerts)",
            flush=True,
        )
        restart = latency.get("restart")
        if restart:
            print(
                f"after the kill: first alert {restart['first_alert_seconds_after_kill']} s later; "
                f"captures sent after it: p50 {restart['p50_ms']} ms, p99 {restart['p99_ms']} ms, "
                f"max {restart['max_ms']} ms ({restart['alerts']} alerts); the new process read "
                f"{restart['state_records_restored']:,} state records back",
                flush=True,
            )
    if as_json:
        print(json.dumps(report, indent=2))
    return 0
