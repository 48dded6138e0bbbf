"""Matching with interests, relaxation, queue status, cheap heartbeats and typing on a real
3-node Redis Cluster: every key the new scripts touch (interest index, relaxation set, pool
hash, online set, typing limiter) must live in the prefix's slot."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from redis.cluster import RedisCluster

from pairchat.bootstrap import redis_client
from pairchat.domain.service import ChatService
from pairchat.domain.store import ChatStore
from tests.conftest import RecordingNotifier
from tests.integration.cluster.test_hash_slot import (  # the cluster fixtures, shared per worker
    _settings,
    cluster,
    cluster_ports,
)
from tests.support import make_sweeper, relax_now

pytestmark = [pytest.mark.integration, pytest.mark.cluster, pytest.mark.xdist_group("cluster")]
__all__ = ["cluster", "cluster_ports"]


def test_matching_with_interests_on_a_cluster(
    cluster: RedisCluster, cluster_ports: list[int]
) -> None:
    settings = replace(_settings(cluster_ports[1]), match_relax_s=3600)
    notifier = RecordingNotifier()
    store = ChatStore(redis_client(settings), settings)
    svc = ChatService(store, notifier, settings)
    for cid in ("a", "b", "c", "d", "e"):
        svc.connect(cid, f"user-{cid}")
    svc.join("a", "female", "any", ("jazz", "music"))
    queued = notifier.last("a")
    assert queued["type"] == "queued" and queued["interests"] == ["jazz", "music"]
    assert queued["online"] == 5 and queued["retryMs"] <= 5000
    svc.join("b", "male", "any", ("music",))  # shares music with a
    assert notifier.last("b")["type"] == "matched"
    assert notifier.last("b")["commonInterests"] == ["music"]
    assert notifier.last("a")["relaxed"] is False

    svc.join("c", "female", "male", ("chess",))  # waits for chess, or for its relaxation
    svc.join("d", "male", "female")  # open to anyone, but c is not open yet
    assert notifier.last("d")["type"] == "queued"
    svc.heartbeat("d")  # nothing new for d: the cheap path
    assert notifier.last("d")["type"] == "pong" and notifier.last("d")["state"] == "queued"
    assert relax_now(cluster, store.keys, "user-c")
    svc.heartbeat("c")  # rule 3: c searches at its relaxation and finds d
    assert notifier.last("c")["type"] == "matched" and notifier.last("c")["relaxed"] is True

    svc.typing("b", True)
    assert notifier.last("a") == {**notifier.last("a"), "type": "typing", "typing": True}
    svc.join("e", "male", "male", ("go",), fallback=False)
    svc.disconnect("e")
    result = make_sweeper(cluster, settings, notifier).run()
    assert result.queue_entries_removed == 0  # e's entries left with it
    svc.connect("f", "user-f")
    svc.join("f", "female", "any", ("art",))  # waiting: in the index and the relaxation set

    # every key lives on the one node that owns the prefix's slot
    nodes: dict[str, Any] = {n.name: cluster.keys(target_nodes=n) for n in cluster.get_primaries()}
    assert sum(1 for keys in nodes.values() if keys) == 1
    keys = [k for found in nodes.values() for k in found]
    for part in ("pool", "online", "wait:int:", "wait:relax"):
        assert any(part in k for k in keys), part
    # a user's rate counters live in its session (includes/rate_limit.lua)
    assert cluster.hget(svc.store.keys.session("user-b"), "typing.c")
