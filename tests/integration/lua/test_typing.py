"""typing.lua through the service on a real redis-server: best effort, 2 a second per user,
nothing written but the limiter's counter, not_in_room outside a room."""

from __future__ import annotations

import time

import pytest
import redis

from pairchat.domain.errors import NotInRoom, SessionExpired
from pairchat.domain.service import ChatService
from tests.conftest import RecordingNotifier
from tests.integration.lua.test_match import snapshot
from tests.support import pair

pytestmark = pytest.mark.integration


def typing_frames(notifier: RecordingNotifier, cid: str) -> list[bool]:
    return [f["typing"] for f in notifier.frames.get(cid, []) if f["type"] == "typing"]


def test_the_partner_is_told_and_the_excess_is_dropped_silently(
    service: ChatService, notifier: RecordingNotifier, redis_client: redis.Redis
) -> None:
    pair(service, "a", "b")
    room = redis_client.hget(service.store.keys.session("u-a"), "room")
    time.sleep(1 - time.time() % 1 + 0.01)  # start of a fresh second: no window straddled
    service.typing("a", True)
    service.typing("a", False)
    sent_before = len(notifier.calls)
    before = {k: v for k, v in snapshot(redis_client).items() if ":rate:" not in k}
    service.typing("a", True)  # the third within a second
    service.typing("a", True)
    assert len(notifier.calls) == sent_before, "the excess must not reach anyone"
    after = {k: v for k, v in snapshot(redis_client).items() if ":rate:" not in k}
    assert after == before  # nothing written but the limiter
    assert typing_frames(notifier, "b") == [True, False]
    assert notifier.last("b") == {**notifier.last("b"), "roomId": room}
    assert "typing" not in notifier.types("a")  # no echo, no error frame
    time.sleep(2.05)  # the sliding window weighs the last second's two in for one more second
    service.typing("a", True)
    assert typing_frames(notifier, "b") == [True, False, True]


def test_outside_a_room_it_is_not_in_room_and_changes_nothing(
    service: ChatService, redis_client: redis.Redis
) -> None:
    service.connect("x", "u-x")
    service.join("x", "male", "any")  # waiting is not a room
    before = snapshot(redis_client)
    with pytest.raises(NotInRoom):
        service.typing("x", True)
    assert snapshot(redis_client) == before
    with pytest.raises(SessionExpired):
        service.typing("nobody", True)


def test_a_partner_that_is_reconnecting_is_not_told(
    make_service, notifier: RecordingNotifier, redis_client: redis.Redis
) -> None:
    svc = make_service(reconnect_grace_s=5)
    pair(svc, "a", "b", token=True)
    svc.disconnect("b")  # within its grace: the room stands
    calls = len(notifier.calls)
    svc.typing("a", True)
    assert len(notifier.calls) == calls


def test_a_room_paired_before_sessions_knew_their_mate_still_gets_the_indicator(
    service: ChatService, notifier: RecordingNotifier, redis_client: redis.Redis
) -> None:
    ua, ub = pair(service, "a", "b")
    for uid in (ua, ub):
        redis_client.hdel(service.store.keys.session(uid), "mate", "rr")  # as they were
    service.typing("a", True)
    assert typing_frames(notifier, "b") == [True]
