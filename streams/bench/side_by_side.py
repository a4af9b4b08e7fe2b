"""``streams bench side-by-side`` (``make bench``): three implementations of normalize + dedup on
the same machine, the same data, in one run.

1. The limit: a bare confluent-kafka consume -> produce loop copying every raw message as it is
   (``streams.bench.copy_limit``).
2. Ours: the worker with the normalize and dedup stages only (``STREAMS_WORKER_STAGES``).
3. The peer: the same work written with Quix Streams (``loadtest/peers/quix_normalize_dedup.py``),
   run by an interpreter that has ``quixstreams`` (``.venv/peer``: see ``docs/benchmarks.md``).

One set of raw payloads is produced once (``streams.bench.side_by_side_data``); each
implementation then reads it from the beginning in its own process, consumer group and output
topics. While it runs, its counters and the CPU time of its process (all threads, from /proc)
are sampled every 20-100 ms. It is done when every payload is read and every canonical event is
either passed on or counted as a duplicate; its output topics are then checked to hold what it
says it passed on. Rates run from its first payload read to done, so start-up (imports, joining
the consumer group) is left out and every payload's work is counted exactly once: events are raw
payloads, per second of wall time and per CPU-second of its process (events/s per core).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from streams.bench.isolation import isolated_run
from streams.bench.side_by_side_data import Dataset, make_dataset, produce
from streams.bench.side_by_side_runs import LABELS, ROOT, Limit, Ours, Peer, Result, Run, measure
from streams.errors import UserError
from streams.localkafka import free_port
from streams.settings import Settings
from streams.topics import raw_topic_name

DOCS = ROOT / "docs" / "benchmarks.md"
PEER_PYTHON = ROOT / ".venv" / "peer" / "bin" / "python"
IMPLEMENTATIONS = ("limit", "ours", "peer")
DEFAULT_EVENTS = 60_000
DESCRIPTION = (
    "Normalize + dedup three ways on the same data, one after the other: a bare confluent-kafka "
    "copy loop (the limit), ours (the worker's normalize and dedup stages) and a Quix Streams "
    "peer. Prints events/s per core of each and the ratios, and updates its section of "
    "docs/benchmarks.md. Starts the local development broker if it is not running."
)


@dataclass
class Comparison:
    dataset: dict[str, Any]
    results: dict[str, Result] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    machine: dict[str, str] = field(default_factory=dict)
    adapters_per_core: float | None = None  # the vendor adapters alone, no Kafka


def adapters_alone(dataset: Dataset, sample: int = 10_000) -> float:
    """Payloads per CPU-second of the vendor adapters alone, in this process, over the first
    ``sample`` payloads: the ceiling of any implementation that normalizes with them."""
    from datetime import UTC, datetime

    from streams.vendors import normalize
    from streams.vendors.base import Context, RawPayload

    ctx = Context()
    raws = [
        RawPayload(
            m.source,
            m.value,
            datetime.fromtimestamp(m.timestamp_ms / 1000, tz=UTC),
            m.key.decode(),
            m.content_type,
        )
        for m in dataset.messages[:sample]
    ]
    started = time.process_time()
    for raw in raws:
        normalize(raw, ctx)
    return len(raws) / (time.process_time() - started)


# ---------------------------------------------------------------------------------------------
# The whole comparison


def peer_interpreter(explicit: Path | None = None) -> tuple[Path | None, str]:
    """The interpreter that runs the peer, or None and why there is none."""
    if explicit is not None:
        if not explicit.exists():
            return None, f"{explicit} does not exist"
        return explicit, ""
    if PEER_PYTHON.exists():
        return PEER_PYTHON, ""
    if importlib.util.find_spec("quixstreams") is not None:
        return Path(sys.executable), ""
    return None, (
        f"Quix Streams is not installed ({PEER_PYTHON} is missing; `make install` creates it)"
    )


def compare(
    settings: Settings,
    count: int,
    *,
    only: tuple[str, ...] = IMPLEMENTATIONS,
    peer_python: Path | None = None,
    broker_pid: int | None = None,
    say: Callable[[str], None] = print,
) -> Comparison:
    """Produce ``count`` payloads once, then run each implementation over them in turn."""
    with isolated_run(settings) as (base, state):
        return _compare(base, state, count, only, peer_python, broker_pid, say)


def _compare(
    base: Settings,
    state: Path,
    count: int,
    only: tuple[str, ...],
    peer_python: Path | None,
    broker_pid: int | None,
    say: Callable[[str], None],
) -> Comparison:
    from loadtest.peers.quix_normalize_dedup import peer_topics
    from streams.bench.copy_limit import output_topics
    from streams.bench.side_by_side_report import machine
    from streams.kafka_admin import ensure_topics
    from streams.topics import TopicSpec

    say(f"making {count:,} raw payloads from the adapters' fixtures ...")
    dataset = make_dataset(count)
    comparison = Comparison(_dataset_summary(dataset))
    comparison.adapters_per_core = adapters_alone(dataset)
    python, why = peer_interpreter(peer_python)
    comparison.machine = machine(python)
    ensure_topics(base)
    extra = [*output_topics(), *peer_topics()]
    ensure_topics(base, [TopicSpec(name, "bytes", "device id", "benchmark") for name in extra])
    say(f"producing them to {base.topic('raw.*')} ...")
    produce(base, dataset, lambda source: base.topic(raw_topic_name(source)))
    for name in only:
        if name == "peer" and python is None:
            comparison.skipped[name] = why
            say(f"  peer: not run: {why}")
            continue
        run: Run
        if name == "limit":
            run = Limit(base, state, dataset)
        elif name == "ours":
            ours = base.model_copy(
                update={"worker_stages": "normalize,dedup", "web_port": free_port()}
            )
            run = Ours(ours, state, dataset)
        else:
            assert python is not None
            run = Peer(base, state, dataset, python)
        say(f"{LABELS[name]}: reading {count:,} payloads ...")
        comparison.results[name] = measure(run, broker_pid, say)
    return comparison


def _dataset_summary(dataset: Dataset) -> dict[str, Any]:
    return {
        "payloads": len(dataset.messages),
        "canonical_events": dataset.events,
        "repushes": dataset.repushes,
        "second_snapshots": dataset.snapshots,
        "fixtures_used": dataset.fixtures,
        "devices": dataset.devices,
        "fixtures_left_out": dataset.left_out,
        "payloads_per_source": dataset.sources,
        "mean_payload_bytes": round(
            sum(len(m.value) for m in dataset.messages) / len(dataset.messages)
        ),
    }


# ---------------------------------------------------------------------------------------------
# Command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--events",
        type=int,
        default=DEFAULT_EVENTS,
        help=f"raw payloads each implementation reads (default {DEFAULT_EVENTS:,})",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=IMPLEMENTATIONS,
        help="run only this implementation (repeatable; the docs are then left alone)",
    )
    parser.add_argument(
        "--peer-python",
        type=Path,
        help=f"interpreter that has quixstreams (default {PEER_PYTHON.relative_to(ROOT)})",
    )
    parser.add_argument(
        "--docs", type=Path, default=DOCS, help="benchmarks document whose section is updated"
    )
    parser.add_argument("--no-docs", action="store_true", help="print only; leave the docs alone")
    parser.add_argument("--json", action="store_true", help="also print the numbers as JSON")


def add_side_by_side_parser(kinds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``streams bench side-by-side``: the handler is ``run(args, settings) -> int``."""
    parser = kinds.add_parser(
        "side-by-side",
        help="normalize+dedup: the limit (bare copy loop), ours and a Quix Streams peer",
        description=DESCRIPTION,
    )
    add_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from streams.bench.side_by_side_report import table, write_section
    from streams.localkafka import development_broker

    if args.events < 100:
        raise UserError("--events: at least 100 payloads")
    only = tuple(n for n in IMPLEMENTATIONS if n in (args.only or IMPLEMENTATIONS))
    broker = development_broker(settings)
    started = broker.up()
    try:
        settings = settings.model_copy(update={"kafka_bootstrap_servers": broker.bootstrap})
        comparison = compare(
            settings,
            args.events,
            only=only,
            peer_python=args.peer_python,
            broker_pid=broker.running_pid(),
        )
    finally:
        if started:
            broker.down()
    print()
    print(table(comparison))
    if not args.no_docs and only == IMPLEMENTATIONS and args.docs.exists():
        write_section(args.docs, comparison)
        print(f"\nwritten to {args.docs}")
    if args.json:
        print(
            json.dumps(
                {
                    "dataset": comparison.dataset,
                    "machine": comparison.machine,
                    "results": {n: asdict(r) for n, r in comparison.results.items()},
                    "skipped": comparison.skipped,
                    "adapters_alone_per_core": comparison.adapters_per_core,
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    from streams.settings import load_settings

    parser = argparse.ArgumentParser(prog="streams bench side-by-side", description=DESCRIPTION)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args, load_settings())
    except UserError as exc:
        print(f"streams: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
