"""``signal`` (WebRTC signaling) through the Lambda adapter: API Gateway events in, frames out
through moto's Management API, state in a real redis-server."""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

import pytest
import redis

from pairchat.adapters.management import ManagementApiNotifier, management_client
from pairchat.domain.protocol import MAX_SIGNAL_BYTES
from pairchat.domain.service import ChatService
from pairchat.domain.store import ChatStore
from pairchat.handlers import ws
from pairchat.settings import Settings
from tests.integration.handlers import test_ws
from tests.integration.handlers.test_ws import ENDPOINT, Api, connect, send
from tests.integration.lua.test_match import snapshot

pytestmark = pytest.mark.integration
# The Management API (moto, with 410s on demand) and the service of the main handler tests.
api = test_ws.api
svc = test_ws.svc

OFFER = {"kind": "offer", "sdp": "v=0\r\no=- 4611 2 IN IP4 198.51.100.23\r\na=candidate:1 1 udp"}


def matched_pair(svc: ChatService) -> str:
    connect(svc, "A="), connect(svc, "B=")
    send(svc, "A=", {"action": "join", "gender": "male", "preference": "any"})
    send(svc, "B=", {"action": "join", "gender": "female", "preference": "any"})
    room = svc.store.client.hget(
        svc.store.keys.session(svc.store.client.get("{pc}:conn:A=")), "room"
    )
    assert room
    return str(room)


def service(
    api: Api, redis_client: redis.Redis, settings: Settings, **overrides: Any
) -> ChatService:
    s = replace(settings, **overrides)
    notifier = ManagementApiNotifier(management_client(ENDPOINT, "us-east-1"))
    return ChatService(ChatStore(redis_client, s), notifier, s)


def test_a_signal_reaches_the_partner_as_an_opaque_object(svc: ChatService, api: Api) -> None:
    room = matched_pair(svc)
    data = {**OFFER, "nested": {"list": [1, 2.5, None, "é"]}}
    response = send(svc, "B=", {"action": "signal", "data": data, "roomId": "not-this-one"})
    assert response == {"statusCode": 200}
    got = api.frames("A=")[-1]
    assert got == {"type": "signal", "id": got["id"], "roomId": room, "data": data}
    assert api.types("B=") == ["matched"]  # no echo to the sender


def test_signal_content_is_neither_stored_nor_logged(
    svc: ChatService, api: Api, redis_client: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = "203.0.113.99 typ host marker-4f1e"
    log_stream = io.StringIO()
    handler = ws.logger.registered_handler
    previous = handler.setStream(log_stream)  # type: ignore[attr-defined]
    try:
        matched_pair(svc)
        send(svc, "A=", {"action": "signal", "data": {"candidate": marker}})
        send(svc, "A=", {"action": "signal", "data": {"c": marker, "pad": "x" * MAX_SIGNAL_BYTES}})
        send(svc, "A=", {"action": "signal", "data": marker})  # invalid_field
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
    assert api.frames("B=")[-1]["data"] == {"candidate": marker}  # it was relayed
    assert [f["code"] for f in api.frames("A=") if f["type"] == "error"] == [
        "too_large",
        "invalid_field",
    ]
    logs = log_stream.getvalue() + capsys.readouterr().out
    assert "refused" in logs  # the refusals were logged, by code
    assert "marker-4f1e" not in logs
    for key in redis_client.scan_iter():
        dump = redis_client.dump(key)
        assert dump is not None and b"marker-4f1e" not in dump, key


@pytest.mark.parametrize(
    ("body", "code", "status"),
    [
        ({"action": "signal", "data": {"sdp": "x" * MAX_SIGNAL_BYTES}}, "too_large", 400),
        ({"action": "signal", "data": "offer"}, "invalid_field", 400),
        ({"action": "signal"}, "invalid_field", 400),
    ],
)
def test_refused_signals_change_nothing(
    svc: ChatService,
    api: Api,
    redis_client: redis.Redis,
    body: dict[str, Any],
    code: str,
    status: int,
) -> None:
    matched_pair(svc)
    before = snapshot(redis_client)
    response = send(svc, "A=", {**body, "ref": "sig-9"})
    assert response["statusCode"] == status
    err = api.frames("A=")[-1]
    assert (err["type"], err["code"], err["ref"]) == ("error", code, "sig-9") and err["message"]
    assert api.types("B=") == ["matched"]
    assert snapshot(redis_client) == before


def test_outside_a_room_is_not_in_room(svc: ChatService, api: Api) -> None:
    connect(svc, "A=")
    assert send(svc, "A=", {"action": "signal", "data": OFFER})["statusCode"] == 409
    assert api.frames("A=")[-1]["code"] == "not_in_room"
    send(svc, "A=", {"action": "join", "gender": "male", "preference": "any"})  # queued
    assert send(svc, "A=", {"action": "signal", "data": OFFER})["statusCode"] == 409
    assert api.frames("A=")[-1]["code"] == "not_in_room"


def test_signals_and_messages_share_one_rate_limit(
    api: Api, redis_client: redis.Redis, settings: Settings
) -> None:
    svc = service(api, redis_client, settings, rate_messages=4)
    matched_pair(svc)
    for _ in range(2):
        assert send(svc, "A=", {"action": "signal", "data": OFFER})["statusCode"] == 200
        assert send(svc, "A=", {"action": "send", "text": "hi"})["statusCode"] == 200
    assert send(svc, "A=", {"action": "signal", "data": OFFER})["statusCode"] == 429
    assert api.frames("A=")[-1]["code"] == "rate_limited"
    assert send(svc, "A=", {"action": "send", "text": "hi"})["statusCode"] == 429
    assert api.types("B=").count("signal") == 2 and api.types("B=").count("message") == 2
    # the partner's own budget is untouched
    assert send(svc, "B=", {"action": "signal", "data": OFFER})["statusCode"] == 200


def test_a_signal_to_a_gone_partner_ends_the_room(
    svc: ChatService, api: Api, redis_client: redis.Redis
) -> None:
    room = matched_pair(svc)
    api.gone.add("B=")
    assert send(svc, "A=", {"action": "signal", "data": OFFER})["statusCode"] == 200
    assert api.frames("A=")[-1] == {**api.frames("A=")[-1], "type": "partner_left", "roomId": room}
    assert not redis_client.exists(svc.store.keys.connection("B="))
    assert not redis_client.exists(svc.store.keys.room(room))
    assert send(svc, "A=", {"action": "signal", "data": OFFER})["statusCode"] == 409


def test_matched_offers_the_ice_configuration_only_when_enabled(
    api: Api, redis_client: redis.Redis, settings: Settings
) -> None:
    off = service(api, redis_client, settings)
    matched_pair(off)
    assert "rtc" not in api.frames("A=")[-1] and "rtc" not in api.frames("B=")[-1]
    redis_client.flushall()
    on = service(
        api,
        redis_client,
        settings,
        rtc_enabled=True,
        ice_servers='[{"urls":"stun:stun.example.com"}]',
        turn_urls=("turn:turn.example.com",),
        turn_secret="k",
    )
    connect(on, "C="), connect(on, "D=")
    send(on, "C=", {"action": "join", "gender": "male", "preference": "any"})
    send(on, "D=", {"action": "join", "gender": "female", "preference": "any"})
    mc, md = api.frames("C=")[-1], api.frames("D=")[-1]
    assert mc["type"] == md["type"] == "matched"
    for m in (mc, md):
        assert m["rtc"]["iceTransportPolicy"] == "all"
        assert m["rtc"]["iceServers"][0] == {"urls": ["stun:stun.example.com"]}
        assert m["rtc"]["iceServers"][1]["urls"] == ["turn:turn.example.com"]
    # each user its own TURN username: nothing the two could correlate at the TURN server
    assert mc["rtc"]["iceServers"][1]["username"] != md["rtc"]["iceServers"][1]["username"]


def test_a_message_id_reaches_the_partner(svc: ChatService, api: Api) -> None:
    matched_pair(svc)
    send(svc, "A=", {"action": "send", "text": "hi", "mid": "m-7f3a"})
    send(svc, "A=", {"action": "send", "text": "plain"})
    first, second = api.frames("B=")[-2:]
    assert (first["text"], first["mid"]) == ("hi", "m-7f3a")
    assert second["text"] == "plain" and "mid" not in second
