"""Join latency with empty queues against 100,000 waiting users, in the same run.

Two private Redis servers side by side: one with empty queues, one with 100,000 waiting users
spread over all six queues. The probe (male seeking female) has two compatible queues, and
both are the worst case the scan window must bound: ``female:male`` is deep and full of the
probe's recent partners (each one inspected and skipped), ``female:any`` is deep and full of
stale entries whose sessions expired (each one inspected and removed). The other four queues
are incompatible with the probe. Probe joins alternate between the two servers, each followed
by an untimed ``leave``, so noise hits both sides alike; the medians are compared.
"""

from __future__ import annotations

import time
from typing import Any

import redis

from bench.common import (
    Metric,
    StubNotifier,
    bench_settings,
    commandstats,
    event,
    median,
    percentile,
    private_redis,
    standalone,
)
from pairchat.bootstrap import redis_client
from pairchat.domain.keys import GENDERS, PREFERENCES, Keys
from pairchat.domain.scripts import source
from pairchat.domain.service import ChatService
from pairchat.domain.store import ChatStore
from pairchat.handlers.ws import handle_connect, handle_message
from pairchat.settings import Settings

TOTAL_WAITING = 100_000
#: The probe's two compatible queues, deep, and what fills them in each scenario.
COMPATIBLE = {("female", "male"): 45_000, ("female", "any"): 25_000}
PROBE = {"action": "join", "gender": "male", "preference": "female"}


class CountingTelemetry:
    def __init__(self) -> None:
        self.counts: dict[str, float] = {}

    def count(self, name: str, value: float = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + value

    def timing(self, name: str, milliseconds: float) -> None:
        pass


def _populate(
    client: redis.Redis, settings: Settings, probe_uid: str, scenario: str
) -> dict[str, int]:
    """Enqueues 100,000 users through the real connect and match scripts, pipelined.

    ``recent``: the compatible queues hold live waiters who are all the probe's recent
    partners. ``stale``: they hold entries whose sessions expired.
    """
    keys = Keys(settings.key_prefix)
    connect = client.register_script(source("connect"))
    match = client.register_script(source("match"))
    ttl_ms = settings.session_ttl_s * 1000
    others = [(g, p) for g in GENDERS for p in PREFERENCES if (g, p) not in COMPATIBLE]
    plan: list[tuple[str, str, int]] = [(g, p, n) for (g, p), n in COMPATIBLE.items()]
    rest = TOTAL_WAITING - sum(COMPATIBLE.values())
    plan += [(g, p, rest // len(others)) for g, p in others]
    sizes: dict[str, int] = {}
    for g, p, count in plan:
        uids = [f"w-{g}-{p}-{i}" for i in range(count)]
        for start in range(0, count, 2000):
            pipe = client.pipeline(transaction=False)
            for uid in uids[start : start + 2000]:
                cid = "c" + uid
                ck = keys.connection(cid)
                connect(keys=[ck], args=[keys.prefix, cid, uid, ttl_ms], client=pipe)
                match(
                    keys=[ck],
                    args=[
                        keys.prefix,
                        cid,
                        "queue",
                        g,
                        p,
                        "r",
                        ttl_ms,
                        600,
                        600,
                        64,
                        0,
                        60000,
                        "",
                        "1",
                        10000,
                        5000,
                    ],
                    client=pipe,
                )
            pipe.execute()
        if (g, p) in COMPATIBLE and scenario == "recent":
            for start in range(0, count, 5000):
                client.sadd(keys.recent(probe_uid), *uids[start : start + 5000])
            client.expire(keys.recent(probe_uid), 3600)
        if (g, p) in COMPATIBLE and scenario == "stale":
            for start in range(0, count, 5000):
                client.delete(*(keys.session(u) for u in uids[start : start + 5000]))
        sizes[keys.queue_name(g, p)] = int(client.zcard(keys.queue(g, p)))
    return sizes


class Side:
    """One server with its service and probe connection."""

    def __init__(self, url: str, name: str) -> None:
        self.name = name
        # Sessions outlive the benchmark, so live waiters stay live while it runs.
        self.settings = bench_settings(url, session_ttl_s=3600)
        self.client = redis_client(self.settings)
        self.admin = redis.Redis.from_url(url, decode_responses=True)
        self.notifier = StubNotifier()
        self.telemetry = CountingTelemetry()
        self.store = ChatStore(self.client, self.settings)
        self.service = ChatService(self.store, self.notifier, self.settings, self.telemetry)
        self.conn = f"probe-{name}"
        handle_connect(event("connect", self.conn), self.service)
        self.uid = str(self.admin.get(self.store.keys.connection(self.conn)))
        self.join = event("join", self.conn, PROBE)
        self.latencies: list[float] = []
        self.server_us: list[float] = []
        self.calls: dict[str, float] = {}

    def probe(self, record: bool) -> None:
        before = commandstats(self.admin)
        t = time.perf_counter()
        handle_message(self.join, self.service)
        dt = time.perf_counter() - t
        after = commandstats(self.admin)
        last = self.notifier.types
        if last.get("queued", 0) == 0 or set(last) - {"queued"}:
            raise AssertionError(f"{self.name}: the probe must end queued, got {last}")
        self.store.leave(self.conn, "leave")
        if not record:
            return
        self.latencies.append(dt * 1e6)
        self.server_us.append(after["evalsha"]["usec"] - before["evalsha"]["usec"])
        for cmd, stats in after.items():
            if cmd in ("info", "evalsha"):
                continue
            delta = stats["calls"] - before.get(cmd, {}).get("calls", 0)
            self.calls[cmd] = self.calls.get(cmd, 0) + delta


SCENARIOS = ("recent", "stale")


def run(samples: int = 300) -> list[Metric]:
    with private_redis() as e_url, private_redis() as r_url, private_redis() as s_url:
        empty = Side(e_url, "empty")
        deep = {"recent": Side(r_url, "recent"), "stale": Side(s_url, "stale")}
        sizes: dict[str, dict[str, int]] = {}
        t = time.perf_counter()
        for name, side in deep.items():
            sizes[name] = _populate(side.admin, side.settings, side.uid, name)
        populate_s = time.perf_counter() - t
        order = [empty, *deep.values()]
        for i in range(samples + 20):  # the first 20 warm up
            for k in range(len(order)):  # rotate who goes first
                order[(i + k) % len(order)].probe(record=i >= 20)
        remaining = {
            name: sum(int(side.admin.zcard(side.store.keys.queue(g, p))) for g, p in COMPATIBLE)
            for name, side in deep.items()
        }

    e50 = median(empty.latencies)
    metrics: list[Metric] = []
    for name, side in deep.items():
        waiting = sum(sizes[name].values())
        what = {"recent": "recent partners", "stale": "stale sessions"}[name]
        details: dict[str, Any] = {
            "samples": samples,
            "waiting_at_start": waiting,
            "queue_sizes": sizes[name],
            "compatible_left_at_end": remaining[name],
            "populate_s": populate_s,
            "stale_removed_per_join": side.telemetry.counts.get("StaleWaitersRemoved", 0)
            / (samples + 20),
            "redis_calls_per_join": {k: v / samples for k, v in sorted(side.calls.items())},
            "empty_p99_us": percentile(empty.latencies, 99),
            "deep_p99_us": percentile(side.latencies, 99),
            "empty_latencies_us": empty.latencies,
            "deep_latencies_us": side.latencies,
        }
        metrics.append(
            Metric(
                "depth",
                f"join p50, {waiting:,} waiting, compatible queues = {what}",
                median(side.latencies),
                "us",
                limit=e50,
                limit_name="us, empty queues",
                target="<= 1.2",
                details=details,
            ).judge()
        )
        metrics.append(
            Metric(
                "depth",
                f"Lua time per join, compatible queues = {what}",
                median(side.server_us),
                "us",
                limit=median(empty.server_us),
                limit_name="us, empty queues",
                details={"empty_us": empty.server_us, "deep_us": side.server_us},
            ).judge()
        )
    return metrics


if __name__ == "__main__":
    standalone(run)
