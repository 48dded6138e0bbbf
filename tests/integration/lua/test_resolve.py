"""How a script learns who is calling (includes/resolve.lua): from the session key the
handler passes (the authorizer's user id, no read of the connection key), or from the
connection key; the session must name the connection either way."""

from __future__ import annotations

import pytest
import redis

from pairchat.domain.errors import SessionExpired
from pairchat.domain.service import ChatService
from tests.support import pair

pytestmark = pytest.mark.integration


def calls(r: redis.Redis) -> dict[str, int]:
    stats = r.info("commandstats")
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()}


def relay_calls(service: ChatService, user_id: str) -> dict[str, int]:
    r = service.store.client
    r.config_resetstat()
    service.store.relay("a", user_id)
    return calls(r)


def test_with_the_user_id_the_connection_key_is_not_read(service: ChatService) -> None:
    ua, _ = pair(service, "a", "b")
    service.store.relay("a")  # loads the script, renews what is due
    known = relay_calls(service, ua)
    unknown = relay_calls(service, "")
    assert "get" not in known and unknown["get"] == 1
    assert sum(known.values()) == sum(unknown.values()) - 1


def test_a_wrong_user_id_falls_back_to_the_connection_key(service: ChatService) -> None:
    _, ub = pair(service, "a", "b")
    result = service.store.relay("a", ub)  # b's id on a's connection: a still speaks as a
    assert result.partner_connection == "b"
    assert service.store.relay("a", "nobody").partner_connection == "b"


def test_a_zombie_connection_is_refused_even_with_the_right_user_id(
    service: ChatService,
) -> None:
    ua, _ = pair(service, "a", "b")
    service.connect("a2", ua)  # the same user on a new socket takes the session over
    with pytest.raises(SessionExpired):
        service.store.relay("a", ua)
