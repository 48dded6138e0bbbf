"""Reconnect grace: a token user whose socket drops keeps its room for a while.

Expiry is detected statelessly: the away session's TTL is the grace; afterwards the
partner's next send or heartbeat, or the sweeper's reap.lua, ends the room with
partner_left.
"""

from __future__ import annotations

import pytest

from pairchat.domain.errors import PartnerAway
from pairchat.domain.service import ChatService
from tests.conftest import RecordingNotifier
from tests.integration.conftest import MakeService
from tests.support import make_sweeper, pair

pytestmark = pytest.mark.integration


def test_reconnect_within_grace_resumes_the_room(
    service: ChatService, notifier: RecordingNotifier
) -> None:
    ua, ub = pair(service, "a", "b", token=True)
    rid = notifier.last("a")["roomId"]
    service.disconnect("b")
    note = notifier.last("a")
    assert note["type"] == "partner_reconnecting" and note["roomId"] == rid
    assert note["graceMs"] == service.settings.reconnect_grace_s * 1000
    k, r = service.store.keys, service.store.client
    assert not r.exists(k.connection("b"))
    assert r.hget(k.session(ub), "room") == rid and not r.hexists(k.session(ub), "conn")
    assert 0 < r.pttl(k.session(ub)) <= service.settings.reconnect_grace_s * 1000
    with pytest.raises(PartnerAway):
        service.send("a", "are you there?")
    assert notifier.last("a")["type"] == "partner_reconnecting"  # nothing was relayed
    service.heartbeat("a")
    assert notifier.last("a")["state"] == "room"  # the room stands during the grace

    assert service.connect("b2", ub, authenticated=True) == ub
    back = notifier.last("a")
    assert back["type"] == "partner_back" and back["roomId"] == rid
    service.heartbeat("b2")
    pong = notifier.last("b2")
    assert (pong["state"], pong["roomId"], pong["partnerId"]) == (
        "room",
        rid,
        service.alias(rid, ua),
    )
    assert r.pttl(k.session(ub)) > service.settings.reconnect_grace_s * 1000
    service.send("a", "welcome back")
    assert notifier.last("b2")["text"] == "welcome back"
    service.send("b2", "thanks")
    assert notifier.last("a")["text"] == "thanks"


def _expire_grace(service: ChatService, uid: str) -> None:
    """What the away session's TTL does when the grace runs out."""
    service.store.client.delete(service.store.keys.session(uid))


def test_grace_running_out_is_found_by_the_partners_send(
    service: ChatService, notifier: RecordingNotifier
) -> None:
    _ua, ub = pair(service, "a", "b", token=True)
    rid = notifier.last("a")["roomId"]
    service.disconnect("b")
    _expire_grace(service, ub)
    service.send("a", "hello?")
    assert notifier.last("a")["type"] == "partner_left" and notifier.last("a")["roomId"] == rid
    assert not service.store.client.exists(service.store.keys.room(rid))
    # coming back afterwards is a fresh, idle session
    service.connect("b2", ub, authenticated=True)
    service.heartbeat("b2")
    assert notifier.last("b2")["state"] == "idle"


def test_grace_running_out_is_found_by_the_partners_heartbeat(
    service: ChatService, notifier: RecordingNotifier
) -> None:
    ua, ub = pair(service, "a", "b", token=True)
    rid = notifier.last("a")["roomId"]
    service.disconnect("b")
    _expire_grace(service, ub)
    service.heartbeat("a")
    assert notifier.types("a")[-2:] == ["partner_left", "pong"]
    assert notifier.last("a")["state"] == "idle"
    assert not service.store.client.hexists(service.store.keys.session(ua), "room")
    assert not service.store.client.exists(service.store.keys.room(rid))


def test_grace_running_out_is_found_by_the_sweeper(
    service: ChatService, notifier: RecordingNotifier
) -> None:
    ua, ub = pair(service, "a", "b", token=True)
    rid = notifier.last("a")["roomId"]
    service.disconnect("b")
    sweeper = make_sweeper(service.store.client, service.settings, notifier)
    assert sweeper.run().rooms_reaped == 0  # within the grace: the room stands
    _expire_grace(service, ub)
    result = sweeper.run()
    assert result.rooms_reaped == 1
    assert notifier.last("a")["type"] == "partner_left" and notifier.last("a")["roomId"] == rid
    assert not service.store.client.hexists(service.store.keys.session(ua), "room")


def test_reap_room_on_the_service(service: ChatService, notifier: RecordingNotifier) -> None:
    _ua, ub = pair(service, "a", "b", token=True)
    rid = notifier.last("a")["roomId"]
    assert not service.reap_room(rid).reaped
    assert not service.reap_room("no-such-room").reaped
    service.store.client.delete(service.store.keys.session(ub))  # b expired, no $disconnect
    assert service.reap_room(rid).reaped
    assert notifier.last("a")["type"] == "partner_left"


def test_partner_leaving_during_the_grace(
    service: ChatService, notifier: RecordingNotifier
) -> None:
    _ua, ub = pair(service, "a", "b", token=True)
    service.disconnect("b")
    service.next("a")  # a moves on while b is away
    assert notifier.last("a")["type"] == "queued"
    service.connect("b2", ub, authenticated=True)
    assert "partner_back" not in notifier.types("a")
    service.heartbeat("b2")
    assert notifier.last("b2")["state"] == "idle"


@pytest.mark.parametrize("case", ["anonymous", "no_grace", "partner_away_too"])
def test_no_grace_without_a_token_or_with_grace_off(
    case: str, make_service: MakeService, notifier: RecordingNotifier
) -> None:
    svc = make_service(reconnect_grace_s=0 if case == "no_grace" else 20)
    _ua, ub = pair(svc, "a", "b", token=case != "anonymous")
    if case == "partner_away_too":
        svc.disconnect("a")  # a is away; b's disconnect then ends the room
        assert notifier.last("b")["type"] == "partner_reconnecting"
    svc.disconnect("b")
    if case != "partner_away_too":
        assert notifier.last("a")["type"] == "partner_left"
    r, k = svc.store.client, svc.store.keys
    assert not r.exists(k.session(ub), k.connection("b"))
    assert not list(r.scan_iter(k.pattern("room")))
