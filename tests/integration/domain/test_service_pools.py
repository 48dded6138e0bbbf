"""Pools on one redis-server: users of different pools never meet, every key a pool writes
carries that pool's hash tag, a token user's block follows it into every pool while recent
partners stay in theirs, and the sweeper covers every pool."""

from __future__ import annotations

from dataclasses import replace

import pytest
import redis

from pairchat.bootstrap import Unannounced, pool_service
from pairchat.domain.service import Caller, ChatService
from pairchat.domain.store import ChatStore
from pairchat.domain.sweeper import PoolSweeper, Sweeper
from pairchat.handlers.ws import handle_connect, handle_message
from pairchat.settings import Settings
from tests.conftest import RecordingNotifier
from tests.support import load_event

pytestmark = pytest.mark.integration

POOLS = ("en", "es", "de")
#: Each pool's prefix, as settings.pool_prefix derives it (pinned by test_keys.py).
P = {"en": "{pc:en:dbd3}:", "es": "{pc:es:c0bc}:", "de": "{pc:de:959a}:"}


@pytest.fixture
def pooled(settings: Settings) -> Settings:
    return replace(settings, pools=POOLS, key_prefix="{pc}:")


@pytest.fixture
def services(
    redis_client: redis.Redis, pooled: Settings, notifier: RecordingNotifier
) -> dict[str, ChatService]:
    stores = {p: ChatStore(redis_client, pooled, p) for p in pooled.pools}
    return {p: pool_service(stores, p, notifier, pooled) for p in pooled.pools}


def test_users_of_different_pools_never_meet(
    services: dict[str, ChatService], notifier: RecordingNotifier, redis_client: redis.Redis
) -> None:
    en, es = services["en"], services["es"]
    en.connect("e1", "u-e1")
    es.connect("s1", "u-s1")
    en.join("e1", "male", "any")
    es.join("s1", "female", "any")
    assert notifier.types("e1") == ["queued"] and notifier.types("s1") == ["queued"]
    es.connect("s2", "u-s2")
    es.join("s2", "male", "any")
    matched = notifier.last("s2")
    assert matched["type"] == "matched"
    assert matched["partnerId"] == es.alias(matched["roomId"], "u-s1")
    assert notifier.types("e1") == ["queued"], "the en waiter was never offered"
    # every key lives under its own pool's tag
    for key in redis_client.keys("*"):
        assert key.startswith((P["en"], P["es"])), key
    assert redis_client.exists(P["en"] + "sess:u-e1", P["es"] + "sess:u-s1") == 2
    assert not redis_client.exists(P["es"] + "sess:u-e1")


def test_a_connection_acts_only_in_its_own_pool(
    services: dict[str, ChatService], notifier: RecordingNotifier
) -> None:
    """Frames go to the service of the pool the context names: the same connection id seen
    through another pool's service has no session there."""
    services["en"].connect("c1", "u-c1")
    event = load_event("join", "c1", {"action": "join", "gender": "male", "preference": "any"})
    assert handle_message(event, services["es"])["statusCode"] == 410
    assert notifier.last("c1")["code"] == "session_expired"
    assert handle_message(event, services["en"])["statusCode"] == 200
    assert notifier.last("c1")["type"] == "queued"


def test_connect_refuses_a_pool_its_service_does_not_serve(
    services: dict[str, ChatService], redis_client: redis.Redis
) -> None:
    assert handle_connect(load_event("$connect", "k1", pool="es"), services["es"]) == {
        "statusCode": 200
    }
    # an unknown pool: 400, and a context routed to the wrong pool's service: 500
    assert (
        handle_connect(load_event("$connect", "k2", pool="fr"), services["en"])["statusCode"] == 400
    )
    assert (
        handle_connect(load_event("$connect", "k3", pool="es"), services["en"])["statusCode"] == 500
    )
    assert redis_client.exists(P["es"] + "conn:k1") and not redis_client.keys("*k2*")
    assert not redis_client.keys("*k3*")


def test_a_token_users_block_follows_it_across_pools_recent_partners_do_not(
    services: dict[str, ChatService], notifier: RecordingNotifier, redis_client: redis.Redis
) -> None:
    en, es, de = services["en"], services["es"], services["de"]
    for svc, tag in ((en, "en"), (es, "es")):
        svc.connect(f"a-{tag}", "alice", authenticated=True)
        svc.connect(f"b-{tag}", "bob", authenticated=True)
    # they meet in en and in es: recent partners are per pool, so es does not skip them
    en.join("a-en", "female", "any")
    en.join("b-en", "male", "any")
    assert notifier.last("b-en")["type"] == "matched"
    es.join("a-es", "female", "any")
    es.join("b-es", "male", "any")
    assert notifier.last("b-es")["type"] == "matched", "recent partners stay in their pool"
    # alice blocks bob in es: the block is written into every pool
    es.block("a-es", Caller(authenticated=True))
    assert notifier.last("a-es")["type"] == "blocked"
    for pool in POOLS:
        assert redis_client.smembers(P[pool] + "block:alice") == {"bob"}, pool
        assert redis_client.ttl(P[pool] + "block:alice") > 0
    # ... so in de, where they never met, they are not paired (either way round)
    de.connect("a-de", "alice", authenticated=True)
    de.connect("b-de", "bob", authenticated=True)
    de.join("a-de", "female", "any")
    de.join("b-de", "male", "any")
    assert notifier.last("b-de")["type"] == "queued"
    assert notifier.types("a-de") == ["queued"]


def test_an_anonymous_block_stays_in_its_pool(
    services: dict[str, ChatService], notifier: RecordingNotifier, redis_client: redis.Redis
) -> None:
    en = services["en"]
    en.connect("x", "anon-x")
    en.connect("y", "anon-y")
    en.join("x", "female", "any")
    en.join("y", "male", "any")
    en.block("x")
    assert redis_client.smembers(P["en"] + "block:anon-x") == {"anon-y"}
    assert not redis_client.exists(P["es"] + "block:anon-x", P["de"] + "block:anon-x")


def test_a_pool_that_cannot_be_written_does_not_undo_the_block(
    services: dict[str, ChatService], notifier: RecordingNotifier, redis_client: redis.Redis
) -> None:
    counted: list[str] = []

    class Counter:
        def count(self, name: str, value: float = 1) -> None:
            counted.append(name)

        def timing(self, name: str, milliseconds: float) -> None:
            pass

    en = services["en"]
    en.telemetry = Counter()
    broken = en.block_mirrors[0]

    def fail(user_id: str, blocked_id: str) -> None:
        raise redis.ConnectionError("that shard is down")

    broken.mirror_block = fail  # type: ignore[method-assign]
    en.connect("p", "pat", authenticated=True)
    en.connect("q", "quinn", authenticated=True)
    en.join("p", "female", "any")
    en.join("q", "male", "any")
    en.block("p", Caller(authenticated=True))
    assert notifier.last("p")["type"] == "blocked"
    assert counted.count("BlockMirrorFailures") == 1
    assert redis_client.smembers(P["en"] + "block:pat") == {"quinn"}
    others = [m.pool for m in en.block_mirrors if m is not broken]
    assert all(redis_client.smembers(P[p] + "block:pat") == {"quinn"} for p in others)


def test_the_sweeper_covers_every_pool(
    redis_client: redis.Redis, pooled: Settings, notifier: RecordingNotifier
) -> None:
    sweepers = {}
    for pool in pooled.pools:
        store = ChatStore(redis_client, pooled, pool)
        svc = ChatService(store, notifier, pooled)
        svc.connect(f"w-{pool}", f"u-{pool}")
        svc.join(f"w-{pool}", "male", "any")
        redis_client.delete(store.keys.session(f"u-{pool}"))  # its $disconnect never came
        sweepers[pool] = Sweeper(ChatService(store, Unannounced(), pooled), announce=False)
    result = PoolSweeper(sweepers).run()
    assert result.queue_entries_removed == len(POOLS)
    assert set(result.pools) == set(POOLS)
    assert all(r["queue_entries_removed"] == 1 for r in result.pools.values())
    assert not any(redis_client.zcard(P[p] + "wait:chat:male:any") for p in POOLS)
    assert all(redis_client.exists(P[p] + "sweeper") for p in POOLS), "cursors per pool"
