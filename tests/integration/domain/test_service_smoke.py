"""A first end-to-end pass through the service on real Redis."""

from __future__ import annotations

import pytest

from pairchat.domain.errors import AlreadyInRoom, NotInRoom
from pairchat.domain.service import ChatService
from tests.conftest import RecordingNotifier

pytestmark = pytest.mark.integration


def test_two_users_match_chat_and_leave(service: ChatService, notifier: RecordingNotifier) -> None:
    a = service.connect("ca")
    b = service.connect("cb")
    service.join("ca", "male", "female")
    assert notifier.types("ca") == ["queued"]
    service.join("cb", "female", "male")
    ma, mb = notifier.last("ca"), notifier.last("cb")
    assert ma["type"] == mb["type"] == "matched"
    room = ma["roomId"]
    assert room == mb["roomId"]
    # Each is told the other's per-room alias, never the user id (issue 13, finding 2).
    assert ma["partnerId"] == service.alias(room, b) and mb["partnerId"] == service.alias(room, a)
    assert {ma["partnerId"], mb["partnerId"]}.isdisjoint({a, b})
    # the waiter is told first
    assert notifier.calls[-2:] == ["ca", "cb"]
    service.send("cb", "hi there")
    assert notifier.last("ca") == {**notifier.last("ca"), "type": "message", "text": "hi there"}
    with pytest.raises(AlreadyInRoom):
        service.join("ca", "male", "female")
    service.leave("ca")
    assert notifier.last("cb")["type"] == "partner_left"
    assert notifier.last("ca")["type"] == "left"
    with pytest.raises(NotInRoom):
        service.send("cb", "anyone?")
