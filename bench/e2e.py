"""End to end through ``pairchat dev`` with ``pairchat bots``: 1,000 concurrent WebSocket
clients, join-to-matched p50/p99 and matches per second.

``pairchat dev`` (the API Gateway emulator running the real handlers, with its own private
redis-server) and ``pairchat bots`` (one asyncio process of simulated users) both run as
child processes, as a developer would run them. join-to-matched is measured by the bots: from
the join that completed a pair until both users had their ``matched`` frame. The limit it is
compared with is the 50 ms target; a WebSocket echo round trip through the same emulator is
not separable from it, so the run also reports the bots' own connect rate and the machine's
load average for context. ``--profile`` records the emulator with py-spy while it runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import RESULTS_DIR, ROOT, Metric, standalone

TARGET_P99_MS = 50.0
_READY = re.compile(r"WebSocket\s+(ws://\S+)")
PAIRCHAT = [sys.executable, "-m", "pairchat_tools.cli"]
#: Far above what any bot does: the limits' checks still run, their refusals do not.
NO_REFUSALS = ["RATE_JOINS_PER_WINDOW=1000000000", "RATE_MESSAGES_PER_WINDOW=1000000000"]


def start_dev(log: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["PYTHONUNBUFFERED"] = "1"
    args = [*PAIRCHAT, "dev", "--port", "0", "--redis", "server", "--log-level", "warning"]
    args += ["--no-ops", *extra]
    for item in NO_REFUSALS:
        args += ["--env", item]
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        match = _READY.search(log.read_text(errors="replace"))
        if match:
            return proc, match.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"pairchat dev did not start:\n{log.read_text(errors='replace')}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_bots(url: str, count: int, duration: float, think_ms: float, out: Path) -> dict[str, Any]:
    args = [*PAIRCHAT, "bots", "--url", url, "--count", str(count), "--duration", str(duration)]
    args += ["--ramp", "5", "--think-ms", str(think_ms), "--preferences", "pairs", "--seed", "7"]
    args += ["--quiet", "--json", str(out)]
    proc = subprocess.run(
        args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=duration + 120
    )
    if not out.exists():
        raise RuntimeError(f"pairchat bots wrote no results:\n{proc.stdout.decode()[-3000:]}")
    result: dict[str, Any] = json.loads(out.read_text())
    result["exit_code"] = proc.returncode
    return result


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _workers_cpu_s(pid: int) -> float:
    """CPU seconds of the emulator's handler worker processes (``--workers``), alive now."""
    total = 0.0
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in children.read_text().split():
            try:
                if b"multiprocessing.spawn" in Path(f"/proc/{child}/cmdline").read_bytes():
                    total += _cpu_s(int(child))
            except OSError:
                continue
    return total


def _children_cpu_s() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def dev_available() -> bool:
    try:
        import importlib.util

        return bool(
            importlib.util.find_spec("pairchat_tools.local.dev")
            and importlib.util.find_spec("pairchat_tools.bots")
        )
    except ModuleNotFoundError:
        return False


def run(
    count: int = 1000,
    duration: float = 30.0,
    think_ms: float = 2000.0,
    concurrency: int | None = None,
    profile: Path | None = None,
    workers: int | None = None,
) -> list[Metric]:
    if not dev_available():
        return [
            Metric(
                "e2e",
                "join->matched p99 (not run: pairchat dev/bots missing)",
                float("nan"),
                "ms",
                target="",
            )
        ]
    with tempfile.TemporaryDirectory() as tmp:
        extra = ["--concurrency", str(concurrency)] if concurrency else []
        extra += ["--workers", str(workers)] if workers is not None else []
        proc, url = start_dev(Path(tmp) / "dev.log", *extra)
        spy = None
        try:
            pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
            if profile and Path(pyspy).exists():
                spy = subprocess.Popen(
                    [
                        pyspy,
                        "record",
                        "-p",
                        str(proc.pid),
                        "-d",
                        str(int(duration)),
                        "-r",
                        "100",
                        "--nonblocking",
                        "-f",
                        "raw",
                        "-o",
                        str(profile),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            load_before = os.getloadavg()[0]
            # The same emulator with a tenth of the clients: the floor this machine and this
            # emulator reach when nothing queues, measured in the same run.
            small = run_bots(url, max(2, count // 10), duration / 2, think_ms, Path(tmp) / "s.json")
            dev_cpu0, bots_cpu0, t0 = _cpu_s(proc.pid), _children_cpu_s(), time.perf_counter()
            workers_cpu0 = _workers_cpu_s(proc.pid)
            result = run_bots(url, count, duration, think_ms, Path(tmp) / "bots.json")
            wall = time.perf_counter() - t0
            cpu = {
                "emulator_cores": (_cpu_s(proc.pid) - dev_cpu0) / wall,
                "bots_cores": (_children_cpu_s() - bots_cpu0) / wall,
                "handler_workers_cores": (_workers_cpu_s(proc.pid) - workers_cpu0) / wall,
            }
            load_after = os.getloadavg()[0]
        finally:
            if spy:
                spy.wait(60)
            stop(proc)
    jm = result["join_to_matched_ms"]
    sane = not (result["incompatible_pairs"] or result["double_matches"] or result["misdelivered"])
    details = {
        "clients": count,
        "duration_s": duration,
        "think_ms": think_ms,
        "handler_threads": concurrency or "pairchat dev default",
        "handler_workers": "pairchat dev default" if workers is None else workers,
        "load_average_1m_before_after": [load_before, load_after],
        "nproc": os.cpu_count(),
        "bots": result,
        "cpu_cores_used": cpu,
        "reference_clients": max(2, count // 10),
        "reference_bots": small,
        "pairing_invariants_held": sane,
    }
    return [
        Metric(
            "e2e",
            f"join->matched p99, {count} clients",
            jm["p99"],
            "ms",
            limit=TARGET_P99_MS,
            limit_name="ms target",
            target="<= 1",
            details=details,
        ).judge(),
        Metric(
            "e2e",
            f"join->matched p99, {count} clients vs {max(2, count // 10)}",
            jm["p99"],
            "ms",
            limit=small["join_to_matched_ms"]["p99"],
            limit_name=f"ms with {max(2, count // 10)} clients",
        ).judge(),
        Metric("e2e", f"join->matched p50, {count} clients", jm["p50"], "ms"),
        Metric(
            "e2e",
            "matches per second",
            result["matches_per_s"],
            "matches/s",
            details={"matches": result["matches"], "joins": result["joins"]},
        ),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--think-ms", type=float, default=2000.0)
    parser.add_argument("--concurrency", type=int, default=None)
    parser.add_argument("--workers", type=int, default=None, help="pairchat dev --workers")
    parser.add_argument("--profile", type=Path, default=None, help="py-spy raw output file")
    a = parser.parse_args()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    standalone(lambda: run(a.count, a.duration, a.think_ms, a.concurrency, a.profile, a.workers))
