"""The queue status a waiter is told (queued, pong) on a real redis-server: online within
max(2, 5 %) of the live sessions, etaMs within a factor 2 of the waits measured on a steady
stream, onlyRecent when only recent partners wait."""

from __future__ import annotations

import statistics
import time
from dataclasses import replace

import pytest
import redis

from pairchat.domain.service import ChatService
from pairchat.domain.store import ChatStore
from pairchat.settings import Settings
from tests.conftest import RecordingNotifier

pytestmark = pytest.mark.integration


def live_sessions(r: redis.Redis, store: ChatStore) -> int:
    """The truth, counted the expensive way (our private test server)."""
    return sum(
        1 for key in r.scan_iter(store.keys.pattern("sess"), count=1000) if r.hget(key, "conn")
    )


def test_online_stays_within_5_percent_of_the_live_sessions(
    redis_client: redis.Redis, settings: Settings
) -> None:
    store = ChatStore(redis_client, replace(settings, session_ttl_s=1, heartbeat_burst=0))
    for i in range(120):
        store.open_session(f"c{i}", f"u{i}")
    for i in range(20):
        store.leave(f"c{i}", "disconnect")  # closed sockets
    silent = range(20, 35)  # these stop heartbeating: their sessions expire on their own
    live = [f"c{i}" for i in range(120) if i >= 20 and i not in silent]
    store.match(live[0], "join", "male", "male", "r")
    deadline = time.monotonic() + 1.6
    errors = []
    while time.monotonic() < deadline:
        for cid in live:
            store.heartbeat(cid, "r")
        status = store.heartbeat(live[0], "r").status
        assert status is not None
        truth = live_sessions(redis_client, store)
        errors.append((status.online, truth))
        time.sleep(0.15)
    assert live_sessions(redis_client, store) == len(live)  # the silent ones have expired
    for online, truth in errors:
        assert abs(online - truth) <= max(2, 0.05 * truth), errors


def test_eta_is_within_a_factor_2_of_the_waits_on_a_steady_stream(
    redis_client: redis.Redis, settings: Settings
) -> None:
    """Waiters (female seeking male) arrive every 40 ms; joiners (male seeking female) too,
    but five arrivals behind, so each waiter waits about 200 ms. The estimate each waiter is
    given when it queues is compared with the wait measured here.

    The premise is a steady stream. On a loaded machine this process can stall for a second
    (it did, in make test's Valkey pass beside the Redis pass), which makes the stream and the
    waits around the stall anything but steady: such a run is done again (at most 3 runs);
    a steady run must have every estimate within a factor 2, and if none was steady, most
    estimates and their median must still be."""
    for attempt in range(3):
        redis_client.flushall()  # our private server: no statistics from the last run
        ratios, lateness, first = _eta_ratios(redis_client, settings)
        assert first is None  # no data yet for the first waiter
        if lateness <= 0.04:
            assert all(0.5 <= r <= 2 for r in ratios), (attempt, ratios)
            return
    assert sum(0.5 <= r <= 2 for r in ratios) >= 0.8 * len(ratios), (lateness, ratios)
    assert 0.5 <= statistics.median(ratios) <= 2, (lateness, ratios)


def _eta_ratios(
    redis_client: redis.Redis, settings: Settings
) -> tuple[list[float], float, int | None]:
    """One run of the stream: each waiter's estimate over its measured wait (after a
    warm-up), the run's worst lateness against its schedule (s), the first waiter's
    estimate."""
    store = ChatStore(redis_client, replace(settings, rate_joins=0))
    step, lag, total, warmup = 0.04, 5, 45, 10
    joined: dict[str, float] = {}
    estimates: dict[str, int | None] = {}
    measured: dict[str, float] = {}
    lateness = 0.0
    start = time.monotonic()
    for i in range(total + lag):
        target = start + i * step
        time.sleep(max(0.0, target - time.monotonic()))
        lateness = max(lateness, time.monotonic() - target)
        if i < total:
            cid, uid = f"w{i}", f"waiter{i}"
            store.open_session(cid, uid)
            queued = store.match(cid, "join", "female", "male", f"r{i}")
            assert not queued.matched and queued.status is not None
            joined[uid], estimates[uid] = time.monotonic(), queued.status.eta_ms
        if i >= lag:
            store.open_session(f"j{i}", f"joiner{i}")
            got = store.match(f"j{i}", "join", "male", "female", f"room{i}")
            assert got.matched
            measured[got.partner_id] = (time.monotonic() - joined[got.partner_id]) * 1000
    ratios = []
    for i in range(warmup, total):
        uid = f"waiter{i}"
        eta = estimates[uid]
        assert eta is not None, f"{uid}: no estimate after {i} pairings"
        ratios.append(eta / measured[uid])
    return ratios, lateness, estimates["waiter0"]


def test_only_recent_partners_waiting_is_said(
    redis_client: redis.Redis, settings: Settings
) -> None:
    """The two-window demo: after a chat both press next; each waits for the other only."""
    notifier = RecordingNotifier()
    service = ChatService(ChatStore(redis_client, settings), notifier, settings)
    service.connect("a", "u-a")
    service.connect("b", "u-b")
    service.join("a", "female", "any")
    service.join("b", "male", "any")
    service.next("a")
    assert notifier.last("a")["type"] == "queued" and not notifier.last("a")["onlyRecent"]
    service.next("b")
    assert notifier.last("b")["type"] == "queued" and notifier.last("b")["onlyRecent"]
    service.heartbeat("a")  # b's arrival changed a's segment: a searches and sees only b
    assert notifier.last("a") == {**notifier.last("a"), "type": "pong", "onlyRecent": True}
    service.connect("c", "u-c")
    service.join("c", "male", "female")
    assert notifier.last("c")["type"] == "matched"  # someone new: the wait ends
