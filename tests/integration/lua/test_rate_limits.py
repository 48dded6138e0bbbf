"""Rate limits held in Redis and checked inside the scripts: per user (joins, messages,
leaves, blocks, the heartbeat bucket) and per client address (connects, joins)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from pairchat.domain.errors import RateLimited
from pairchat.domain.service import Caller, ChatService
from pairchat.handlers import ws
from tests.conftest import RecordingNotifier
from tests.integration.conftest import MakeService
from tests.support import keyspace, load_event, pair

pytestmark = pytest.mark.integration


def snapshot(svc: ChatService) -> dict[str, Any]:
    return keyspace(svc.store.client)


def test_joins_and_nexts_share_one_limit(
    make_service: MakeService, notifier: RecordingNotifier
) -> None:
    svc = make_service(rate_joins=4)
    pair(svc, "a", "b")  # one join each
    svc.next("a")  # 2 for a
    svc.join("a", "male", "any")  # 3 (idempotent, still counted)
    svc.next("a")  # 4
    before = snapshot(svc)
    frames_before = len(notifier.frames["a"])
    response = ws.handle_message(load_event("next", "a", {"action": "next"}), svc)
    assert response["statusCode"] == 429
    err = notifier.last("a")
    assert err["type"] == "error" and err["code"] == "rate_limited" and err["message"]
    assert len(notifier.frames["a"]) == frames_before + 1
    assert snapshot(svc) == before  # nothing else changed
    with pytest.raises(RateLimited):
        svc.join("a", "female", "any")
    # other users are not affected
    svc.next("b")
    assert notifier.last("b")["type"] in ("queued", "matched")


def test_messages_are_limited_and_the_partner_receives_nothing_more(
    make_service: MakeService, notifier: RecordingNotifier
) -> None:
    svc = make_service(rate_messages=3)
    pair(svc, "a", "b")
    for i in range(3):
        svc.send("a", f"m{i}")
    received = list(notifier.frames["b"])
    before = snapshot(svc)
    with pytest.raises(RateLimited):
        svc.send("a", "one too many")
    assert notifier.frames["b"] == received
    assert snapshot(svc) == before
    svc.send("b", "b still may talk")
    assert notifier.last("a")["text"] == "b still may talk"


def test_a_busy_previous_window_still_counts(make_service: MakeService) -> None:
    svc = make_service(rate_messages=5)
    ua, _ = pair(svc, "a", "b")
    r, k = svc.store.client, svc.store.keys
    sec, micro = r.time()
    window = svc.settings.rate_window_s * 1000
    idx = (sec * 1000 + micro // 1000) // window
    # The sliding window weights the previous window by its overlap: a huge count there
    # refuses now (unless this instant is the very last microseconds of the window). A
    # user's counters are fields of its session (lua/includes/rate_limit.lua).
    sk = k.session(ua)
    r.hset(sk, mapping={"send.i": idx, "send.c": 0, "send.p": 10**9})
    with pytest.raises(RateLimited):
        svc.send("a", "x")
    # The same count as the current window's, once that window is the previous one.
    r.hset(sk, mapping={"send.i": idx - 1, "send.c": 10**9, "send.p": 0})
    with pytest.raises(RateLimited):
        svc.send("a", "x")
    # Two windows back: nothing of it counts any more.
    r.hset(sk, mapping={"send.i": idx - 2, "send.c": 10**9, "send.p": 10**9})
    svc.send("a", "x")
    assert r.hmget(sk, "send.i", "send.c", "send.p") == [str(idx), "1", "0"]


def test_limits_reset_after_the_window_and_zero_disables(
    make_service: MakeService, notifier: RecordingNotifier
) -> None:
    svc = make_service(rate_messages=1, rate_window_s=1)
    pair(svc, "a", "b")
    svc.send("a", "first")
    with pytest.raises(RateLimited):
        svc.send("a", "second")
    time.sleep(2.05)  # two windows later nothing of the old count is left
    svc.heartbeat("a")
    svc.heartbeat("b")
    svc.send("a", "third")
    assert notifier.last("b")["text"] == "third"
    unlimited = make_service(rate_messages=0, rate_joins=0)
    for i in range(100):
        unlimited.send("a", f"x{i}")
    assert notifier.last("b")["text"] == "x99"


# -- limits per client address (issue 13, finding 3) -------------------------------------------


def test_connects_are_limited_per_address_and_a_refusal_writes_nothing(
    make_service: MakeService,
) -> None:
    svc = make_service(rate_connects_per_source=3)
    for i in range(3):
        svc.connect(f"c{i}", f"u{i}", source="src-1")
    before = snapshot(svc)
    with pytest.raises(RateLimited):
        svc.connect("c3", "u3", source="src-1")  # a fourth anonymous user, same address
    assert snapshot(svc) == before
    svc.connect("c4", "u4", source="src-2")  # another address is not affected
    svc.connect("c5", "u5")  # an unknown address ('') is not limited


def test_connect_over_the_limit_refuses_the_upgrade_with_429(make_service: MakeService) -> None:
    svc = make_service(rate_connects_per_source=1)
    first, second = load_event("$connect", "c1"), load_event("$connect", "c2")
    for event in (first, second):
        event["requestContext"]["authorizer"]["source"] = "src-1"
    assert ws.handle_connect(first, svc) == {"statusCode": 200}
    assert ws.handle_connect(second, svc) == {"statusCode": 429}
    assert svc.store.client.get(svc.store.keys.connection("c2")) is None


def test_joins_are_limited_per_address_across_its_users(make_service: MakeService) -> None:
    svc = make_service(rate_joins_per_source=3)
    for i in range(5):
        svc.connect(f"c{i}", f"u{i}", source="src-1")
    for i in range(3):
        svc.join(f"c{i}", "male", "male", caller=Caller(source="src-1"))
    before = snapshot(svc)
    with pytest.raises(RateLimited):
        svc.join("c3", "male", "male", caller=Caller(source="src-1"))  # its own first join
    assert snapshot(svc) == before
    svc.join("c4", "male", "male", caller=Caller(source="src-2"))


# -- every action has a limit (issue 13, finding 4) --------------------------------------------


def test_heartbeats_have_a_token_bucket_and_a_refusal_writes_nothing(
    make_service: MakeService,
) -> None:
    svc = make_service(heartbeat_burst=3, heartbeat_refill_ms=60_000)
    svc.connect("a", "u-a")
    for _ in range(3):
        svc.heartbeat("a")
    before = svc.store.client.hgetall(svc.store.keys.session("u-a"))
    with pytest.raises(RateLimited):
        svc.heartbeat("a")
    assert svc.store.client.hgetall(svc.store.keys.session("u-a")) == before
    svc.connect("b", "u-b")
    svc.heartbeat("b")  # per user


def test_the_heartbeat_bucket_refills(make_service: MakeService) -> None:
    svc = make_service(heartbeat_burst=1, heartbeat_refill_ms=200)
    svc.connect("a", "u-a")
    svc.heartbeat("a")
    with pytest.raises(RateLimited):
        svc.heartbeat("a")
    time.sleep(0.25)
    svc.heartbeat("a")


def test_leaves_and_blocks_are_limited(make_service: MakeService) -> None:
    svc = make_service(rate_leaves=2, rate_blocks=1)
    pair(svc, "a", "b")
    svc.leave("a")
    svc.leave("a")
    with pytest.raises(RateLimited):
        svc.leave("a")
    svc.block("a")  # the last partner
    before = snapshot(svc)
    with pytest.raises(RateLimited):
        svc.block("a")
    assert snapshot(svc) == before
