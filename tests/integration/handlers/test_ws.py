"""The Lambda adapters end to end: API Gateway events in, frames out through moto's
Management API, state in a real redis-server."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import pytest
import redis
from moto import mock_aws
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.exceptions import JsonRESTError

from pairchat.adapters.management import ManagementApiNotifier, management_client
from pairchat.domain.service import ChatService
from pairchat.domain.store import ChatStore
from pairchat.handlers import ws
from pairchat.settings import Settings
from tests.integration.lua.test_match import snapshot
from tests.support import free_port, load_event, split_frames

pytestmark = pytest.mark.integration
ENDPOINT = "https://abcdef1234.execute-api.us-east-1.amazonaws.com/prod"


class GoneException(JsonRESTError):
    code = 410

    def __init__(self) -> None:
        super().__init__("GoneException", "")


@dataclass
class Api:
    """moto's Management API backend, plus a set of connection ids that answer 410."""

    gone: set[str]

    @property
    def backend(self) -> Any:
        return apigatewaymanagementapi_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]

    def frames(self, connection_id: str) -> list[dict[str, Any]]:
        # moto keys connections by the id as it appears in the URL path (percent-encoded)
        conn = self.backend.connections.get(quote(connection_id, safe=""))
        return split_frames(conn.data) if conn else []

    def types(self, connection_id: str) -> list[str]:
        return [f["type"] for f in self.frames(connection_id)]


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        state = Api(gone=set())
        backend_cls = type(state.backend)
        original = backend_cls.post_to_connection

        def post(self: Any, data: bytes, connection_id: str) -> None:
            if unquote(connection_id) in state.gone:
                raise GoneException()
            original(self, data, connection_id)

        monkeypatch.setattr(backend_cls, "post_to_connection", post)
        yield state


@pytest.fixture
def svc(api: Api, store: ChatStore, settings: Settings) -> ChatService:
    client = management_client(ENDPOINT, "us-east-1")
    return ChatService(store, ManagementApiNotifier(client), settings)


def connect(svc: ChatService, cid: str) -> str:
    assert ws.handle_connect(load_event("$connect", cid), svc) == {"statusCode": 200}
    uid = svc.store.client.get(svc.store.keys.connection(cid))
    assert uid
    return str(uid)


def send(svc: ChatService, cid: str, body: Any, route: str | None = None) -> dict[str, Any]:
    if route is None:
        route = body.get("action", "$default") if isinstance(body, dict) else "$default"
    return ws.handle_message(load_event(route, cid, body), svc)


def test_connect_assigns_a_server_identity(svc: ChatService) -> None:
    event = load_event("$connect", "C1=")
    event["queryStringParameters"] = {"userId": "chosen-by-client"}
    assert ws.handle_connect(event, svc)["statusCode"] == 200
    uid = svc.store.client.get(svc.store.keys.connection("C1="))
    assert uid and uid != "chosen-by-client"
    sess = svc.store.keys.session(uid)
    assert svc.store.client.hget(sess, "conn") == "C1="
    assert 0 < svc.store.client.ttl(sess) <= 60


def test_match_chat_and_leave_through_the_handlers(svc: ChatService, api: Api) -> None:
    ua, ub = connect(svc, "A="), connect(svc, "B=")
    assert send(svc, "A=", {"action": "join", "gender": "male", "preference": "female"}) == {
        "statusCode": 200
    }
    assert api.types("A=") == ["queued"]
    send(svc, "B=", {"action": "join", "gender": "female", "preference": "any", "userId": ua})
    ma, mb = api.frames("A=")[-1], api.frames("B=")[-1]
    assert ma["type"] == "matched" and ma["roomId"] == mb["roomId"]
    room = ma["roomId"]
    assert (ma["partnerId"], mb["partnerId"]) == (svc.alias(room, ub), svc.alias(room, ua))
    send(svc, "B=", {"action": "send", "text": "hi <b>there</b> \u0000 ✓", "roomId": "other"})
    msg = api.frames("A=")[-1]
    assert msg == {
        **msg,
        "type": "message",
        "roomId": ma["roomId"],
        "text": "hi <b>there</b> \u0000 ✓",
    }
    assert api.types("B=") == ["matched"]  # the sender gets no echo
    send(svc, "A=", {"action": "heartbeat"})
    assert api.frames("A=")[-1]["type"] == "pong" and api.frames("A=")[-1]["state"] == "room"
    send(svc, "B=", {"action": "leave"})
    assert api.types("A=")[-1] == "partner_left" and api.types("B=")[-1] == "left"


@pytest.mark.parametrize(
    ("body", "route", "code"),
    [
        ("{not json", "$default", "invalid_json"),
        ({"no": "action"}, "$default", "unknown_action"),
        ({"action": "fly"}, "$default", "unknown_action"),
        ({"action": "join", "gender": "x", "preference": "any"}, "join", "invalid_field"),
        ({"action": "send", "text": "x" * 4097}, "send", "too_large"),
        ({"action": "send", "text": "hello"}, "send", "not_in_room"),
    ],
)
def test_bad_input_gets_an_error_frame_and_changes_nothing(
    svc: ChatService, api: Api, redis_client: redis.Redis, body: Any, route: str, code: str
) -> None:
    connect(svc, "A=")
    connect(svc, "W=")
    send(svc, "W=", {"action": "join", "gender": "female", "preference": "any"})
    before = snapshot(redis_client)
    response = send(svc, "A=", body, route)
    assert 400 <= response["statusCode"] < 500
    err = api.frames("A=")[-1]
    assert (err["type"], err["code"]) == ("error", code) and err["message"]
    # nothing changed but the TTLs the refused call did not touch
    after = snapshot(redis_client)
    assert after == before


def test_already_in_room(svc: ChatService, api: Api) -> None:
    connect(svc, "A="), connect(svc, "B=")
    send(svc, "A=", {"action": "join", "gender": "male", "preference": "any"})
    send(svc, "B=", {"action": "join", "gender": "male", "preference": "any"})
    assert (
        send(svc, "A=", {"action": "join", "gender": "male", "preference": "any"})["statusCode"]
        == 409
    )
    assert api.frames("A=")[-1]["code"] == "already_in_room"


def test_gone_waiter_via_the_management_api(svc: ChatService, api: Api) -> None:
    connect(svc, "W="), connect(svc, "J=")
    send(svc, "W=", {"action": "join", "gender": "male", "preference": "any"})
    api.gone.add("W=")
    send(svc, "J=", {"action": "join", "gender": "female", "preference": "any"})
    assert api.types("J=") == ["queued"]  # never a matched for a partner already gone
    assert not svc.store.client.exists(svc.store.keys.connection("W="))


def test_disconnect_tells_the_partner(svc: ChatService, api: Api) -> None:
    connect(svc, "A="), connect(svc, "B=")
    send(svc, "A=", {"action": "join", "gender": "male", "preference": "any"})
    send(svc, "B=", {"action": "join", "gender": "male", "preference": "any"})
    assert ws.handle_disconnect(load_event("$disconnect", "B="), svc) == {"statusCode": 200}
    assert api.types("A=")[-1] == "partner_left"


def test_redis_down_is_an_unavailable_frame(api: Api, settings: Settings) -> None:
    dead = redis.Redis(port=free_port(), socket_connect_timeout=0.2, decode_responses=True)
    client = management_client(ENDPOINT, "us-east-1")
    svc = ChatService(ChatStore(dead, settings), ManagementApiNotifier(client), settings)
    body = {"action": "join", "gender": "male", "preference": "any"}
    response = ws.handle_message(load_event("join", "A=", body), svc)
    assert response["statusCode"] == 503
    assert api.frames("A=")[-1]["code"] == "unavailable"
    assert ws.handle_connect(load_event("$connect", "B="), svc)["statusCode"] == 503


class Context:
    function_name = "pairchat-MessageFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:pairchat-Message"
    aws_request_id = "req-1"


def test_lambda_entry_points_as_lambda_runs_them(
    api: Api,
    redis_url: str,
    redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    log_stream = io.StringIO()
    handler = ws.logger.registered_handler
    previous = handler.setStream(log_stream)  # type: ignore[attr-defined]
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("KEY_PREFIX", "{lambda}:")
    monkeypatch.setenv("MANAGEMENT_TRANSPORT", "boto3")  # moto intercepts botocore only
    monkeypatch.setattr(ws, "_runtime", None)
    assert ws.on_connect(load_event("$connect", "L1="), Context())["statusCode"] == 200
    assert ws.on_connect(load_event("$connect", "L2="), Context())["statusCode"] == 200
    for cid, g in (("L1=", "male"), ("L2=", "female")):
        body = {"action": "join", "gender": g, "preference": "any"}
        assert ws.on_message(load_event("join", cid, body), Context())["statusCode"] == 200
    assert api.types("L1=") == ["queued", "matched"] and api.types("L2=") == ["matched"]
    secret = "my secret words"
    ws.on_message(load_event("send", "L1=", {"action": "send", "text": secret}), Context())
    assert api.frames("L2=")[-1]["text"] == secret
    handler.setStream(previous)  # type: ignore[attr-defined]
    logs = log_stream.getvalue() + capsys.readouterr().out
    assert "L1=" in logs  # the connection id is the correlation id
    assert secret not in logs  # message text is never logged
    assert '"Matches"' in logs or "Matches" in logs  # EMF metrics were flushed
    assert redis_client.exists("{lambda}:conn:L1=")
    monkeypatch.setattr(ws, "_runtime", None)


@pytest.mark.parametrize(
    ("body", "route", "code"),
    [
        ({"action": "send", "text": "late", "ref": "m-17"}, "send", "not_in_room"),
        (
            {"action": "join", "gender": "robot", "preference": "any", "ref": "j-2"},
            "join",
            "invalid_field",
        ),
        ({"action": "dance", "ref": "x"}, "$default", "unknown_action"),
    ],
)
def test_error_frames_echo_the_clients_ref(
    svc: ChatService, api: Api, body: dict[str, Any], route: str, code: str
) -> None:
    """A late error must be attributable to the frame that caused it (frames run concurrently)."""
    connect(svc, "A=")
    send(svc, "A=", body, route)
    err = api.frames("A=")[-1]
    assert (err["type"], err["code"], err["ref"]) == ("error", code, body["ref"])


@pytest.mark.parametrize("ref", [5, "", "r" * 65, "bad\nref", {"nested": 1}])
def test_unusable_refs_are_not_echoed(svc: ChatService, api: Api, ref: Any) -> None:
    connect(svc, "A=")
    send(svc, "A=", {"action": "send", "text": "hi", "ref": ref})
    err = api.frames("A=")[-1]
    assert err["code"] == "not_in_room" and "ref" not in err
