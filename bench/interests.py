"""Matching with interests, end to end: ``pairchat bots`` with interests through ``pairchat dev``.

Issue 11 asks ``make bench`` for the commonInterests share and the wait percentiles from a bots
run. One ``pairchat dev`` (real handlers, private Redis, ``MATCH_RELAX_SECONDS`` shortened so a
short run sees fallback matches) and one ``pairchat bots`` run in which most bots give 1 to 3
interests from the default 20-word vocabulary with a Zipf popularity, some of them without
fallback, the rest none. Reported from the bots' own summary:

- the share of matches with interests that shared one (``commonInterests`` not empty), and the
  relaxed (fallback) matches;
- time to match (join -> its own ``matched``) p50/p90/p99 per kind of bot: without interests,
  with interests, with interests and no fallback, with their give-ups;
- the shortest wait of a user who gave interests before a relaxed match, against
  ``MATCH_RELAX_SECONDS``: a ratio below 1 would be a fallback match made too early (target
  >= 1);
- the bots' check of every pair against the protocol (target: no violations), and how the first
  ``etaMs`` each waiting bot was told compares with its wait (informational: the estimate's
  accuracy is tested on a steady stream in tests/integration/lua/test_queue_status.py; bots
  churn, so this is the live view).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.common import RESULTS_DIR, ROOT, Metric, standalone
from bench.e2e import PAIRCHAT, dev_available, start_dev, stop

RELAX_SECONDS = 3


def run_bots(url: str, count: int, duration: float, out: Path) -> dict[str, Any]:
    args = [*PAIRCHAT, "bots", "--url", url, "--count", str(count), "--duration", str(duration)]
    args += ["--ramp", "3", "--think-ms", "800", "--messages", "3", "--preferences", "pairs"]
    args += ["--seed", "11"]
    args += ["--patience", str(RELAX_SECONDS * 5), "--interest-share", "0.7"]
    args += ["--interests-per-bot", "1-3", "--no-fallback", "0.15", "--quiet", "--json", str(out)]
    proc = subprocess.run(
        args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=duration + 120
    )
    if not out.exists():
        raise RuntimeError(f"pairchat bots wrote no results:\n{proc.stdout.decode()[-3000:]}")
    result: dict[str, Any] = json.loads(out.read_text())
    result["exit_code"] = proc.returncode
    return result


def run(count: int = 120, duration: float = 30.0) -> list[Metric]:
    if not dev_available():
        return [Metric("interests", "not run: pairchat dev/bots missing", math.nan, "")]
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_dev(
            Path(tmp) / "dev.log", "--env", f"MATCH_RELAX_SECONDS={RELAX_SECONDS}"
        )
        try:
            result = run_bots(url, count, duration, Path(tmp) / "bots.json")
        finally:
            stop(proc)
    interests = result["interests"]
    details = {"clients": count, "duration_s": duration, "relax_seconds": RELAX_SECONDS}
    metrics = [
        Metric(
            "interests",
            "matches sharing an interest, of those with interests",
            100
            * interests["matches_sharing_interest"]
            / max(1, interests["matches_with_interests"]),
            "%",
            details={**details, "bots": result},
        ),
        Metric("interests", "relaxed (fallback) matches", interests["relaxed_matches"], "matches"),
    ]
    for kind, k in interests["kinds"].items():
        wait = k["wait_ms"]
        for q in ("p50", "p90", "p99"):
            metrics.append(
                Metric(
                    "interests",
                    f"time to match {q}, {kind.replace('_', ' ')}",
                    wait[q],
                    "ms",
                    details={"matches": k["matches"], "joins": k["joins"], "gave_up": k["gave_up"]}
                    if q == "p50"
                    else {},
                )
            )
    if not math.isnan(interests["relaxed_min_wait_ms"]):
        metrics.append(
            Metric(
                "interests",
                "earliest relaxed match vs MATCH_RELAX_SECONDS",
                interests["relaxed_min_wait_ms"],
                "ms",
                limit=RELAX_SECONDS * 1000.0,
                limit_name="ms relaxation time",
                target=">= 1",
            ).judge()
        )
    violations = interests["interest_rule_violations"] + result["incompatible_pairs"]
    violations += result["double_matches"] + result["misdelivered"]
    metrics.append(
        Metric(
            "interests", "pairs violating the protocol", violations, "pairs", target="== 0"
        ).judge()
    )
    eta = interests["eta"]
    metrics.append(
        Metric(
            "interests",
            "etaMs within 2x of the wait that followed",
            100 * eta["within_2x"],
            "%",
            details=eta,
        )
    )
    return metrics


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=120)
    parser.add_argument("--duration", type=float, default=30.0)
    a = parser.parse_args()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    standalone(lambda: run(a.count, a.duration))
