"""What ``streams bench side-by-side`` prints and writes: the table, the machine it ran on, and
its section of ``docs/benchmarks.md`` (between marker comments, replaced on every run)."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from streams.bench.side_by_side import Comparison
from streams.bench.side_by_side_runs import Result

BEGIN = "<!-- side-by-side:begin (written by `streams bench side-by-side`) -->"
END = "<!-- side-by-side:end -->"
HEADING = "## Side by side: the limit, ours and a Quix Streams peer (`make bench`)"
GOAL_OF_LIMIT = 0.5


def machine(peer_python: Path | None) -> dict[str, str]:
    """CPU, cores, memory, OS, Python, Kafka and client versions of this run."""
    import confluent_kafka

    from streams.localkafka import LIBS_DIR

    info = {
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": _memory(),
        "os": f"{platform.system()} {platform.release()}",
        "python": f"CPython {platform.python_version()}",
        "kafka": _kafka_version(LIBS_DIR),
        "ours_client": f"confluent-kafka {confluent_kafka.__version__} "
        f"(librdkafka {confluent_kafka.libversion()[0]})",
    }
    if peer_python is not None:
        info["peer_client"] = _peer_versions(peer_python)
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    return "unknown"


def _kafka_version(libs: Path) -> str:
    jars = sorted(libs.glob("kafka_2.13-*.jar"))
    if not jars:
        return "unknown"
    version = jars[0].name.removeprefix("kafka_2.13-").removesuffix(".jar")
    return f"Apache Kafka {version}, single node (KRaft), loopback"


def _peer_versions(python: Path) -> str:
    probe = (
        "import json, platform, confluent_kafka, quixstreams;"
        "print(json.dumps([quixstreams.__version__, confluent_kafka.__version__,"
        " confluent_kafka.libversion()[0], platform.python_version()]))"
    )
    try:
        out = subprocess.run(
            [str(python), "-c", probe], capture_output=True, text=True, check=True, timeout=60
        ).stdout
        quix, client, librdkafka, python_version = json.loads(out)
    except (OSError, subprocess.SubprocessError, ValueError):
        return "unknown"
    return (
        f"quixstreams {quix}, confluent-kafka {client} (librdkafka {librdkafka}), "
        f"CPython {python_version}"
    )


# ---------------------------------------------------------------------------------------------


def _ratio(a: Result | None, b: Result | None) -> float | None:
    if a is None or b is None:
        return None
    return a.per_core / b.per_core


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def rows(comparison: Comparison) -> list[list[str]]:
    results = comparison.results
    limit, ours, peer = results.get("limit"), results.get("ours"), results.get("peer")
    header = [
        "implementation",
        "events",
        "wall s",
        "CPU s",
        "events/s (wall)",
        "events/s per core",
        "ratio to limit",
        "ours/peer",
        "broker CPU s",
        "other CPU s",
    ]
    table = [header]
    for result in results.values():
        table.append(
            [
                result.label,
                f"{result.payloads:,}",
                f"{result.wall_seconds:.2f}",
                f"{result.cpu_seconds:.2f}",
                f"{result.per_second:,.0f}",
                f"{result.per_core:,.0f}",
                _fmt(_ratio(result, limit), 3),
                _fmt(_ratio(ours, peer)) if result is ours else "",
                _fmt(result.broker_cpu_seconds),
                _fmt(result.other_cpu_seconds),
            ]
        )
    for name, why in comparison.skipped.items():
        table.append([name, "not run: " + why, *[""] * (len(header) - 2)])
    return table


def verdict(comparison: Comparison) -> list[str]:
    results = comparison.results
    lines = []
    of_limit = _ratio(results.get("ours"), results.get("limit"))
    if of_limit is not None:
        met = "met" if of_limit >= GOAL_OF_LIMIT else "not met"
        lines.append(f"ours / limit per core: {of_limit:.3f} (goal >= {GOAL_OF_LIMIT}: {met})")
    of_peer = _ratio(results.get("ours"), results.get("peer"))
    if of_peer is not None:
        ahead = "ahead of" if of_peer > 1 else "behind"
        lines.append(f"ours / peer per core: {of_peer:.2f} (ours is {ahead} the peer)")
    alone, limit = comparison.adapters_per_core, results.get("limit")
    if alone is not None and limit is not None:
        lines.append(
            f"the vendor adapters alone (no Kafka, one process): {alone:,.0f} payloads/s per "
            f"core, {alone / limit.per_core:.3f} of the limit: the ceiling of any implementation "
            "that normalizes with them"
        )
    return lines


def table(comparison: Comparison) -> str:
    grid = rows(comparison)
    widths = [max(len(row[i]) for row in grid) for i in range(len(grid[0]))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in grid
    ]
    return "\n".join([*lines, "", *verdict(comparison)])


def section(comparison: Comparison, when: datetime | None = None) -> str:
    """The generated part of the docs section (between the markers)."""
    when = when or datetime.now(UTC)
    data = comparison.dataset
    m = comparison.machine
    grid = rows(comparison)
    markdown = [
        "| " + " | ".join(grid[0]) + " |",
        "|" + "---|" * len(grid[0]),
        *("| " + " | ".join(row) + " |" for row in grid[1:]),
    ]
    counts = [
        f"{r.label}: {r.outputs:,} messages out, {r.duplicates:,} duplicates dropped"
        for r in comparison.results.values()
    ]
    left_out = ", ".join(f"{k} ({v})" for k, v in data["fixtures_left_out"].items()) or "none"
    lines = [
        f"Measured {when:%Y-%m-%d %H:%M} UTC by `streams bench side-by-side "
        f"--events {data['payloads']}`.",
        "",
        f"Machine: {m.get('cpu', '?')}, {m.get('cores', '?')} cores, {m.get('memory', '?')} RAM, "
        f"{m.get('os', '?')}; {m.get('python', '?')}; {m.get('kafka', '?')}. "
        f"Ours and the limit: {m.get('ours_client', '?')}. "
        f"The peer: {m.get('peer_client', 'not run')}.",
        "",
        f"Data: {data['payloads']:,} raw payloads (mean {data['mean_payload_bytes']:,} bytes) "
        f"from {data['fixtures_used']} fixtures, normalizing to {data['canonical_events']:,} "
        f"canonical events; {data['repushes']:,} re-pushes and {data['second_snapshots']:,} "
        f"second snapshots planted. Fixtures left out: {left_out}.",
        "",
        "From each one's first payload read to done; events are raw payloads:",
        "",
        *markdown,
        "",
        *(f"- {line}" for line in verdict(comparison)),
        "",
        "What each passed on:",
        "",
        *(f"- {line}" for line in counts),
    ]
    return "\n".join(lines)


def write_section(path: Path, comparison: Comparison) -> None:
    """Replace the text between the markers of ``path``, or add the section at its end."""
    text = path.read_text()
    body = f"{BEGIN}\n{section(comparison)}\n{END}"
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _m: body, text)
    else:
        text = text.rstrip("\n") + f"\n\n{HEADING}\n\n{body}\n"
    path.write_text(text)
