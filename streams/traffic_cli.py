"""Commands around recorded and synthetic traffic: ``generate``, ``replay`` and ``loadtest``."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import Any

from streams.errors import UserError
from streams.settings import Settings


def _pacing(args: argparse.Namespace) -> Any:
    from streams.replay import Pacing

    if args.max:
        return Pacing()
    if args.rate is not None:
        return Pacing(rate=args.rate)
    return Pacing(speedup=args.speedup)


def _start(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        start = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(f"--start {text!r} is not an RFC 3339 time") from None
    if start.tzinfo is None:
        raise UserError("--start needs a UTC offset, e.g. 2026-11-21T08:00:00+00:00")
    return start


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    from streams.replay import run_replay

    gateway = None
    if args.via_gateway is not None:
        gateway = args.via_gateway or f"http://{settings.gateway_host}:{settings.gateway_port}"
    result = run_replay(
        settings,
        args.file,
        _pacing(args),
        gateway=gateway,
        start=_start(args.start),
        wall_clock=args.wall_clock,
    )
    summary = result.summary()
    print(
        f"sent {summary['sent']} payloads in {summary['seconds']}s ({summary['rate']}/s); "
        f"failed {summary['failed']}, refused by the gateway {summary['refused']}"
    )
    for error in result.errors:
        print(f"  error: {error}")
    return 1 if result.failed else 0


def add_pacing_arguments(parser: argparse.ArgumentParser, speedup: float) -> None:
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument(
        "--speedup",
        type=float,
        default=speedup,
        help=f"replay recorded time this many times faster (default {speedup:g})",
    )
    pace.add_argument("--rate", type=float, help="a fixed rate instead, payloads per second")
    pace.add_argument("--max", action="store_true", help="as fast as possible")


def cmd_generate(args: argparse.Namespace, settings: Settings) -> int:
    from loadtest.generate import run_generate

    return run_generate(args)


def add_traffic_parsers(sub: Any) -> None:
    from loadtest.generate import add_generate_arguments

    generate = sub.add_parser(
        "generate",
        help="build a synthetic city: capture file, ground truth, device registry, watchlist",
        description="Generates a city with ground truth: cameras of several vendors on a road "
        "network around Hangzhou, vehicles making trips, pedestrians' face tracks and alarms, "
        "with the mess of real networks (multi-snapshot passes, re-pushes, platform cascades, "
        "OCR misreads, unreadable plates, clock skew (a camera 8 h ahead), a camera flushing its "
        "buffer after an outage, malformed payloads, cloned plates, convoys, watchlist hits). "
        "Writes captures.jsonl (for `streams replay`), truth.json, devices.csv, watchlist.txt "
        "and city.json into --out.",
    )
    add_generate_arguments(generate)
    generate.set_defaults(handler=cmd_generate)

    replay = sub.add_parser(
        "replay",
        help="send a capture file into the raw topics (or through the gateway)",
        description="Sends the payloads of a capture file (JSON lines with source, device_id, "
        "at, payload or payload_b64, as `streams generate` writes) to raw.<source>, keyed by "
        "device, at recorded time x --speedup, at a fixed --rate, or --max. Each payload is "
        "stamped as received at START + at (START from --start or the city.json beside the "
        "file), so the pipeline's windows see the traffic as recorded; --wall-clock stamps "
        "the send time instead. Progress is printed once a second. Exit status 1 when a "
        "payload could not be delivered.",
    )
    replay.add_argument("file", type=Path, metavar="FILE", help="capture file (JSON lines)")
    add_pacing_arguments(replay, 1.0)
    replay.add_argument(
        "--via-gateway",
        nargs="?",
        const="",
        metavar="URL",
        help="POST through the ingest gateway as cameras do (default URL: "
        "http://STREAMS_GATEWAY_HOST:STREAMS_GATEWAY_PORT); the gateway must run with "
        "STREAMS_GATEWAY_REPLAY_CLOCK=true to keep the recorded received times",
    )
    replay.add_argument("--start", help="scenario start, RFC 3339 (default: from city.json)")
    replay.add_argument(
        "--wall-clock", action="store_true", help="stamp the send time, not START + at"
    )
    replay.set_defaults(handler=cmd_replay)
    add_loadtest_parser(sub)


def cmd_loadtest(args: argparse.Namespace, settings: Settings) -> int:
    from loadtest.run import LoadTestOptions, run_loadtest

    options = LoadTestOptions(
        out=args.out,
        city=args.city,
        cameras=args.cameras,
        vehicles=args.vehicles,
        hours=args.hours,
        seed=args.seed,
        pacing=_pacing(args),
        via_gateway=args.via_gateway,
        drain_timeout=args.timeout,
    )
    report = run_loadtest(settings, options)
    print((args.out / "report.md").read_text(encoding="utf-8"))
    print(f"report: {args.out / 'report.json'}, {args.out / 'report.md'} and plots in {args.out}")
    return 0 if all(report["verdict"].values()) else 1


def add_loadtest_parser(sub: Any) -> None:
    loadtest = sub.add_parser(
        "loadtest",
        help="replay a city through the whole backbone and report speed, latency and accuracy",
        description="Starts the local broker, generates a city with ground truth (or takes "
        "--city DIR from `streams generate`), starts the backbone on topics, consumer groups "
        "and a warehouse of its own (under .local/loadtest/), loads the watchlist, replays the "
        "traffic (straight into Kafka, or --via-gateway), waits until everything landed, and "
        "writes a report (report.json, report.md, PNG plots) to --out: offered and achieved "
        "rate, consumer lag over time, capture-to-alert and capture-to-searchable latency "
        "percentiles against each payload's intended send time, the accounting of every "
        "payload, and dedup and alert precision/recall against the ground truth. Exit status "
        "1 when a target is missed.",
    )
    loadtest.add_argument(
        "--out",
        type=Path,
        default=Path("loadtest-report"),
        help="report folder (default ./loadtest-report)",
    )
    loadtest.add_argument("--city", type=Path, help="a city folder from `streams generate`")
    loadtest.add_argument("--cameras", type=int, default=2000, help="cameras (default 2000)")
    loadtest.add_argument("--vehicles", type=int, default=5000, help="vehicles (default 5000)")
    loadtest.add_argument("--hours", type=float, default=1.0, help="hours of traffic (default 1)")
    loadtest.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    add_pacing_arguments(loadtest, 15.0)
    loadtest.add_argument(
        "--via-gateway", action="store_true", help="POST through `streams gateway` as cameras do"
    )
    loadtest.add_argument(
        "--timeout", type=float, default=900, help="seconds to wait for everything to land"
    )
    loadtest.set_defaults(handler=cmd_loadtest)
