"""match.lua and heartbeat.lua with interests, fallback and relaxation, on a real redis-server:
the matching rule of docs/protocol.md, strict arrival order, and the hard rules unrelaxed."""

from __future__ import annotations

import itertools
import time
from dataclasses import replace

import pytest
import redis

from pairchat.domain.errors import InvalidField
from pairchat.domain.keys import GENDERS, PREFERENCES, compatible
from pairchat.domain.store import ChatStore, MatchResult
from pairchat.settings import Settings
from tests.support import relax_now

pytestmark = pytest.mark.integration

Combo = tuple[str, str]
COMBOS: list[Combo] = [(g, p) for g in GENDERS for p in PREFERENCES]


class Users:
    def __init__(self, store: ChatStore) -> None:
        self.store = store
        self.n = 0

    def connect(self) -> str:
        self.n += 1
        self.store.open_session(f"c{self.n}", f"u{self.n}")
        return f"c{self.n}"

    def join(
        self, cid: str, g: str, p: str, interests: tuple[str, ...] = (), fallback: bool = True
    ) -> MatchResult:
        return self.store.match(
            cid, "join", g, p, f"room-{cid}-{time.monotonic_ns()}", interests, fallback
        )

    def heartbeat(self, cid: str) -> MatchResult | None:
        return self.store.heartbeat(cid, f"room-hb-{cid}-{time.monotonic_ns()}").match


@pytest.fixture
def slow_relax(redis_client: redis.Redis, settings: Settings) -> Users:
    """Relaxation an hour away: only relax_now() lets it pass."""
    return Users(ChatStore(redis_client, replace(settings, match_relax_s=3600)))


def uid(cid: str) -> str:
    return "u" + cid[1:]


def test_a_shared_interest_wins_over_an_older_stranger(slow_relax: Users) -> None:
    u = slow_relax
    stranger, fan = u.connect(), u.connect()
    assert not u.join(stranger, "female", "any").matched  # no interests: open to anyone
    assert not u.join(fan, "female", "any", ("chess", "music")).matched
    got = u.join(u.connect(), "male", "any", ("jazz", "music"))
    assert got.matched and got.partner_connection == fan
    assert got.common_interests == ("music",) and not got.relaxed


def test_the_oldest_sharing_waiter_across_interests_and_genders_wins(slow_relax: Users) -> None:
    u = slow_relax
    order = []
    # three waiters none of whom is compatible with another
    for combo, interests in [
        (("female", "any"), ("zen",)),
        (("male", "male"), ("art",)),
        (("female", "male"), ("art", "zen")),
    ]:
        cid = u.connect()
        assert not u.join(cid, *combo, interests).matched
        order.append(cid)
    # a man for anyone, sharing "art" or "zen" with all three: oldest first
    got = [u.join(u.connect(), "male", "any", ("art", "zen")).partner_connection for _ in order]
    assert got == order


def test_a_joiner_with_interests_waits_for_its_relaxation(slow_relax: Users) -> None:
    u = slow_relax
    stranger = u.connect()
    u.join(stranger, "female", "any")
    fan = u.connect()
    waiting = u.join(fan, "male", "any", ("music",))
    assert not waiting.matched and waiting.status and waiting.status.retry_ms <= 5000
    assert u.heartbeat(fan) is None  # nothing changed, relaxation not due
    assert relax_now(u.store.client, u.store.keys, uid(fan))
    got = u.heartbeat(fan)  # rule 3: at the latest on its next heartbeat
    assert got is not None and got.partner_connection == stranger
    assert got.relaxed and got.common_interests == ()


def test_fallback_false_waits_for_a_shared_interest_only(slow_relax: Users) -> None:
    u = slow_relax
    picky = u.connect()
    u.join(picky, "female", "any", ("knitting",), fallback=False)
    assert not relax_now(u.store.client, u.store.keys, uid(picky))  # nothing to relax
    assert not u.join(u.connect(), "male", "any").matched
    other = u.connect()
    assert not u.join(other, "male", "any", ("chess",)).matched
    relax_now(u.store.client, u.store.keys, uid(other))
    assert u.heartbeat(other) is None or not u.heartbeat(other)  # picky stays out of reach
    got = u.join(u.connect(), "male", "female", ("knitting",))
    assert got.matched and got.partner_connection == picky and not got.relaxed


def test_a_relaxed_waiter_is_found_by_joiners_before_its_own_heartbeat(slow_relax: Users) -> None:
    u = slow_relax
    fan = u.connect()
    u.join(fan, "female", "any", ("music",))
    assert not u.join(u.connect(), "male", "female", ("chess",)).matched  # not yet
    relax_now(u.store.client, u.store.keys, uid(fan))
    got = u.join(u.connect(), "male", "any")  # rule 2: a joiner open to anyone finds it
    assert got.matched and got.partner_connection == fan and got.relaxed


def test_relaxed_waiters_keep_their_place_in_line(slow_relax: Users) -> None:
    u = slow_relax
    first = u.connect()
    u.join(first, "female", "any", ("music",))
    second = u.connect()
    u.join(second, "female", "any")
    relax_now(u.store.client, u.store.keys, uid(first))
    got = u.join(u.connect(), "male", "any")
    assert got.partner_connection == first  # it arrived before `second`
    assert u.join(u.connect(), "male", "any").partner_connection == second


def test_relax_zero_opens_at_once_but_shared_still_comes_first(
    redis_client: redis.Redis, settings: Settings
) -> None:
    u = Users(ChatStore(redis_client, replace(settings, match_relax_s=0)))
    stranger, fan = u.connect(), u.connect()
    u.join(stranger, "female", "male")  # not compatible with fan
    assert not u.join(fan, "female", "any", ("music",)).matched
    assert u.join(u.connect(), "male", "any", ("music",)).partner_connection == fan
    got = u.join(u.connect(), "male", "any", ("chess",))
    assert got.partner_connection == stranger and got.relaxed


@pytest.mark.parametrize(("a", "b"), list(itertools.product(COMBOS, COMBOS)))
def test_sharing_interests_never_relaxes_compatibility(
    slow_relax: Users, a: Combo, b: Combo
) -> None:
    u = slow_relax
    first = u.connect()
    assert not u.join(first, *a, ("music",)).matched
    assert u.join(u.connect(), *b, ("music",)).matched == compatible(*a, *b)


def test_recent_partners_and_blocks_are_never_relaxed(slow_relax: Users) -> None:
    u = slow_relax
    store = u.store
    a, b = u.connect(), u.connect()
    u.join(a, "female", "any", ("music",))
    assert u.join(b, "male", "any", ("music",)).matched
    store.leave(a, "leave")
    store.leave(b, "leave")
    assert not u.join(a, "female", "any", ("music",)).matched
    again = u.join(b, "male", "any", ("music",))
    assert not again.matched and again.status and again.status.only_recent
    store.leave(b, "leave")
    c = u.connect()
    store.client.sadd(store.keys.blocks(uid(c)), uid(a))
    assert not u.join(c, "male", "any", ("music",)).matched


def test_a_user_never_meets_itself_through_its_own_entries(slow_relax: Users) -> None:
    u = slow_relax
    a = u.connect()
    u.join(a, "male", "any", ("music",))
    relax_now(u.store.client, u.store.keys, uid(a))
    assert u.heartbeat(a) is None
    assert not u.join(a, "male", "any", ("music",)).matched


def test_changing_interests_moves_the_entry_and_leaves_nothing_behind(slow_relax: Users) -> None:
    u = slow_relax
    r, k = u.store.client, u.store.keys
    a = u.connect()
    u.join(a, "male", "any", ("chess", "music"))
    qs = r.hget(k.session(uid(a)), "w")
    assert u.join(a, "male", "any", ("chess", "music")).status  # same: keeps its place
    assert r.hget(k.session(uid(a)), "w") == qs
    u.join(a, "male", "male", ("go",), fallback=False)
    index = sorted(m.split(":")[0] for g in GENDERS for m in r.zrange(k.index(g), 0, -1))
    assert index == ["go"] and r.zcard(k.relax()) == 0
    assert r.zcard(k.queue("male", "any")) == 0


def test_next_reuses_interests_and_fallback(slow_relax: Users) -> None:
    u = slow_relax
    a, b = u.connect(), u.connect()
    u.join(a, "male", "any", ("music",), fallback=False)
    assert u.join(b, "female", "any", ("music",)).matched
    moved = u.store.match(a, "next", "", "", "r-next")
    assert (moved.interests, moved.fallback) == (("music",), False)
    changed = u.store.match(a, "next", "", "", "r-next2", ("art",), None)
    assert (changed.interests, changed.fallback) == (("art",), False)


def test_malformed_interests_from_a_direct_caller_change_nothing(
    slow_relax: Users, redis_client: redis.Redis
) -> None:
    from tests.integration.lua.test_match import snapshot

    a = slow_relax.connect()
    before = snapshot(redis_client)
    for bad in (("a", "b", "c", "d", "e", "f"), ("x:y",)):
        with pytest.raises(InvalidField):
            slow_relax.join(a, "male", "any", bad)
    assert snapshot(redis_client) == before


def test_joins_within_one_millisecond_keep_their_arrival_order(
    redis_client: redis.Redis, store: ChatStore
) -> None:
    """Strict FIFO: member names sort against arrival here, and a pipeline puts many joins
    in the same millisecond; the queue must still be in arrival order."""
    n = 60
    cids = [f"z{i:03d}" for i in range(n)]
    for cid in cids:
        store.open_session(cid, f"user-{n - int(cid[1:]):03d}")  # names sort backwards
    match = store.scripts._scripts["match"]
    pipe = redis_client.pipeline(transaction=False)
    for cid in cids:
        match(
            keys=[store.keys.connection(cid)],
            args=[
                store.keys.prefix,
                cid,
                "join",
                "female",
                "male",
                "r",
                60000,
                600,
                600,
                8,
                0,
                60000,
                "",
                "1",
                10000,
                5000,
            ],
            client=pipe,
        )
    pipe.execute()
    queue = redis_client.zrange(store.keys.queue("female", "male"), 0, -1, withscores=True)
    arrival = [f"user-{n - i:03d}" for i in range(n)]
    assert [m for m, _ in queue] == arrival
    scores = [score for _, score in queue]
    assert all(a < b for a, b in itertools.pairwise(scores))
    same_ms = sum(int(a) == int(b) for a, b in itertools.pairwise(scores))
    assert same_ms > 0, "no two joins fell in one millisecond: the test proved nothing"
    # and the pairing follows that order, across queues too
    got = []
    for i in range(3):
        store.open_session(f"j{i}", f"joiner{i}")
        got.append(store.match(f"j{i}", "join", "male", "female", f"r{i}").partner_id)
    assert got == arrival[:3]
