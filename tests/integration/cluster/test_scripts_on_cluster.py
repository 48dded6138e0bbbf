"""The hardening scripts (rate limits, report, block, reconnect grace, reap) on a real
3-node Redis Cluster: every key they touch must live in the prefix's slot."""

from __future__ import annotations

from typing import Any

import pytest
from redis.cluster import RedisCluster

from pairchat.bootstrap import redis_client
from pairchat.domain.errors import RateLimited
from pairchat.domain.service import ChatService
from pairchat.domain.store import ChatStore
from tests.conftest import RecordingNotifier
from tests.integration.cluster.test_hash_slot import (  # the cluster fixtures, shared per worker
    _settings,
    cluster,
    cluster_ports,
)
from tests.support import make_sweeper

pytestmark = [pytest.mark.integration, pytest.mark.cluster, pytest.mark.xdist_group("cluster")]
__all__ = ["cluster", "cluster_ports"]


def test_hardening_scripts_on_a_cluster(cluster: RedisCluster, cluster_ports: list[int]) -> None:
    # One report shadows: report.lua's reporters, shadow and shadowed keys run here too.
    settings = _settings(cluster_ports[2], rate_messages=3, shadow_reporters=1)
    notifier = RecordingNotifier()
    svc = ChatService(ChatStore(redis_client(settings), settings), notifier, settings)
    svc.connect("a", "alice", authenticated=True)
    svc.connect("b", "bob", authenticated=True)
    svc.join("a", "male", "any")
    svc.join("b", "female", "any")
    room = notifier.last("a")["roomId"]
    for i in range(3):
        svc.send("a", f"m{i}")
    with pytest.raises(RateLimited):
        svc.send("a", "too many")
    svc.disconnect("b")
    assert notifier.last("a")["type"] == "partner_reconnecting"
    svc.connect("b2", "bob", authenticated=True)
    assert notifier.last("a")["type"] == "partner_back"
    svc.report("b2", "on a cluster")
    assert notifier.last("b2")["type"] == "reported"
    svc.block("b2")
    assert notifier.last("a")["type"] == "partner_left" and notifier.last("a")["roomId"] == room
    svc.connect("c", "carol", authenticated=True)
    svc.connect("d", "dave", authenticated=True)
    svc.join("c", "male", "any")
    svc.join("d", "female", "any")
    cluster.delete(svc.store.keys.session("dave"))  # dave's session expired
    result = make_sweeper(cluster, settings, notifier).run()
    assert result.rooms_reaped == 1 and notifier.last("c")["type"] == "partner_left"
    # every key lives on the one node that owns the prefix's slot
    nodes: dict[str, Any] = {n.name: cluster.keys(target_nodes=n) for n in cluster.get_primaries()}
    assert sum(1 for keys in nodes.values() if keys) == 1
    assert cluster.hget(svc.store.keys.session("alice"), "send.c")  # counters in the session
    assert any(k.endswith("reports") for keys in nodes.values() for k in keys)
    for key in (":shadow:alice", ":reporters:alice", ":shadowed", ":rate:report:bob"):
        assert any(k.endswith(key) for keys in nodes.values() for k in keys), key
