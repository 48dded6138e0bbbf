"""``make bench``: every benchmark in one run; a table on stdout, JSON and a PNG plot saved.

Writes ``bench/results/latest.json`` and ``bench/results/latest.png`` (gitignored). Each
number is reported against a limit measured in the same run where one exists (the no-op
EVALSHA rate, the empty-queue join), because the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import (
    coldstart,
    cost,
    depth,
    e2e,
    interests,
    matching,
    pools,
    servertime,
    textfilter,
    throughput,
)
from bench.common import RESULTS_DIR, Metric, print_metrics

BENCHMARKS: dict[str, Callable[[], list[Metric]]] = {
    "throughput": throughput.run,
    "servertime": servertime.run,
    "depth": depth.run,
    "matching": matching.run,
    "coldstart": coldstart.run,
    "e2e": e2e.run,
    "textfilter": textfilter.run,
    "pools": pools.run,
    "interests": interests.run,
    # After servertime: prices the counts servertime measured in this run (or measures them).
    "cost": cost.run,
}


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    redis_version = subprocess.run(
        ["redis-server", "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "redis": redis_version,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def plot(metrics: list[Metric], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    judged = [m for m in metrics if m.target and m.ratio is not None and m.ratio == m.ratio]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(15, 5.5), width_ratios=[1.15, 1])
    names = [m.name for m in judged][::-1]
    ratios = [m.ratio or 0.0 for m in judged][::-1]
    bounds = [float(m.target.split()[1]) for m in judged][::-1]
    colors = ["tab:green" if m.met else "tab:red" for m in judged][::-1]
    y = range(len(judged))
    ax1.barh(list(y), ratios, color=colors)
    for i, b in zip(y, bounds, strict=True):
        ax1.plot([b, b], [i - 0.4, i + 0.4], color="black", lw=2)
    ax1.set_yticks(list(y), names, fontsize=8)
    ax1.set_xlabel("ratio to the limit measured in the same run (black: target)")
    ax1.set_title("pairchat benchmarks (green: target met)")
    deep = next(
        (m for m in metrics if m.bench == "depth" and "empty_latencies_us" in m.details), None
    )
    if deep:
        for label, key in (
            ("empty queues", "empty_latencies_us"),
            ("100,000 waiting, compatible = recent partners", "deep_latencies_us"),
        ):
            values = sorted(deep.details[key])
            ax2.plot(values, [i / len(values) for i in range(len(values))], label=label)
        stale = next(
            (
                m
                for m in metrics
                if m.bench == "depth" and "stale" in m.name and "deep_latencies_us" in m.details
            ),
            None,
        )
        if stale:
            values = sorted(stale.details["deep_latencies_us"])
            ax2.plot(
                values,
                [i / len(values) for i in range(len(values))],
                label="100,000 waiting, compatible queues stale",
                ls="--",
            )
        top = max(
            sorted(deep.details["deep_latencies_us"])[
                int(0.99 * len(deep.details["deep_latencies_us"]))
            ],
            1.0,
        )
        ax2.set_xlim(0, top * 2)
        ax2.set_xlabel("join latency through the handler (us)")
        ax2.set_ylabel("fraction of joins")
        ax2.set_title("join latency: empty vs deep queues")
        ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", choices=list(BENCHMARKS), default=None)
    parser.add_argument("--skip", nargs="*", choices=list(BENCHMARKS), default=[])
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    chosen = [n for n in (args.only or BENCHMARKS) if n not in args.skip]
    started = time.time()
    metrics: list[Metric] = []
    timings: dict[str, float] = {}
    for name in chosen:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        t = time.perf_counter()
        metrics.extend(BENCHMARKS[name]())
        timings[name] = time.perf_counter() - t
    print()
    print_metrics(metrics)
    args.out.mkdir(parents=True, exist_ok=True)
    report = {
        "started_utc": datetime.datetime.fromtimestamp(started, datetime.UTC).isoformat(),
        "duration_s": time.time() - started,
        "seconds_per_benchmark": timings,
        "load_average_at_end": os.getloadavg(),
        "machine": machine(),
        "metrics": [m.as_dict() for m in metrics],
    }
    (args.out / "latest.json").write_text(json.dumps(report, indent=1, default=str))
    plot(metrics, args.out / "latest.png")
    missed = [m.name for m in metrics if m.met is False]
    print(
        f"\n{len(metrics)} numbers in {report['duration_s']:.0f} s; "
        f"targets missed: {len(missed)}; wrote {args.out}/latest.json and latest.png"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
