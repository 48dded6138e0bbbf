"""match.lua on a real redis-server: compatibility, fairness, recency, staleness, bounds."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import pytest
import redis

from pairchat.domain.errors import AlreadyInRoom, NotJoined, SessionExpired
from pairchat.domain.keys import GENDERS, PREFERENCES, compatible
from pairchat.domain.store import ChatStore, MatchResult
from pairchat.settings import Settings

pytestmark = pytest.mark.integration

Combo = tuple[str, str]
COMBOS: list[Combo] = [(g, p) for g in GENDERS for p in PREFERENCES]


class Users:
    """Connects users and joins them through the store, one script call per join."""

    def __init__(self, store: ChatStore) -> None:
        self.store = store
        self.n = 0

    def connect(self) -> str:
        self.n += 1
        cid = f"c{self.n}"
        self.store.open_session(cid, f"u{self.n}")
        return cid

    def join(self, cid: str, g: str, p: str, mode: str = "join") -> MatchResult:
        return self.store.match(cid, mode, g, p, f"room-{cid}-{time.monotonic_ns()}")  # type: ignore[arg-type]


@pytest.fixture
def users(store: ChatStore) -> Users:
    return Users(store)


def snapshot(r: redis.Redis) -> dict[str, object]:
    """Every key with its value, to prove a refused call changed nothing."""
    out: dict[str, object] = {}
    for key in sorted(r.keys("*")):  # our private test server: KEYS is fine here
        kind = r.type(key)
        out[key] = {
            "string": lambda k: r.get(k),
            "hash": lambda k: r.hgetall(k),
            "zset": lambda k: r.zrange(k, 0, -1, withscores=True),
            "set": lambda k: sorted(r.smembers(k)),
            "list": lambda k: r.lrange(k, 0, -1),
        }[kind](key)
    return out


@pytest.mark.parametrize(("a", "b"), list(itertools.product(COMBOS, COMBOS)))
def test_compatibility_matrix(users: Users, a: Combo, b: Combo) -> None:
    ca, cb = users.connect(), users.connect()
    first = users.join(ca, *a)
    assert not first.matched
    second = users.join(cb, *b)
    assert second.matched == compatible(*a, *b)
    if second.matched:
        assert (second.partner_id, second.partner_connection) == ("u1", ca)


def test_oldest_compatible_waiter_across_queues_wins(users: Users) -> None:
    # Three waiters in three different queues, none compatible with another.
    w1, w2, w3 = users.connect(), users.connect(), users.connect()
    for cid, combo in [(w1, ("female", "any")), (w2, ("male", "male")), (w3, ("female", "male"))]:
        assert not users.join(cid, *combo).matched
        time.sleep(0.003)  # distinct enqueue milliseconds
    got = [users.join(users.connect(), "male", "any").partner_connection for _ in range(3)]
    assert got == [w1, w2, w3]


def test_fifo_within_one_queue(users: Users) -> None:
    waiters = []
    for _ in range(4):
        cid = users.connect()
        users.join(cid, "female", "male")
        waiters.append(cid)
        time.sleep(0.002)
    got = [users.join(users.connect(), "male", "female").partner_connection for _ in range(4)]
    assert got == waiters


def test_recent_partners_are_never_paired_again(users: Users, store: ChatStore) -> None:
    a, b, c = users.connect(), users.connect(), users.connect()
    users.join(a, "male", "any")
    assert users.join(b, "female", "any").matched
    store.leave(a, "leave")
    users.join(a, "male", "any")
    again = users.join(b, "female", "any")
    assert not again.matched, "a recent partner was paired again"
    third = users.join(c, "female", "any")
    assert third.matched and third.partner_connection == a
    # the other direction: c's recent set does not contain b, but b's contains a, etc.
    assert store.client.sismember(store.keys.recent("u1"), "u2")
    assert store.client.sismember(store.keys.recent("u2"), "u1")
    assert 0 < store.client.ttl(store.keys.recent("u1")) <= 600


def test_blocked_users_are_skipped_both_ways(users: Users, store: ChatStore) -> None:
    a, b = users.connect(), users.connect()
    store.client.sadd(store.keys.blocks("u2"), "u1")
    users.join(a, "male", "any")
    assert not users.join(b, "female", "any").matched


def test_stale_waiters_are_skipped_and_removed(
    redis_client: redis.Redis, settings: Settings
) -> None:
    from dataclasses import replace

    short = ChatStore(redis_client, replace(settings, session_ttl_s=1))
    users = Users(short)
    ghost = users.connect()
    users.join(ghost, "female", "any")
    time.sleep(1.15)  # the ghost's session expires: its $disconnect never came
    live = users.connect()
    result = users.join(live, "male", "any")
    assert not result.matched and result.stale_removed == 1
    assert redis_client.zrange(short.keys.queue("female", "any"), 0, -1) == []
    assert redis_client.zrange(short.keys.queue("male", "any"), 0, -1) == ["u2"]


def test_join_is_idempotent_and_keeps_the_place(users: Users, store: ChatStore) -> None:
    a = users.connect()
    users.join(a, "male", "female")
    q = store.keys.queue("male", "female")
    score = store.client.zscore(q, "u1")
    time.sleep(0.003)
    again = users.join(a, "male", "female")
    assert not again.matched
    assert store.client.zrange(q, 0, -1, withscores=True) == [("u1", score)]
    # changing preferences moves the single entry
    users.join(a, "male", "any")
    assert store.client.zcard(q) == 0
    assert store.client.zrange(store.keys.queue("male", "any"), 0, -1) == ["u1"]
    assert store.client.hget(store.keys.session("u1"), "q") == "wait:chat:male:any"


def test_a_user_is_never_paired_with_itself(users: Users) -> None:
    a = users.connect()
    users.join(a, "male", "any")
    assert not users.join(a, "male", "any").matched
    assert not users.join(a, "male", "male").matched


def test_join_in_a_room_is_refused_without_changes(users: Users, redis_client: redis.Redis) -> None:
    a, b = users.connect(), users.connect()
    users.join(a, "male", "any")
    users.join(b, "male", "any")
    before = snapshot(redis_client)
    with pytest.raises(AlreadyInRoom):
        users.join(a, "male", "any")
    assert snapshot(redis_client) == before


def test_unknown_connection_is_refused_without_changes(
    users: Users, redis_client: redis.Redis
) -> None:
    users.join(users.connect(), "male", "any")
    before = snapshot(redis_client)
    with pytest.raises(SessionExpired):
        users.join("nobody", "female", "any")
    assert snapshot(redis_client) == before


def test_next_without_an_earlier_join_is_refused(users: Users) -> None:
    with pytest.raises(NotJoined):
        users.join(users.connect(), "", "", mode="next")


def test_next_leaves_the_room_and_reuses_preferences(users: Users, store: ChatStore) -> None:
    a, b, c = users.connect(), users.connect(), users.connect()
    users.join(a, "male", "any")
    room = users.join(b, "female", "any").room_id
    users.join(c, "female", "any")  # waiting
    moved = users.join(a, "", "", mode="next")
    assert (moved.left_room_id, moved.left_partner_connection) == (room, b)
    assert moved.matched and moved.partner_connection == c
    assert (moved.gender, moved.preference) == ("male", "any")
    assert not store.client.exists(store.keys.room(room))
    assert not store.client.hexists(store.keys.session("u2"), "room")


def test_script_flush_is_survived(users: Users, redis_client: redis.Redis) -> None:
    a = users.connect()
    redis_client.script_flush()
    assert not users.join(a, "male", "any").matched
    redis_client.script_flush()
    assert users.join(users.connect(), "female", "any").matched


def _lua_calls(r: redis.Redis) -> Callable[[], int]:
    def count() -> int:
        stats = r.info("commandstats")
        return sum(
            int(v["calls"])
            for k, v in stats.items()
            if k in ("cmdstat_sismember", "cmdstat_hmget", "cmdstat_zrem")
        )

    return count


@pytest.mark.parametrize("depth", [200, 3000])
def test_work_per_join_is_bounded_by_the_window(
    redis_client: redis.Redis, settings: Settings, depth: int
) -> None:
    """A deep compatible queue full of recent partners costs the same as a shallow one."""
    from dataclasses import replace

    store = ChatStore(redis_client, replace(settings, match_scan_window=16))
    keys = store.keys
    joiner_uid = "joiner"
    store.open_session("cj", joiner_uid)
    pipe = redis_client.pipeline(transaction=False)
    for i in range(depth):
        uid = f"w{i}"
        pipe.hset(keys.session(uid), mapping={"conn": f"cw{i}", "q": "wait:chat:female:any"})
        pipe.zadd(keys.queue("female", "any"), {uid: 1000 + i})
        pipe.sadd(keys.recent(joiner_uid), uid)
    pipe.execute()
    count = _lua_calls(redis_client)
    before = count()
    result = store.match("cj", "join", "male", "female", "r1")
    spent = count() - before
    assert not result.matched
    assert spent <= 16 * 3, spent  # one HMGET and at most two SISMEMBER per inspected entry


def test_waiters_a_bounded_scan_kept_apart_meet_on_a_heartbeat(
    redis_client: redis.Redis, settings: Settings
) -> None:
    """The scan window hides Y from X; Y's heartbeat searches again and finds X."""
    from dataclasses import replace

    from pairchat.domain.service import ChatService
    from tests.conftest import RecordingNotifier

    store = ChatStore(redis_client, replace(settings, match_scan_window=2))
    notifier = RecordingNotifier()
    service = ChatService(store, notifier, store.settings)
    for cid in ("r1", "r2", "y"):
        service.connect(cid, "u-" + cid)
        service.join(cid, "female", "male")
        time.sleep(0.002)
    service.connect("x", "u-x")
    redis_client.sadd(store.keys.recent("u-x"), "u-r1", "u-r2")  # x met them minutes ago
    service.join("x", "male", "female")
    assert notifier.types("x") == ["queued"], "the window should have hidden y"
    x_score = redis_client.zscore(store.keys.queue("male", "female"), "u-x")

    service.heartbeat("x")  # x searches again: still only its recent partners in view
    assert notifier.types("x") == ["queued", "pong"]
    assert redis_client.zscore(store.keys.queue("male", "female"), "u-x") == x_score

    service.heartbeat("y")  # y searches again and finds x
    assert notifier.types("y") == ["queued", "pong", "matched"]
    room = notifier.last("y")["roomId"]
    assert notifier.last("y")["partnerId"] == service.alias(room, "u-x")
    assert notifier.last("x")["type"] == "matched"
    assert notifier.last("x")["partnerId"] == service.alias(room, "u-y")
    assert redis_client.zrange(store.keys.queue("female", "male"), 0, -1) == ["u-r1", "u-r2"]
    assert redis_client.zcard(store.keys.queue("male", "female")) == 0
    assert not redis_client.hexists(store.keys.session("u-y"), "q")


def test_a_heartbeat_outside_a_queue_never_searches(
    users: Users, store: ChatStore, redis_client: redis.Redis
) -> None:
    a, b = users.connect(), users.connect()
    users.join(a, "male", "any")
    users.join(b, "female", "any")  # a and b are in a room
    idle = users.connect()
    users.join(users.connect(), "male", "male")  # someone waits: a search could change things
    before = snapshot(redis_client)
    for cid in (a, b, idle):
        result = store.heartbeat(cid, "r-new")
        assert result.match is None and result.state in ("room", "idle")
    after = snapshot(redis_client)
    for key in set(before) | set(after):
        # TTL refreshes and online registrations aside
        if not any(part in key for part in ("sess:", "conn:", "online", "pool")):
            assert before.get(key) == after.get(key), key
