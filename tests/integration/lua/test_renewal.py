"""Lazy renewal (issue 15): a relayed message renews the session, the connection key and the
room once a quarter of their TTL, not on every frame, and still never lets them lapse while
the user is active. Real Redis, real clock (``TIME``): the lapse test runs for a few seconds
on short TTLs."""

from __future__ import annotations

import time

import pytest
import redis

from pairchat.domain.service import ChatService
from tests.integration.conftest import MakeService
from tests.support import pair

pytestmark = pytest.mark.integration


def now_ms(r: redis.Redis) -> int:
    sec, micro = r.time()
    return int(sec) * 1000 + int(micro) // 1000


def room_key(svc: ChatService, uid: str) -> str:
    rid = svc.store.client.hget(svc.store.keys.session(uid), "room")
    assert rid
    return svc.store.keys.room(str(rid))


def test_send_renews_the_session_and_connection_only_when_a_quarter_of_the_ttl_ran(
    make_service: MakeService,
) -> None:
    svc = make_service(session_ttl_s=60)
    ua, _ = pair(svc, "a", "b")
    r, k = svc.store.client, svc.store.keys
    sk, ck = k.session(ua), k.connection("a")
    # Opened (connect.lua: `since`) moments ago: the first message renews nothing.
    r.pexpire(sk, 50_000)
    svc.send("a", "first")
    assert r.hget(sk, "t") is None and r.pttl(sk) <= 50_000

    # Renewed less than a quarter of the TTL ago: this message renews nothing.
    r.hset(sk, "t", now_ms(r) - 10_000)
    r.pexpire(sk, 30_000)
    r.pexpire(ck, 30_000)
    svc.send("a", "second")
    assert r.pttl(sk) <= 30_000 and r.pttl(ck) <= 30_000

    # A quarter of the TTL or more ago: renewed, and `t` moves.
    stale = now_ms(r) - 15_001
    r.hset(sk, "t", stale)
    svc.send("a", "third")
    assert r.pttl(sk) > 55_000 and r.pttl(ck) > 55_000 and int(r.hget(sk, "t") or 0) > stale

    # A `t` from the future (a clock that went back, e.g. after a failover) counts as due.
    r.hset(sk, "t", now_ms(r) + 3_600_000)
    r.pexpire(sk, 30_000)
    svc.send("a", "fourth")
    assert r.pttl(sk) > 55_000 and int(r.hget(sk, "t") or 0) <= now_ms(r)


def test_send_renews_the_room_once_a_quarter_of_its_ttl_or_before_a_session_could_outlive_it(
    make_service: MakeService,
) -> None:
    """Each member stamps its own renewals (`rr` in its session, set at pairing): a relay
    reads the member's session, never the room."""
    svc = make_service(session_ttl_s=60, room_ttl_s=600)
    ua, ub = pair(svc, "a", "b")
    r, k = svc.store.client, svc.store.keys
    rk = room_key(svc, ua)
    made = int(r.hget(rk, "ts") or 0)
    assert int(r.hget(k.session(ua), "rr") or 0) == int(r.hget(k.session(ub), "rr") or 0) == made
    r.expire(rk, 500)
    svc.send("a", "first")  # made moments ago: not renewed
    assert r.hget(k.session(ua), "rr") == str(made) and r.ttl(rk) <= 500

    r.hset(k.session(ub), "rr", now_ms(r) - 100_000)  # < 150 s (a quarter), < 540 s (600 - 60)
    r.expire(rk, 300)
    svc.send("b", "second")
    assert r.ttl(rk) <= 300

    r.hset(k.session(ub), "rr", now_ms(r) - 150_001)
    svc.send("b", "third")
    assert r.ttl(rk) > 590 and int(r.hget(k.session(ub), "rr") or 0) > now_ms(r) - 5000
    assert r.hget(rk, "e") is None  # the room itself was not written

    # A room TTL barely longer than the session's: renewed as soon as the difference ran.
    short = make_service(session_ttl_s=60, room_ttl_s=70)
    r.hset(k.session(ua), "rr", now_ms(r) - 10_001)
    r.expire(rk, 65)
    short.send("a", "fourth")
    assert r.ttl(rk) > 65


def test_a_room_paired_before_sessions_knew_their_mate_is_read_and_renewed_as_before(
    make_service: MakeService,
) -> None:
    svc = make_service(session_ttl_s=60, room_ttl_s=600)
    ua, ub = pair(svc, "a", "b")
    r, k = svc.store.client, svc.store.keys
    rk = room_key(svc, ua)
    for uid in (ua, ub):
        r.hdel(k.session(uid), "mate", "rr")  # as sessions were before
    r.hset(rk, "e", now_ms(r) - 150_001)
    svc.send("a", "hi")
    assert r.ttl(rk) > 590 and int(r.hget(rk, "e") or 0) > now_ms(r) - 5000
    svc.heartbeat("b")
    svc.leave("b")
    assert not r.exists(rk) and r.hget(k.session(ua), "room") is None


def test_an_active_pair_never_sees_its_session_connection_or_room_lapse(
    make_service: MakeService,
) -> None:
    """Short TTLs (session 8 s, room 10 s), a message every 0.5 s from one side and a
    heartbeat every 4 s (half the session TTL) from the other: after every frame the sender's
    session and connection key keep at least 3/4 of their TTL, and the room outlives both
    sessions. (At 4 s a stall of this process of 3 s under a load of 12 once let the idle
    side's session lapse between two heartbeats: the TTLs leave room for such stalls.)"""
    svc = make_service(session_ttl_s=8, room_ttl_s=10, rate_messages=0)
    ua, ub = pair(svc, "a", "b")
    r, k = svc.store.client, svc.store.keys
    rk = room_key(svc, ua)
    renewals = set()
    start = time.monotonic()
    last_beat = start
    while time.monotonic() - start < 12.0:  # longer than both TTLs
        svc.send("a", "hi")
        renewals.add(r.hget(k.session(ua), "t"))
        assert r.pttl(k.session(ua)) >= 6000 - 500
        assert r.pttl(k.connection("a")) >= 6000 - 500
        assert r.pttl(rk) > max(r.pttl(k.session(ua)), r.pttl(k.session(ub)))
        if time.monotonic() - last_beat >= 4.0:
            svc.heartbeat("b")
            last_beat = time.monotonic()
        time.sleep(0.5)
    # ~24 messages renewed the session a handful of times (every 2 s), not 24.
    assert 4 <= len(renewals) <= 10
    svc.send("b", "still here")
