"""The ops API, inspect's read model and the sweeper with a RedisCluster client on 3 nodes.

All pairchat keys share the prefix's hash tag, so they live on one of the three nodes: the
node-level commands (SCAN, DBSIZE, TIME, SCRIPT EXISTS) must go to that one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pairchat.bootstrap import redis_client
from pairchat.domain.service import ChatService
from pairchat.domain.store import ChatStore
from pairchat.settings import Settings
from pairchat_ops.api import create_app
from tests.conftest import RecordingNotifier
from tests.integration.cluster.test_hash_slot import redis_cluster
from tests.integration.conftest import override
from tests.support import make_sweeper

pytestmark = [pytest.mark.integration, pytest.mark.cluster, pytest.mark.xdist_group("cluster")]


@pytest.fixture(scope="module")
def cluster_settings() -> Iterator[Settings]:
    with redis_cluster() as ports:
        yield Settings(
            redis_url=f"redis://127.0.0.1:{ports[0]}",
            redis_cluster=True,
            key_prefix="{pairchat}:",
            management_endpoint="http://unused.invalid",
        )


def test_ops_api_and_sweeper_on_a_cluster(cluster_settings: Settings) -> None:
    client: Any = redis_client(cluster_settings)
    slot_node = client.get_node_from_key("{pairchat}:x")
    assert len(client.get_primaries()) == 3
    notifier = RecordingNotifier()
    service = ChatService(ChatStore(client, cluster_settings), notifier, cluster_settings)
    short = replace(cluster_settings, session_ttl_s=1)
    dying = ChatService(ChatStore(client, short), notifier, short)

    service.connect("a")
    service.connect("b")
    service.join("a", "male", "female")
    service.join("b", "female", "male")
    room = notifier.last("a")["roomId"]
    waiter = service.connect("w")
    service.join("w", "male", "male")
    dying.connect("d")
    dying.join("d", "female", "female")

    app = create_app()
    override(app, cluster_settings, client)
    with TestClient(app) as api:
        health = api.get("/health").json()
        assert health["redis"] and health["scripts"]["match"] is True
        stats = api.get("/stats").json()
        assert stats["users_waiting"] == 2
        assert stats["active_rooms"] == {**stats["active_rooms"], "value": 1, "exact": True}
        assert stats["live_sessions"]["value"] == 4
        assert stats["last_minute"]["matches"] == 1
        page = api.get("/queues/male/male").json()
        assert [w["user_id"] for w in page["waiters"]] == [waiter]
        assert api.get(f"/rooms/{room}").json()["members"][0]["connection_id"] == "a"
        assert api.get(f"/users/{waiter}").json()["queue_entry"]["name"] == "wait:chat:male:male"
        assert api.get("/reports").json()["total"] == 0

        time.sleep(1.1)  # d's session expires; its queue entry stays
        result = make_sweeper(client, cluster_settings, notifier).run()
        assert result.queue_entries_removed == 1 and result.rooms_checked == 1
        assert api.get("/stats").json()["users_waiting"] == 1
    # everything pairchat wrote is on the node that owns the tag's slot
    assert client.dbsize(target_nodes=slot_node) > 0
    others = [n for n in client.get_primaries() if n.name != slot_node.name]
    assert all(client.dbsize(target_nodes=n) == 0 for n in others)
    client.close()
