"""Pools on a real 3-node Redis Cluster: each pool is one slot, pools spread over the nodes,
users of different pools never meet under concurrent load, and every script stays in its
pool's slot (Redis 7 refuses a script that touches a second slot, even on the same node, so
a key built from the wrong prefix fails loudly)."""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest
import redis
from redis.cluster import RedisCluster
from redis.crc import key_slot

from pairchat.bootstrap import Runtime, pool_service, redis_client
from pairchat.domain.service import Caller, ChatService
from pairchat.domain.store import ChatStore
from pairchat.domain.sweeper import PoolSweeper, Sweeper
from pairchat.handlers.ws import handle_connect, handle_disconnect, handle_message
from pairchat.settings import Settings
from tests.conftest import RecordingNotifier
from tests.integration.cluster.test_hash_slot import (  # the cluster fixtures, shared per worker
    _settings,
    cluster,
    cluster_ports,
)
from tests.support import load_event

pytestmark = [pytest.mark.integration, pytest.mark.cluster, pytest.mark.xdist_group("cluster")]
__all__ = ["cluster", "cluster_ports"]

#: Six pools whose slots (with the name mix, settings.pool_prefix) fall two on each node of
#: `redis-cli --cluster create`'s even split; /pools and `pairchat inspect pools` show this.
POOLS = ("en", "es", "de", "fr", "pt", "ar")


def pooled(port: int, **overrides: Any) -> Settings:
    return replace(_settings(port), pools=POOLS, **overrides)


def services_for(settings: Settings, notifier: RecordingNotifier) -> dict[str, ChatService]:
    client = redis_client(settings)  # the factory the Lambdas use: a RedisCluster
    stores = {p: ChatStore(client, settings, p) for p in settings.pools}
    return {p: pool_service(stores, p, notifier, settings) for p in settings.pools}


def slots_by_node(cluster: RedisCluster) -> dict[str, set[int]]:
    return {
        node.name: {cluster.keyslot(k) for k in cluster.keys(target_nodes=node)}
        for node in cluster.get_primaries()
    }


def test_each_pool_is_one_slot_and_six_pools_cover_the_three_nodes(
    cluster: RedisCluster, cluster_ports: list[int]
) -> None:
    settings = pooled(cluster_ports[0])
    notifier = RecordingNotifier()
    services = services_for(settings, notifier)
    for pool, svc in services.items():
        svc.connect(f"{pool}-a", f"{pool}-alice")
        svc.connect(f"{pool}-b", f"{pool}-bob")
        svc.join(f"{pool}-a", "male", "any")
        svc.join(f"{pool}-b", "female", "any")
        svc.send(f"{pool}-b", "hola")
    slots = {p: key_slot(settings.prefix_for(p).encode()) for p in POOLS}
    assert len(set(slots.values())) == len(POOLS), "different pools, different slots"
    for pool, svc in services.items():
        keys = [k for k in cluster.scan_iter(match=f"{svc.store.keys.prefix}*")]
        assert len(keys) >= 5, pool  # sessions, conns, room, recent sets, stats
        assert {cluster.keyslot(k) for k in keys} == {slots[pool]}, pool
    used = {node: s for node, s in slots_by_node(cluster).items() if s}
    assert len(used) == 3, f"six pools should use all three nodes: {used}"
    assert sorted(len(s) for s in used.values()) == [2, 2, 2]
    owners = {p: cluster.get_node_from_key(settings.prefix_for(p)).name for p in POOLS}
    assert set(owners.values()) == set(used)


def test_users_of_different_pools_never_meet_under_concurrent_load(
    cluster: RedisCluster, cluster_ports: list[int]
) -> None:
    """Many users in six pools join, chat and move on at once, every frame routed by the pool
    in its authorizer context (what the Lambdas' Runtime.pool_of does): no match crosses."""
    settings = pooled(cluster_ports[1], rate_joins=0, rate_messages=0)
    notifier = RecordingNotifier()
    services = services_for(settings, notifier)
    runtime = Runtime(settings, {p: s.store for p, s in services.items()})
    errors: list[BaseException] = []
    per_pool, rounds = 12, 4

    def route(event: dict[str, Any]) -> ChatService:
        return services[runtime.pool_of(event)]

    def user(pool: str, i: int) -> None:
        cid, uid = f"{pool}-c{i}", f"{pool}-u{i}"
        rng = random.Random(hash(cid))
        try:
            event = load_event("$connect", cid, pool=pool, user_id=uid)
            assert handle_connect(event, route(event)) == {"statusCode": 200}
            gender = rng.choice(["male", "female"])
            for r in range(rounds):
                action = "join" if r == 0 else "next"
                body = {"action": action, "gender": gender, "preference": "any"}
                msg = load_event(action, cid, body, pool=pool, user_id=uid)
                assert handle_message(msg, route(msg))["statusCode"] in (200, 409)
                beat = load_event("heartbeat", cid, {"action": "heartbeat"}, pool=pool)
                handle_message(beat, route(beat))
            bye = load_event("$disconnect", cid, pool=pool)
            handle_disconnect(bye, route(bye))
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)

    threads = [
        threading.Thread(target=user, args=(pool, i)) for pool in POOLS for i in range(per_pool)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:3]
    # partnerId is a per-room alias: a room's two members are known by who was told of it
    rooms: dict[str, set[str]] = {}
    for cid, frames in notifier.frames.items():
        for frame in frames:
            if frame["type"] == "matched":
                rooms.setdefault(frame["roomId"], set()).add(cid.split("-c")[0])
    assert rooms and all(len(pools) == 1 for pools in rooms.values()), rooms
    matches = Counter(next(iter(pools)) for pools in rooms.values())
    assert all(matches[p] >= per_pool // 2 for p in POOLS), matches  # real load in every pool


def test_every_script_stays_in_its_pools_slot(
    cluster: RedisCluster, cluster_ports: list[int]
) -> None:
    """Every script runs in every pool (blocks are mirrored into the other five), then the
    sweeper runs over all of them; none touches a second slot, or Redis would refuse it."""
    settings = pooled(cluster_ports[2])
    notifier = RecordingNotifier()
    services = services_for(settings, notifier)
    for pool, svc in services.items():
        a, b = f"{pool}-a", f"{pool}-b"
        svc.connect(a, "ana", authenticated=True)  # one token user in every pool
        svc.connect(b, f"{pool}-ben", authenticated=True)
        svc.join(a, "female", "any")  # match.lua
        svc.join(b, "male", "any")
        svc.send(b, "hi")  # relay.lua
        svc.heartbeat(a)  # heartbeat.lua
        svc.report(a, "rude")  # report.lua
        svc.block(a, Caller(authenticated=True))  # block.lua, then mirror_block.lua x 5
        svc.connect("w-" + pool, f"{pool}-wally")
        svc.join("w-" + pool, "male", "male")
        svc.leave("w-" + pool)  # leave.lua
        svc.disconnect(b)  # leave.lua, disconnect mode
        cluster.delete(svc.store.keys.session("ana"))  # a room left to the sweeper
    for pool, svc in services.items():
        svc.connect(f"{pool}-c", f"{pool}-cy")
        svc.connect(f"{pool}-d", f"{pool}-di")
        svc.join(f"{pool}-c", "male", "any")
        svc.join(f"{pool}-d", "female", "any")
        cluster.delete(svc.store.keys.session(f"{pool}-di"))
    sweepers = {p: Sweeper(ChatService(s.store, notifier, settings)) for p, s in services.items()}
    result = PoolSweeper(sweepers).run()  # reap.lua and sweep.lua in every pool
    assert result.rooms_reaped == len(POOLS) and set(result.pools) == set(POOLS)
    for pool in POOLS:
        prefix = settings.prefix_for(pool)
        assert cluster.smembers(prefix + "block:ana") == {f"{p}-ben" for p in POOLS}, (
            "ana's six blocks, one per pool, in every pool's slot"
        )
        keys = list(cluster.scan_iter(match=f"{prefix}*"))
        assert {cluster.keyslot(k) for k in keys} == {key_slot(prefix.encode())}


def test_a_key_built_from_another_pools_prefix_is_refused(
    cluster: RedisCluster, cluster_ports: list[int]
) -> None:
    """The counterfactual: route a script by one pool's connection key but hand it another
    pool's prefix. Even when both slots sit on one node, Redis refuses it, writing nothing."""
    settings = pooled(cluster_ports[0])
    client = redis_client(settings)
    owners = {p: cluster.get_node_from_key(settings.prefix_for(p)).name for p in POOLS}
    a, b = next((p, q) for p in POOLS for q in POOLS if p != q and owners[p] == owners[q])
    store = ChatStore(client, settings, a)
    wrong = settings.prefix_for(b)
    with pytest.raises(redis.ResponseError, match=r"(?i)cross.?slot|same slot|non local"):
        store.scripts.run("connect", store.keys.connection("x1"), (wrong, "x1", "u1", 60000))
    assert not list(cluster.scan_iter(match="*x1*")) and not list(cluster.scan_iter("*u1*"))


def test_with_the_shebang_an_error_still_names_its_file_and_line(
    cluster: RedisCluster, cluster_ports: list[int]
) -> None:
    """Redis counts the shebang as line 1 of the script: the location must not shift."""
    from tests.integration.domain.test_scripts import line_of

    settings = pooled(cluster_ports[0])
    store = ChatStore(redis_client(settings), settings, "es")
    store.open_session("c1", "u1")
    cluster.delete(store.keys.session("u1"))
    cluster.set(store.keys.session("u1"), "not a hash")  # resolve()'s HMGET meets a string
    with pytest.raises(redis.ResponseError) as caught:
        store.heartbeat("c1", "r1")
    line = line_of("includes/resolve.lua", "'conn', ...) -- by the connection key")
    assert f"(includes/resolve.lua:{line} in heartbeat.lua)" in str(caught.value)
