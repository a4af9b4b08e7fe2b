"""The load test report: one JSON document, a markdown page made of it, and PNG plots."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loadtest.observe import LagSamples

PERCENTILES = (("p50", 50.0), ("p95", 95.0), ("p99", 99.0), ("p99_9", 99.9))


def percentiles(values: Sequence[float]) -> dict[str, float | int | None]:
    """Nearest-rank percentiles (no interpolation: every figure is a latency that happened)."""
    ordered = sorted(values)
    out: dict[str, float | int | None] = {"count": len(ordered)}
    for name, q in PERCENTILES:
        if not ordered:
            out[name] = None
            continue
        rank = max(math.ceil(q * len(ordered) / 100 - 1e-9), 1)  # 1e-9: 99.9% of 1000 is 999
        out[name] = round(ordered[rank - 1], 1)
    out["max"] = round(ordered[-1], 1) if ordered else None
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4f}" if value < 1 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(rows: list[tuple[str, Any]]) -> list[str]:
    return ["| | |", "|---|---|", *(f"| {name} | {_fmt(value)} |" for name, value in rows)]


def markdown(report: dict[str, Any]) -> str:
    """The report for people; every figure comes from the JSON document."""
    rates, accounting = report["rates"], report["accounting"]
    lines = [
        f"# Load test {report['run']}",
        "",
        f"Scenario: {report['scenario']['description']}; lateness "
        f"{report['scenario']['lateness_seconds']:g} s of event time. "
        f"Machine: {report['machine']}.",
        "",
        "## Rates",
        *_table([(k.replace("_", " "), v) for k, v in rates.items()]),
        "",
        "## Nothing lost",
        *_table([(k.replace("_", " "), v) for k, v in accounting.items()]),
        "",
        "## Latency (ms, against each payload's intended send time)",
        "",
        "| path | count | p50 | p95 | p99 | p99.9 | max |",
        "|---|---|---|---|---|---|---|",
    ]
    for path, figures in report["latency_ms"].items():
        cells = [_fmt(figures.get(k)) for k in ("count", "p50", "p95", "p99", "p99_9", "max")]
        lines.append(f"| {path.replace('_', ' ')} | " + " | ".join(cells) + " |")
    accuracy = report["accuracy"]
    lines += ["", "## Accuracy against ground truth", ""]
    lines += ["| measure | value | counts |", "|---|---|---|"]
    for name, figures in accuracy.items():
        value = figures.get("value")
        counts = ", ".join(f"{k} {v}" for k, v in figures.items() if k != "value")
        lines.append(f"| {name.replace('_', ' ')} | {_fmt(value)} | {counts} |")
    verdict = report["verdict"]
    lines += [
        "",
        "## Verdict",
        "",
        *(f"- {'PASS' if ok else 'FAIL'}: {what}" for what, ok in verdict.items()),
    ]
    if report.get("plots"):
        lines += ["", "## Plots", ""]
        lines += [f"![{Path(p).stem}]({Path(p).name})" for p in report["plots"]]
    return "\n".join(lines) + "\n"


def plot(
    out: Path,
    samples: LagSamples,
    sent_per_second: dict[int, int],
    latencies: dict[str, list[float]],
) -> list[Path]:
    """Rate over time, consumer lag over time, latency distributions."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    paths = []
    fig, ax = plt.subplots(figsize=(9, 4))
    replay_seconds = sorted(sent_per_second)
    ax.plot(
        replay_seconds,
        [sent_per_second[s] for s in replay_seconds],
        label="payloads sent (replay)",
    )
    read = samples.probe.get("payloads_read", [])
    if len(read) > 1:
        xs = samples.seconds[1 : len(read)]
        ys = [max(b - a, 0) / max(t1 - t0, 1e-9) for a, b, t0, t1 in _pairs(read, samples.seconds)]
        ax.plot(xs, ys, label="payloads read by normalize")
    landed = samples.probe.get("landed", [])
    if len(landed) > 1:
        xs = samples.seconds[1 : len(landed)]
        ys = [
            max(b - a, 0) / max(t1 - t0, 1e-9) for a, b, t0, t1 in _pairs(landed, samples.seconds)
        ]
        ax.plot(xs, ys, label="unique rows landed")
    ax.set(xlabel="seconds since start", ylabel="per second", title="Offered and achieved rate")
    ax.legend()
    paths.append(_save(fig, out / "rate.png"))

    fig, ax = plt.subplots(figsize=(9, 4))
    for stage, values in samples.lag.items():
        ax.plot(samples.seconds[: len(values)], values, label=stage)
    ax.set(xlabel="seconds since start", ylabel="records behind", title="Consumer lag per stage")
    ax.legend()
    paths.append(_save(fig, out / "lag.png"))

    fig, ax = plt.subplots(figsize=(9, 4))
    for name, latency in latencies.items():
        if latency:
            ordered = sorted(latency)
            ranks = [(i + 1) / len(ordered) for i in range(len(ordered))]
            ax.plot(ordered, ranks, label=name.replace("_", " "))
    ax.set(xscale="log", xlabel="ms (log)", ylabel="fraction of events", title="Latency CDF")
    ax.legend()
    paths.append(_save(fig, out / "latency.png"))
    return paths


def _pairs(values: list[int], seconds: list[float]) -> list[tuple[int, int, float, float]]:
    return [(values[i - 1], values[i], seconds[i - 1], seconds[i]) for i in range(1, len(values))]


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def write_report(out: Path, report: dict[str, Any]) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "report.json"
    json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path = out / "report.md"
    md_path.write_text(markdown(report), encoding="utf-8")
    return json_path, md_path
