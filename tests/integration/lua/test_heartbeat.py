"""heartbeat.lua on a real redis-server: a waiter's heartbeat that finds nothing new is cheap
(counted with INFO commandstats), and it searches again exactly when something changed."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
import redis

from pairchat.domain.store import ChatStore
from pairchat.settings import Settings
from tests.support import relax_now

pytestmark = pytest.mark.integration


def commands(r: redis.Redis) -> int:
    """Commands the server ran so far (INFO itself left out)."""
    stats = r.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k != "cmdstat_info")


@pytest.fixture
def store(redis_client: redis.Redis, settings: Settings) -> ChatStore:
    store = ChatStore(redis_client, replace(settings, match_relax_s=3600))
    warm(store)
    return store


def warm(store: ChatStore) -> None:
    """Loads the heartbeat script (a first EVALSHA meets NOSCRIPT and loads it: 2 more)."""
    store.client.script_load(store.scripts._scripts["heartbeat"].script)


def heartbeat_cost(store: ChatStore, cid: str) -> tuple[int, bool]:
    r = store.client
    before = commands(r)
    result = store.heartbeat(cid, f"r-{time.monotonic_ns()}")
    return commands(r) - before, result.match is not None


def test_an_idle_waiting_heartbeat_costs_six_commands(store: ChatStore) -> None:
    for cid, interests in (("a", ()), ("b", ("music", "chess"))):
        store.open_session(cid, "u-" + cid)
        store.match(cid, "join", "male", "male", "r", interests, True)
        costs = [heartbeat_cost(store, cid)[0] for _ in range(5)]
        # EVALSHA, GET conn, HMGET session, TIME, HSET of the heartbeat bucket, HMGET pool
        # (the session renewed lazily)
        assert costs == [6] * 5, (cid, costs)


def test_a_compatible_arrival_makes_the_waiter_search_once(store: ChatStore) -> None:
    store.open_session("w", "u-w")
    store.match("w", "join", "female", "any", "r", ("music",), True)
    idle, _ = heartbeat_cost(store, "w")
    store.open_session("x", "u-x")
    store.match("x", "join", "male", "female", "r2", ("chess",), True)  # compatible, no share
    searched, paired = heartbeat_cost(store, "w")
    assert searched > idle and not paired
    assert heartbeat_cost(store, "w")[0] == idle  # nothing new since
    store.open_session("y", "u-y")
    store.match("y", "join", "male", "male", "r3")  # incompatible with w: no search
    assert heartbeat_cost(store, "w")[0] == idle


def test_the_relaxation_time_makes_the_waiter_search_and_pair(store: ChatStore) -> None:
    store.open_session("x", "u-x")
    store.match("x", "join", "male", "female", "r")  # open to anyone, waiting
    store.open_session("w", "u-w")
    queued = store.match("w", "join", "female", "any", "r2", ("music",), True)
    assert not queued.matched
    assert heartbeat_cost(store, "w") == (6, False)  # relaxation not due yet
    relax_now(store.client, store.keys, "u-w")
    result = store.heartbeat("w", "room-relaxed")
    assert result.match is not None and result.match.partner_id == "u-x"
    assert result.match.relaxed and result.status is not None


def test_retry_ms_points_at_the_relaxation_time(
    redis_client: redis.Redis, settings: Settings
) -> None:
    store = ChatStore(redis_client, replace(settings, match_relax_s=2))
    store.open_session("w", "u-w")
    queued = store.match("w", "join", "female", "any", "r", ("music",), True)
    assert queued.status and 1500 <= queued.status.retry_ms <= 2000
    store.open_session("n", "u-n")
    plain = store.match("n", "join", "male", "male", "r2")
    assert plain.status and plain.status.retry_ms == 5000


def test_the_lease_renews_the_connection_and_the_online_registration(
    redis_client: redis.Redis, settings: Settings
) -> None:
    store = ChatStore(redis_client, replace(settings, session_ttl_s=1))
    warm(store)
    store.open_session("w", "u-w")
    store.match("w", "join", "female", "any", "r")
    first = redis_client.zscore(store.keys.online(), "u-w")
    costs = []
    for _ in range(8):
        time.sleep(0.1)
        costs.append(heartbeat_cost(store, "w")[0])
    # renewed once a quarter of the TTL had run: 4 more (HSET t, 2 PEXPIRE, ZADD online);
    # on a loaded machine a sleep can outlast a registration, and the online count is then
    # recounted once (3 more commands, heartbeat.lua's recount path), with or without a
    # renewal in the same heartbeat
    assert min(costs) == 6 and 10 in costs and set(costs) <= {6, 9, 10, 13}, costs
    assert redis_client.zscore(store.keys.online(), "u-w") > first
    time.sleep(0.45)  # heartbeats within half the TTL: the session never lapses
    assert store.heartbeat("w", "r2").state == "queued"
