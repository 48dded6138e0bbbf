"""relay.lua: the one script call behind both ``send`` and ``signal`` (it resolves the room,
checks the partner and the shared message rate limit, and never sees the payload)."""

from __future__ import annotations

import pytest
import redis

from pairchat.domain.errors import NotInRoom, PartnerAway, RateLimited, SessionExpired
from pairchat.domain.service import ChatService
from tests.conftest import RecordingNotifier
from tests.integration.conftest import MakeService
from tests.integration.lua.test_rate_limits import snapshot
from tests.support import pair

pytestmark = pytest.mark.integration

OFFER = {"kind": "offer", "sdp": "v=0\r\n"}


def script_calls(r: redis.Redis) -> int:
    stats = r.info("commandstats")
    return sum(int(stats.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in ("evalsha", "eval"))


def test_a_signal_is_one_script_call(
    service: ChatService, notifier: RecordingNotifier, redis_client: redis.Redis
) -> None:
    pair(service, "a", "b")
    service.signal("a", OFFER)  # loads the script if this server has not seen it yet
    before = script_calls(redis_client)
    for _ in range(5):
        service.signal("a", OFFER)
    assert script_calls(redis_client) - before == 5
    assert notifier.types("b").count("signal") == 6


@pytest.mark.parametrize("action", ["send", "signal"])
def test_refusals_write_nothing(
    make_service: MakeService, redis_client: redis.Redis, action: str
) -> None:
    svc = make_service(rate_messages=1)

    def act(cid: str) -> None:
        if action == "send":
            svc.send(cid, "hi")
        else:
            svc.signal(cid, OFFER)

    svc.connect("lonely", "u-lonely")
    before = snapshot(svc)
    with pytest.raises(NotInRoom):
        act("lonely")
    with pytest.raises(SessionExpired):
        act("never-connected")
    assert snapshot(svc) == before
    pair(svc, "a", "b")
    act("a")
    before = snapshot(svc)
    with pytest.raises(RateLimited):
        act("a")
    assert snapshot(svc) == before


def test_a_signal_while_the_partner_is_away_is_refused(
    make_service: MakeService, notifier: RecordingNotifier
) -> None:
    svc = make_service(reconnect_grace_s=20)
    pair(svc, "a", "b", token=True)
    svc.disconnect("b")
    with pytest.raises(PartnerAway):
        svc.signal("a", OFFER)
    assert "signal" not in notifier.types("b")


def test_a_signal_to_an_expired_partner_dissolves_the_room(
    service: ChatService, notifier: RecordingNotifier, redis_client: redis.Redis
) -> None:
    ua, ub = pair(service, "a", "b")
    keys = service.store.keys
    room = redis_client.hget(keys.session(ua), "room")
    redis_client.delete(keys.session(ub))  # b's session expired
    service.signal("a", OFFER)
    assert notifier.last("a") == {**notifier.last("a"), "type": "partner_left", "roomId": room}
    assert not redis_client.exists(keys.room(str(room)))
    assert "signal" not in notifier.types("b")
