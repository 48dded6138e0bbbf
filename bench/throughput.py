"""Join throughput through the real handler, against the no-op EVALSHA rate of the same client.

One process, one real private Redis, the Management API stubbed in process. Each repetition
connects 2N users (untimed), then times N joins that queue and N joins that match, all through
``pairchat.handlers.ws.handle_message``; around it, the same client runs a no-op script the
same number of times (the one-round-trip limit). Repetitions alternate the two and the
medians are compared. The same run also counts round trips per join and per relayed message
and reads the Lua server time per join from ``INFO commandstats``.
"""

from __future__ import annotations

import time
from typing import Any

from bench.common import (
    PREFIX,
    CountingConnection,
    Metric,
    StubNotifier,
    bench_settings,
    commandstats,
    event,
    median,
    private_redis,
    standalone,
)
from pairchat.bootstrap import redis_client
from pairchat.domain.scripts import SCRIPT_NAMES, source
from pairchat.domain.service import ChatService
from pairchat.domain.store import ChatStore
from pairchat.handlers.ws import handle_connect, handle_message

NOOP = "return {'ok', ARGV[2]}"


def _events(n: int, rep: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """Connects first, then N queueing joins (male seeks female), then N matching ones."""
    conns = [f"c{rep}-{i}" for i in range(2 * n)]
    waiters = [
        event("join", c, {"action": "join", "gender": "male", "preference": "female"})
        for c in conns[:n]
    ]
    joiners = [
        event("join", c, {"action": "join", "gender": "female", "preference": "any"})
        for c in conns[n:]
    ]
    return waiters, joiners, conns


def run(n: int = 1500, reps: int = 7) -> list[Metric]:
    with private_redis() as url:
        settings = bench_settings(url)
        client = redis_client(settings)  # the product's own client factory
        admin = client
        notifier = StubNotifier()
        service = ChatService(ChatStore(client, settings), notifier, settings)
        noop = client.register_script(NOOP)
        noop_args = [PREFIX, "c", "join", "female", "any", "r" * 36, 60000, 600, 600, 64]

        join_rates: list[float] = []
        noop_rates: list[float] = []
        lua_queue_us: list[float] = []
        lua_match_us: list[float] = []
        for rep in range(reps + 1):  # rep 0 warms up (script load, connection) and is dropped
            admin.flushall()
            waiters, joiners, conns = _events(n, rep)
            for c in conns:
                handle_connect(event("connect", c), service)

            t = time.perf_counter()
            for _ in range(2 * n):
                noop(keys=[f"{PREFIX}conn:c"], args=noop_args)
            noop_s = time.perf_counter() - t

            admin.config_resetstat()
            t = time.perf_counter()
            for e in waiters:
                handle_message(e, service)
            queue_s = time.perf_counter() - t
            q_stats = commandstats(admin)["evalsha"]
            admin.config_resetstat()
            t = time.perf_counter()
            for e in joiners:
                handle_message(e, service)
            match_s = time.perf_counter() - t
            m_stats = commandstats(admin)["evalsha"]
            if rep == 0:
                continue
            if q_stats["calls"] != n or m_stats["calls"] != n:
                raise AssertionError(f"expected {n} EVALSHA per phase: {q_stats} {m_stats}")
            join_rates.append(2 * n / (queue_s + match_s))
            noop_rates.append(2 * n / noop_s)
            lua_queue_us.append(q_stats["usec_per_call"])
            lua_match_us.append(m_stats["usec_per_call"])
        matched = notifier.types.get("matched", 0)
        if matched != 2 * n * (reps + 1):
            raise AssertionError(f"expected every joiner matched, got {notifier.types}")
        round_trips = _round_trips(url)

    join_rate, noop_rate = median(join_rates), median(noop_rates)
    per_rep = [j / x for j, x in zip(join_rates, noop_rates, strict=True)]
    return [
        Metric(
            "throughput",
            "join throughput (handler, 1 client)",
            join_rate,
            "joins/s",
            limit=noop_rate,
            limit_name="no-op EVALSHA/s",
            target=">= 0.5",
            details={
                "n_joins_per_rep": 2 * n,
                "reps": reps,
                "join_rates": join_rates,
                "noop_rates": noop_rates,
                "per_rep_ratio": per_rep,
            },
        ).judge(),
        Metric(
            "lua",
            "Lua server time per join (queued)",
            median(lua_queue_us),
            "us",
            details={"per_rep": lua_queue_us},
        ),
        Metric(
            "lua",
            "Lua server time per join (matched)",
            median(lua_match_us),
            "us",
            details={"per_rep": lua_match_us},
        ),
        *round_trips,
    ]


def _round_trips(url: str, n: int = 200) -> list[Metric]:
    """Counts client round trips (socket writes) and server commands per join and per send."""
    import redis

    settings = bench_settings(url)
    client = redis.Redis(
        connection_pool=redis.ConnectionPool.from_url(
            url, connection_class=CountingConnection, decode_responses=True
        )
    )
    client.flushall()
    service = ChatService(ChatStore(client, settings), StubNotifier(), settings)
    conns = [f"rt-{i}" for i in range(2 * n)]
    for c in conns:
        handle_connect(event("connect", c), service)
    # Load every script first: a NOSCRIPT reload (two extra trips) happens after a failover
    # or a SCRIPT FLUSH, not in the steady state measured here.
    for name in SCRIPT_NAMES:
        client.script_load(source(name))
    joins = [
        event("join", c, {"action": "join", "gender": g, "preference": "any"})
        for c, g in zip(conns, ["male", "female"] * n, strict=True)
    ]
    sends = [event("send", c, {"action": "send", "text": "hello there"}) for c in conns]

    def measure(events: list[dict[str, Any]]) -> tuple[float, float, dict[str, float]]:
        """Round trips and client commands per event; ``lua_us`` is the script's server time."""
        client.config_resetstat()
        before = CountingConnection.round_trips
        for e in events:
            handle_message(e, service)
        trips = CountingConnection.round_trips - before
        stats = commandstats(client)
        external: dict[str, float] = {
            k: v["calls"] for k, v in stats.items() if k in _CLIENT_COMMANDS
        }
        external["lua_us"] = stats["evalsha"]["usec_per_call"]
        commands = sum(v for k, v in external.items() if k != "lua_us")
        return trips / len(events), commands / len(events), external

    j_trips, j_cmds, j_detail = measure(joins)
    s_trips, s_cmds, s_detail = measure(sends)
    client.close()
    return [
        Metric(
            "round_trips",
            "Redis round trips per join",
            j_trips,
            "trips",
            limit=1.0,
            limit_name="trip (one script call)",
            target="== 1",
            details={"joins": len(joins), "server_commands_per_join": j_cmds, "commands": j_detail},
        ).judge(),
        Metric(
            "round_trips",
            "Redis round trips per relayed message",
            s_trips,
            "trips",
            limit=1.0,
            limit_name="trip (one script call)",
            target="== 1",
            details={"sends": len(sends), "server_commands_per_send": s_cmds, "commands": s_detail},
        ).judge(),
    ]


# Commands a client can send; INFO commandstats also counts redis.call() from inside scripts,
# which are not round trips, so only these are summed.
_CLIENT_COMMANDS = {"evalsha", "eval", "script|load", "ping", "hello", "client|setinfo"}


if __name__ == "__main__":
    standalone(run)
