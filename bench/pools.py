"""Pools on a real 3-node Redis Cluster: the load spreads over the nodes, and a pool keeps its
throughput when pools on other nodes are busy.

Each pool is its own hash tag, so its own slot; a slot lives on one node, whose single engine
thread runs every script of that pool. Two questions:

1. **Spread.** N pools placed evenly over the three nodes (names picked by the node their slot
   lands on, as ``GET /pools`` shows it) get the same load through the real handlers
   (``handle_connect``/``handle_message``/``handle_disconnect`` over ``pool_service`` and the
   product's ``RedisCluster`` client), interleaved operation by operation so every node sees
   the same machine. Per chunk of operations, ``INFO commandstats`` on each node gives its
   script time (``cmdstat_evalsha`` usec) and so its share; the median share over the chunks
   (a chunk in which this shared machine preempted one server is an outlier, not a shift) is
   compared with an even share. Target: every node within +-25%. The workload per pool
   repeats: two users connect, one queues, the other matches, two messages each way, both
   disconnect (10 operations).
2. **Isolation.** Pool A's node is saturated with relays (the most frequent operation) by
   ``redis-benchmark``; a second pool gets the same load (1) on a standalone server outside
   the cluster (the placebo: the machine is as busy), (2) on another node, (3) on A's own node
   (the control). Each phase runs two saturating load generators, so the machine's two cores
   are as loaded in each; only where the second pool lives differs. A's relays are counted on
   the server (its rate counter) and divided by the CPU seconds A's node ran meanwhile
   (``INFO cpu``): throughput at a fixed CPU budget per shard, which is what a cluster whose
   shards have their own CPUs gives. Another node's pool leaves it unchanged (target >= 0.8
   of the placebo phase); a pool on the same node halves it (they share one thread): that is
   what spreading pools buys. Relays per second are reported too, but on two shared cores a
   phase with one busy server instead of two gives that server more CPU, so they measure the
   machine more than the design. Phases alternate over several rounds (this machine's other
   load drifts by the minute); the medians of the per-round ratios are reported.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import redis
from tests.support import EVENTS_DIR

from bench.common import Metric, StubNotifier, bench_settings, median, private_redis, standalone
from pairchat.bootstrap import pool_service, redis_client
from pairchat.domain.scripts import source
from pairchat.domain.service import ChatService
from pairchat.domain.store import ChatStore
from pairchat.handlers.ws import handle_connect, handle_disconnect, handle_message
from pairchat.settings import Settings

#: Pool names to choose from (ISO language codes): the benchmark takes, per node, the first
#: ones whose slot that node serves.
CANDIDATES = (
    "en", "es", "de", "fr", "it", "pt", "pt-br", "ja", "ko", "zh", "ru", "ar", "hi", "nl",
    "pl", "tr", "sv", "uk", "vi", "id", "th", "el", "cs", "ro", "hu", "fi", "da", "no",
)  # fmt: skip
SPREAD_TARGET = 0.25
ISOLATION_TARGET = 0.8
OPS_PER_CYCLE = 10
#: Isolation: the load generator, a rate window no run crosses, the phase without neighbour.
REDIS_BENCHMARK = shutil.which("redis-benchmark") or "redis-benchmark"
RATE_WINDOW_S = 10**7
ALONE = "alone (a standalone server busy beside it)"
#: The sample events (infra/events), read once: the drivers copy them per operation.
EVENTS = {
    name: json.loads((EVENTS_DIR / f"{name}.json").read_text())
    for name in ("connect", "join", "send", "disconnect")
}


# -- events and one pool's workload -------------------------------------------------------------


class PoolDriver:
    """Drives one pool through the handlers; events carry the pool in the authorizer context,
    as API Gateway would hand them over."""

    def __init__(self, service: ChatService, pool: str, tag: str) -> None:
        self.service = service
        self.pool = pool
        self.tag = tag
        self.cycles = 0

    def _event(self, route: str, cid: str, uid: str, body: Any = None) -> dict[str, Any]:
        ev = copy.deepcopy(EVENTS[route.lstrip("$")])
        ctx = ev["requestContext"]
        ctx["connectionId"] = cid
        ctx["authorizer"] = {"principalId": uid, "userId": uid, "pool": self.pool}
        ctx["authorizer"]["authenticated"] = "false"
        if body is not None:
            ev["body"] = body
        return ev

    def cycle(self) -> list[Callable[[], Any]]:
        """One cycle's operations (:data:`OPS_PER_CYCLE`), in order: two connect, one
        queues, the other matches, two messages each way, both disconnect."""
        i = self.cycles
        self.cycles += 1
        a, b = f"{self.tag}-a{i}", f"{self.tag}-b{i}"
        ua, ub = f"a:{a}", f"a:{b}"
        svc = self.service
        send_a = '{"action":"send","text":"hello from a"}'
        send_b = '{"action":"send","text":"hello from b"}'
        join_a = '{"action":"join","gender":"male","preference":"female"}'
        join_b = '{"action":"join","gender":"female","preference":"any"}'
        return [
            lambda: handle_connect(self._event("$connect", a, ua), svc),
            lambda: handle_connect(self._event("$connect", b, ub), svc),
            lambda: handle_message(self._event("join", a, ua, join_a), svc),
            lambda: handle_message(self._event("join", b, ub, join_b), svc),
            lambda: handle_message(self._event("send", a, ua, send_a), svc),
            lambda: handle_message(self._event("send", b, ub, send_b), svc),
            lambda: handle_message(self._event("send", a, ua, send_a), svc),
            lambda: handle_message(self._event("send", b, ub, send_b), svc),
            lambda: handle_disconnect(self._event("$disconnect", a, ua), svc),
            lambda: handle_disconnect(self._event("$disconnect", b, ub), svc),
        ]


# -- the cluster ------------------------------------------------------------------------------


@contextmanager
def cluster() -> Iterator[list[int]]:
    from tests.integration.cluster.test_hash_slot import redis_cluster

    with redis_cluster() as ports:
        yield ports


def cluster_settings(port: int, pools: tuple[str, ...]) -> Settings:
    return replace(bench_settings(f"redis://127.0.0.1:{port}"), redis_cluster=True, pools=pools)


def placement(client: Any, names: tuple[str, ...], port: int) -> dict[str, str]:
    """pool -> the node (host:port) serving its slot."""
    s = cluster_settings(port, names)
    return {p: client.get_node_from_key(s.prefix_for(p)).name for p in names}


def even_pools(client: Any, port: int, per_node: int) -> tuple[str, ...]:
    """``per_node`` pools on each node, taken from :data:`CANDIDATES` by where they land."""
    where = placement(client, CANDIDATES, port)
    by_node: dict[str, list[str]] = {}
    for name in CANDIDATES:
        by_node.setdefault(where[name], []).append(name)
    if len(by_node) < 3 or any(len(v) < per_node for v in by_node.values()):
        raise RuntimeError(f"not enough candidate pools per node: {by_node}")
    chosen = [name for names in by_node.values() for name in names[:per_node]]
    return tuple(sorted(chosen, key=CANDIDATES.index))


class Nodes:
    """Plain clients to each node, for ``CONFIG RESETSTAT`` and ``INFO``."""

    def __init__(self, ports: list[int]) -> None:
        self.clients = {f"127.0.0.1:{p}": redis.Redis(port=p) for p in ports}

    def reset(self) -> None:
        for c in self.clients.values():
            c.config_resetstat()

    def script_usec(self) -> dict[str, float]:
        out = {}
        for name, c in self.clients.items():
            stats = c.info("commandstats")
            out[name] = float(stats.get("cmdstat_evalsha", {}).get("usec", 0))
        return out

    def flush(self) -> None:
        for c in self.clients.values():
            c.flushall()

    def close(self) -> None:
        for c in self.clients.values():
            c.close()


def services(settings: Settings) -> dict[str, ChatService]:
    client = redis_client(settings)
    stores = {p: ChatStore(client, settings, p) for p in settings.pools}
    notifier = StubNotifier()
    return {p: pool_service(stores, p, notifier, settings) for p in settings.pools}


# -- 1. spread ----------------------------------------------------------------------------------


def spread(
    ports: list[int], pools: tuple[str, ...], chunks: int, cycles: int, nodes: Nodes
) -> dict[str, Any]:
    """The same load in every pool, interleaved operation by operation, in chunks: each node's
    share of the script time per chunk, and its median over the chunks (a chunk in which the
    machine preempted one node's server is an outlier, not a shift)."""
    settings = cluster_settings(ports[0], pools)
    svcs = services(settings)
    drivers = [PoolDriver(svcs[p], p, f"s{p}") for p in pools]
    for op in [op for d in drivers for op in d.cycle()]:  # loads the scripts on every node
        op()
    shares: dict[str, list[float]] = {name: [] for name in nodes.clients}
    totals = dict.fromkeys(nodes.clients, 0.0)
    for _ in range(chunks):
        batches = [
            op for _ in range(cycles) for op in zip(*(d.cycle() for d in drivers), strict=False)
        ]
        nodes.reset()
        for step in batches:
            for op in step:
                op()
        usec = nodes.script_usec()
        total = sum(usec.values())
        for name, v in usec.items():
            shares[name].append(v / total)
            totals[name] += v
    median_share = {name: median(v) for name, v in shares.items()}
    even = 1 / len(median_share)
    deviation = max(abs(v / even - 1) for v in median_share.values())
    return {
        "placement": placement(redis_client(settings), pools, ports[0]),
        "median_share_by_node": median_share,
        "usec_by_node": totals,
        "deviation": deviation,
    }


# -- 2. isolation -------------------------------------------------------------------------------


@dataclass
class Sender:
    """A user in a room, set up through the service, whose relays a load generator sends."""

    url: str
    key: str
    #: The sender's session: KEYS[2], as the handlers pass it, and where relay.lua counts.
    session: str
    args: list[str]
    sha: str

    def relays(self) -> int:
        """Relays so far: relay.lua counts each one in the sender's rate counter (its
        session's `send.c`)."""
        client = redis.Redis.from_url(self.url)
        try:  # one window (RATE_WINDOW_S) covers the run: its count is the field's
            return int(client.hget(self.session, "send.c") or 0)
        finally:
            client.close()

    def load(self) -> subprocess.Popen[bytes]:
        """``redis-benchmark`` sending this relay as fast as the server takes it (C, 4
        connections, pipelines of 50: the server, not the client, is the bottleneck)."""
        host, port = self.url.removeprefix("redis://").split("/")[0].split(":")
        command = ["EVALSHA", self.sha, "2", self.key, self.session, *self.args]
        return subprocess.Popen(
            [REDIS_BENCHMARK, "-h", host, "-p", port, "-c", "4", "-P", "50", "-n", "1000000000",
             "-q", *command],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip


def sender(url: str, pools: tuple[str, ...], pool: str, tag: str) -> Sender:
    """One room in ``pool`` on the server at ``url`` (the node serving the pool's slot, or a
    standalone server): every key of a pool lives on one node, so a plain client suffices."""
    settings = replace(bench_settings(url), pools=pools, rate_window_s=RATE_WINDOW_S)
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        store = ChatStore(client, settings, pool)
        svc = ChatService(store, StubNotifier(), settings)
        a, b = f"{tag}a", f"{tag}b"
        svc.connect(a, f"a:{a}")
        svc.connect(b, f"a:{b}")
        svc.join(a, "male", "female")
        svc.join(b, "female", "any")
        svc.send(a, "warm")  # the relay works, and its rate counter exists
        sha = str(client.script_load(source("relay")))
        s = settings
        args = [store.keys.prefix, a, str(s.session_ttl_s * 1000), str(s.room_ttl_s)]
        args += [str(s.rate_messages), str(RATE_WINDOW_S * 1000)]
        session = store.keys.session(f"a:{a}")
        return Sender(url, store.keys.connection(a), session, args, sha)
    finally:
        client.close()


def isolation(ports: list[int], probe: Any, seconds: float, rounds: int) -> list[Metric]:
    """Pool A's relay throughput with its node saturated by ``redis-benchmark``, beside (1) a
    placebo: the same load on a standalone server outside the cluster, (2) the same load on
    a pool of another node, (3) on a pool of A's own node. Every phase runs two saturating
    load generators, so the machine's two cores are as busy in each; only where the second
    pool lives differs. A's relays are counted on the server (its rate counter) over the same
    interval as the other pool's; rounds alternate the phases (this machine's other load
    drifts by the minute), and the per-round ratios' medians are reported."""
    pools = even_pools(probe, ports[0], 2)
    where = placement(probe, pools, ports[0])
    a = pools[0]
    same = next(p for p in pools if p != a and where[p] == where[a])
    other = next(p for p in pools if where[p] != where[a])
    url = {p: f"redis://{where[p]}/0" for p in pools}
    rows: list[dict[str, Any]] = []
    with private_redis() as placebo:
        phases = {
            ALONE: (other, placebo),
            "other node busy": (other, url[other]),
            "same node busy": (same, url[same]),
        }
        for r in range(rounds):
            row: dict[str, Any] = {}
            for name, (second, second_url) in phases.items():
                for u in {url[a], second_url}:
                    redis.Redis.from_url(u).flushall()  # our private cluster and server
                mine = sender(url[a], pools, a, f"r{r}{a}")
                theirs = sender(second_url, pools, second, f"r{r}{second}")
                loads = [mine.load(), theirs.load()]
                try:
                    time.sleep(0.7)  # both generators at full speed
                    t0, c0, d0 = time.monotonic(), mine.relays(), theirs.relays()
                    cpu0 = cpu_s(url[a])
                    time.sleep(seconds)
                    t1, c1, d1 = time.monotonic(), mine.relays(), theirs.relays()
                    cpu1 = cpu_s(url[a])
                finally:
                    for proc in loads:
                        proc.terminate()
                        proc.wait(10)
                row[name] = {
                    "a_per_s": (c1 - c0) / (t1 - t0),
                    "other_per_s": (d1 - d0) / (t1 - t0),
                    "a_per_node_cpu_s": (c1 - c0) / (cpu1 - cpu0),
                    "node_cpu_share": (cpu1 - cpu0) / (t1 - t0),
                }
            rows.append(row)

    def value(phase: str, key: str) -> float:
        return median([r[phase][key] for r in rows])

    def ratio(phase: str, key: str) -> float:
        return median([r[phase][key] / r[ALONE][key] for r in rows])

    details = {"pool": a, "other": other, "same": same, "placement": where, "rounds": rows}
    out = []
    for key, label, unit, judged in (
        ("a_per_node_cpu_s", "relays per CPU-second of its node", "relays/cpu-s", True),
        ("a_per_s", "relays per second on 2 shared cores", "relays/s", False),
    ):
        out.append(
            Metric(
                "pools",
                f"one pool's {label} (node saturated), a pool on another node busy",
                value("other node busy", key),
                unit,
                limit=value(ALONE, key),
                limit_name="alone",
                ratio=ratio("other node busy", key),
                target=f">= {ISOLATION_TARGET}" if judged else "",
                details=details if judged else {},
            ).judge()
        )
        out.append(
            Metric(
                "pools",
                f"one pool's {label} (node saturated), a pool on the same node busy (control)",
                value("same node busy", key),
                unit,
                limit=value(ALONE, key),
                limit_name="alone",
                ratio=ratio("same node busy", key),
            ).judge()
        )
    return out


def cpu_s(url: str) -> float:
    """The server's CPU seconds so far (user + system): the time its engine actually ran."""
    client = redis.Redis.from_url(url)
    try:
        cpu = client.info("cpu")
        return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])
    finally:
        client.close()


def run(chunks: int = 25, cycles: int = 2, seconds: float = 1.5, rounds: int = 7) -> list[Metric]:
    metrics: list[Metric] = []
    with cluster() as ports:
        nodes = Nodes(ports)
        try:
            probe = redis_client(cluster_settings(ports[0], ("en",)))
            for per_node in (1, 2, 4):
                pools = even_pools(probe, ports[0], per_node)
                nodes.flush()
                result = spread(ports, pools, chunks, cycles, nodes)
                metrics.append(
                    Metric(
                        "pools",
                        f"script time per node, {len(pools)} pools on 3 nodes: "
                        "largest deviation from an even share",
                        result["deviation"],
                        "fraction",
                        target=f"<= {SPREAD_TARGET}",
                        details={
                            "pools": pools,
                            **result,
                            "chunks": chunks,
                            "operations_per_pool_per_chunk": cycles * OPS_PER_CYCLE,
                        },
                    ).judge()
                )
            metrics += isolation(ports, probe, seconds, rounds)
        finally:
            nodes.close()
    return metrics


if __name__ == "__main__":
    standalone(run)
