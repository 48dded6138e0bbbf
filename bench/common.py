"""Shared pieces of the benchmarks: private Redis servers, stub notifier, events, results."""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/x.py` as well as `python -m bench.x`
    sys.path.insert(0, str(ROOT))

# The untimed connects log one INFO line each; joins and sends log nothing unless refused.
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "pairchat-bench")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

import redis  # noqa: E402
from tests.support import load_event  # noqa: E402

from pairchat.settings import Settings  # noqa: E402
from pairchat_tools.local.redis_server import redis_server  # noqa: E402

RESULTS_DIR = ROOT / "bench" / "results"
PREFIX = "{bench}:"


@dataclass
class Metric:
    """One reported number, its limit measured in the same run, and the target on the ratio."""

    bench: str
    name: str
    value: float
    unit: str
    #: The limit the value is compared with (same run, same machine), or the fixed target.
    limit: float | None = None
    limit_name: str = ""
    ratio: float | None = None
    #: e.g. ">= 0.5", "<= 1.2", "== 1"; empty when the number is informational.
    target: str = ""
    met: bool | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def judge(self) -> Metric:
        if self.limit and self.ratio is None:
            self.ratio = self.value / self.limit
        if self.target:
            op, _, bound = self.target.partition(" ")
            x = self.ratio if self.ratio is not None else self.value
            b = float(bound)
            self.met = {">=": x >= b, "<=": x <= b, "==": abs(x - b) < 1e-9}[op]
        return self

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class StubNotifier:
    """The Management API, stubbed in process: every post is delivered and counted."""

    def __init__(self) -> None:
        self.posts = 0
        self.types: dict[str, int] = {}

    def post(self, connection_id: str, frame: dict[str, Any]) -> bool:
        self.posts += 1
        self.types[frame["type"]] = self.types.get(frame["type"], 0) + 1
        return True


class CountingConnection(redis.Connection):
    """Counts round trips: every packed command write is one request the client waits on."""

    round_trips = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.round_trips += 1
        super().send_packed_command(command, check_health)


@contextmanager
def private_redis(*extra: str) -> Iterator[str]:
    """A private redis-server on a free port (never the machine's 6379); yields its URL."""
    with redis_server(*extra, engine="redis") as server:
        yield server.url


def bench_settings(url: str, **overrides: Any) -> Settings:
    """Product defaults, except rate limits high enough never to refuse a bench user or its
    address (every check still runs, so its cost is measured)."""
    names = {f.name for f in fields(Settings)}
    limited = (
        "rate_joins",
        "rate_messages",
        "rate_leaves",
        "rate_blocks",
        "rate_connects_per_source",
        "rate_joins_per_source",
        "heartbeat_burst",
        "reports_per_user_hour",
        "reports_per_source_hour",
    )
    limits = {k: 10**9 for k in limited if k in names}
    # A bench room is reported the moment it is made; shadowing would move bench users.
    limits.update({k: 0 for k in ("report_min_room_age_s", "shadow_reporters") if k in names})
    base: dict[str, Any] = {
        "redis_url": url,
        "key_prefix": PREFIX,
        "management_endpoint": "http://stub",
    }
    return Settings(**{**base, **limits, **overrides})


def event(route: str, connection_id: str, body: Any = None) -> dict[str, Any]:
    """A sample API Gateway event (infra/events) for one connection; a connect carries the
    authorizer's context with a new anonymous user id, as every ``$connect`` gets one (the
    sample's fixed id would make every connection the same user)."""
    if route == "connect":
        route = "$connect"
    return load_event(route, connection_id, body)


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile, q in [0, 100]."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def commandstats(client: redis.Redis) -> dict[str, dict[str, float]]:
    """INFO commandstats as {command: {calls, usec, usec_per_call, ...}}."""
    raw = client.info("commandstats")
    return {k.removeprefix("cmdstat_"): v for k, v in raw.items()}


def print_metrics(metrics: list[Metric]) -> None:
    """The table on stdout."""
    rows = [("benchmark", "metric", "value", "limit (same run)", "ratio", "target", "met")]
    for m in metrics:
        rows.append(
            (
                m.bench,
                m.name,
                f"{m.value:,.4g} {m.unit}",
                f"{m.limit:,.4g} {m.limit_name}".strip() if m.limit else "",
                f"{m.ratio:.3f}" if m.ratio is not None else "",
                m.target,
                {True: "yes", False: "NO", None: ""}[m.met],
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, r in enumerate(rows):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def standalone(run: Callable[[], list[Metric]]) -> None:
    """``python -m bench.<name>``: run one benchmark, print its table and JSON."""
    metrics = run()
    print_metrics(metrics)
    print(json.dumps([m.as_dict() for m in metrics], indent=1))
