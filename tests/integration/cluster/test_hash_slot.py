"""The hash-tag design, proven on a real 3-node Redis Cluster.

ElastiCache Serverless is always cluster mode: a script may only touch keys of the slot it
was routed to. This module starts three ``--cluster-enabled yes`` servers of the test engine
(Redis, or Valkey with ``PAIRCHAT_TEST_ENGINE=valkey``) on free loopback ports, joins them
with ``redis-cli --cluster create``, and runs pairing, chat and leave through the Lambda
adapters with the production client factory (a ``RedisCluster``).
Then it shows the counterfactual: without a hash tag the code refuses to start, and the
server refuses the same scripts.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any

import pytest
import redis
from redis.cluster import RedisCluster

from pairchat.bootstrap import redis_client
from pairchat.domain.service import ChatService
from pairchat.domain.store import ChatStore
from pairchat.handlers.ws import handle_connect, handle_disconnect, handle_message
from pairchat.settings import Settings, SettingsError
from pairchat_tools.local.redis_server import RedisServer, RedisServerError
from tests.conftest import RecordingNotifier
from tests.support import free_port, load_event, redis_server

pytestmark = [pytest.mark.integration, pytest.mark.cluster, pytest.mark.xdist_group("cluster")]

PREFIX = "{pairchat}:"
NODES = 3


def _node(port: int, bus_port: int) -> AbstractContextManager[RedisServer]:
    """One cluster node of the test engine (``PAIRCHAT_TEST_ENGINE``), via the one launcher."""
    return redis_server(
        "--cluster-enabled", "yes",
        "--cluster-port", str(bus_port),
        "--cluster-config-file", "nodes.conf",  # inside the server's own --dir: one per node
        "--cluster-node-timeout", "5000",
        port=port,
    )  # fmt: skip


def _wait(predicate: Any, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except redis.ConnectionError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def _distinct_free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def _cluster_ready(clients: list[redis.Redis]) -> bool:
    infos = [c.cluster("INFO") for c in clients]
    return all(
        i["cluster_state"] == "ok"
        and int(i["cluster_slots_assigned"]) == 16384
        and int(i["cluster_known_nodes"]) == NODES
        for i in infos
    )


def _start_cluster(stack: ExitStack, cli: str) -> list[int] | str:
    """The nodes' ports once the cluster is ok, or why it could not start."""
    ports = _distinct_free_ports(2 * NODES)
    data_ports, bus_ports = ports[:NODES], ports[NODES:]
    try:
        for p, b in zip(data_ports, bus_ports, strict=True):
            stack.enter_context(_node(p, b))
    except RedisServerError as exc:  # e.g. a port taken meanwhile: the caller tries again
        return str(exc)
    clients = [redis.Redis(port=p, decode_responses=True) for p in data_ports]
    for client in clients:
        stack.callback(client.close)
    create = subprocess.run(
        [cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in data_ports),
         "--cluster-replicas", "0", "--cluster-yes"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )  # fmt: skip
    if create.returncode != 0:
        return create.stdout + create.stderr
    _wait(lambda: _cluster_ready(clients), "cluster_state:ok on every node")
    return data_ports


@contextmanager
def redis_cluster() -> Iterator[list[int]]:
    """Three masters on loopback, all 16384 slots assigned, cluster_state:ok everywhere."""
    cli = shutil.which("redis-cli")
    assert cli, "redis-cli is not on PATH (it comes with redis-server)"
    error = ""
    for _attempt in range(3):  # a free port can be taken between probing and binding
        with ExitStack() as stack:
            started = _start_cluster(stack, cli)
            if isinstance(started, list):
                yield started
                return
            error = started
    raise RuntimeError(f"could not start a Redis Cluster: {error}")


@pytest.fixture(scope="session")  # per xdist worker; survives interleaving with other modules
def cluster_ports() -> Iterator[list[int]]:
    with redis_cluster() as ports:
        yield ports


def _settings(port: int, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "redis_url": f"redis://127.0.0.1:{port}",
        "redis_cluster": True,
        "key_prefix": PREFIX,
        "management_endpoint": "http://unused.invalid",
        # Tests here report in the millisecond they pair (integration/lua/test_report.py
        # covers the minimum room age).
        "report_min_room_age_s": 0,
    }
    base.update(overrides)
    return Settings(**base)


@pytest.fixture
def cluster(cluster_ports: list[int]) -> Iterator[RedisCluster]:
    client = redis_client(_settings(cluster_ports[0]))  # the factory the Lambdas use
    assert isinstance(client, RedisCluster)
    client.flushall(target_nodes=RedisCluster.PRIMARIES)  # our own cluster, never the machine's
    yield client
    client.close()


def _keys_by_node(cluster: RedisCluster) -> dict[str, list[str]]:
    return {node.name: sorted(cluster.keys(target_nodes=node)) for node in cluster.get_primaries()}


def _frames(notifier: RecordingNotifier, connection_id: str) -> list[str]:
    return notifier.types(connection_id)


def test_pairing_chat_and_leave_through_the_handlers_on_a_cluster(
    cluster: RedisCluster, cluster_ports: list[int]
) -> None:
    settings = _settings(cluster_ports[1])  # any node will do: the client follows the slots
    notifier = RecordingNotifier()
    service = ChatService(ChatStore(redis_client(settings), settings), notifier, settings)

    for cid in ("ca", "cb"):
        assert handle_connect(load_event("$connect", cid), service) == {"statusCode": 200}

    join_a = {"action": "join", "gender": "male", "preference": "female"}
    assert handle_message(load_event("join", "ca", join_a), service)["statusCode"] == 200
    assert _frames(notifier, "ca") == ["queued"]

    join_b = {"action": "join", "gender": "female", "preference": "male"}
    assert handle_message(load_event("join", "cb", join_b), service)["statusCode"] == 200
    matched_a, matched_b = notifier.last("ca"), notifier.last("cb")
    assert matched_a["type"] == matched_b["type"] == "matched"
    assert matched_a["roomId"] == matched_b["roomId"]
    assert notifier.calls[-2:] == ["ca", "cb"], "the waiter is told first"

    send = {"action": "send", "text": "hello over the cluster"}
    assert handle_message(load_event("send", "cb", send), service)["statusCode"] == 200
    assert notifier.last("ca")["type"] == "message"
    assert notifier.last("ca")["text"] == "hello over the cluster"

    # The proof of the design: every key of this chat is in the hash tag's slot, so all of
    # them live on the one node that owns it, and the other two hold nothing.
    slot = cluster.keyslot(PREFIX)
    owner = cluster.get_node_from_key(PREFIX).name
    by_node = _keys_by_node(cluster)
    assert len(by_node) == NODES
    assert by_node[owner], "the chat left no state in Redis?"
    assert all(cluster.keyslot(k) == slot for k in by_node[owner])
    assert all(not keys for name, keys in by_node.items() if name != owner), by_node

    bad = handle_message(load_event("join", "ca", {"action": "join", "gender": "x"}), service)
    assert bad["statusCode"] == 400 and notifier.last("ca")["type"] == "error"

    assert (
        handle_message(load_event("leave", "ca", {"action": "leave"}), service)["statusCode"] == 200
    )
    assert notifier.last("cb")["type"] == "partner_left"
    assert notifier.last("ca")["type"] == "left"
    send_again = handle_message(load_event("send", "cb", send), service)
    assert send_again["statusCode"] != 200 and notifier.last("cb")["type"] == "error"

    for cid in ("ca", "cb"):
        assert handle_disconnect(load_event("$disconnect", cid), service) == {"statusCode": 200}
    after = handle_message(load_event("join", "ca", join_a), service)
    assert after["statusCode"] != 200, "a disconnected connection must not act"


def test_without_a_hash_tag_the_code_refuses_cluster_mode(cluster_ports: list[int]) -> None:
    with pytest.raises(SettingsError, match="hash tag"):
        _settings(cluster_ports[0], key_prefix="pairchat:")


def test_without_a_hash_tag_the_cluster_refuses_the_scripts(
    cluster: RedisCluster, cluster_ports: list[int]
) -> None:
    """Bypass the settings check (redis_cluster=False) but talk to the cluster anyway: a
    script routed by its connection key meets a session key owned by another node."""
    prefix = "pairchat:"
    unsafe = _settings(cluster_ports[0], redis_cluster=False, key_prefix=prefix)
    store = ChatStore(redis_client(_settings(cluster_ports[0])), unsafe)
    connection_id = "c0"
    conn_node = cluster.get_node_from_key(f"{prefix}conn:{connection_id}").name
    user_id = next(
        f"u{i}"
        for i in range(10_000)
        if cluster.get_node_from_key(f"{prefix}sess:u{i}").name != conn_node
    )
    with pytest.raises(redis.ResponseError, match=r"(?i)non local key|cross.?slot|same slot"):
        store.open_session(connection_id, user_id)
    assert sum(len(v) for v in _keys_by_node(cluster).values()) == 0, "nothing half-written"
