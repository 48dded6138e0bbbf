"""$connect: token identity, origin allowlist and pool through the authorizer and the handler
(as API Gateway chains them), the handler alone when no authorizer ran, and what is logged."""

from __future__ import annotations

import io
import time
from dataclasses import replace

import jwt
import pytest
import redis

from pairchat.adapters.auth import Authenticator
from pairchat.adapters.connection import source_of
from pairchat.domain.identity import token_user_id
from pairchat.domain.service import ChatService
from pairchat.domain.store import ChatStore
from pairchat.handlers import ws
from pairchat.settings import Settings
from tests.conftest import RecordingNotifier
from tests.support import authorizer_event, gateway_connect, load_event

pytestmark = pytest.mark.integration

SECRET = "connect-test-secret-at-least-32-bytes"
ALICE = token_user_id("", "alice")


def connect_event(
    cid: str, token: str | None = None, origin: str | None = None, pool: str | None = None
) -> dict:
    """A $connect request as the client sent it: no authorizer has decided anything yet."""
    event = load_event("$connect", cid)
    del event["requestContext"]["authorizer"]
    query = {k: v for k, v in (("token", token), ("pool", pool)) if v is not None}
    if query:
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
    if origin is not None:
        event["headers"]["Origin"] = origin
    return event


def make_token(sub: str = "alice", ttl: int = 300) -> str:
    return jwt.encode({"sub": sub, "exp": int(time.time()) + ttl}, SECRET, algorithm="HS256")


@pytest.fixture
def required(settings: Settings, store: ChatStore, notifier: RecordingNotifier) -> ChatService:
    s = replace(
        settings,
        auth_mode="required",
        auth_secret=SECRET,
        allowed_origins=("https://chat.example.com",),
    )
    return ChatService(ChatStore(store.client, s), notifier, s)


def test_a_valid_token_sets_the_user_id(required: ChatService) -> None:
    auth = Authenticator.from_settings(required.settings)
    event = connect_event("C1=", make_token("alice"))
    assert gateway_connect(event, required, auth) == {"statusCode": 200}
    r, k = required.store.client, required.store.keys
    assert r.get(k.connection("C1=")) == ALICE
    assert r.hget(k.session(ALICE), "auth") == "token"


@pytest.mark.parametrize(
    ("token", "origin", "status"),
    [
        (None, None, 401),
        ("", None, 401),
        ("garbage", None, 401),
        (make_token(ttl=-120), None, 401),
        (jwt.encode({"sub": "a", "exp": int(time.time()) + 60}, "x" * 32), None, 401),
        (make_token(), "https://evil.example", 403),
    ],
    ids=["none", "empty", "garbage", "expired", "wrong-secret", "origin"],
)
def test_refused_connections_leave_nothing_in_redis(
    required: ChatService, token: str | None, origin: str | None, status: int
) -> None:
    event = connect_event("C2=", token, origin)
    # a key source is configured, so the default authenticator is built from the settings
    assert gateway_connect(event, required)["statusCode"] == status
    assert required.store.client.dbsize() == 0


def test_optional_mode_and_anonymous_mode(
    settings: Settings, store: ChatStore, notifier: RecordingNotifier
) -> None:
    optional = replace(settings, auth_mode="optional", auth_secret=SECRET)
    svc = ChatService(ChatStore(store.client, optional), notifier, optional)
    assert gateway_connect(connect_event("A="), svc)["statusCode"] == 200
    anon = store.client.get(store.keys.connection("A="))
    assert anon and anon.startswith("a:")
    assert store.client.hget(store.keys.session(anon), "auth") == "anon"
    assert gateway_connect(connect_event("B=", make_token()), svc)["statusCode"] == 200
    assert store.client.get(store.keys.connection("B=")) == ALICE
    assert gateway_connect(connect_event("C=", "bad"), svc)["statusCode"] == 401
    # anonymous (the default): a token is ignored, the server makes the id
    plain = ChatService(store, notifier, settings)
    assert gateway_connect(connect_event("D=", make_token("mallory")), plain)["statusCode"] == 200
    assert store.client.get(store.keys.connection("D=")).startswith("a:")


def test_tokens_and_query_strings_are_never_logged(
    required: ChatService, caplog: pytest.LogCaptureFixture
) -> None:
    good, bad = make_token("alice"), make_token("bob", ttl=-100)
    gateway_connect(connect_event("L1=", good), required)
    gateway_connect(connect_event("L2=", bad), required)
    gateway_connect(connect_event("L3=", good, "https://evil.example"), required)
    # every attribute of every record, extras included (what the JSON formatter would print)
    logs = "\n".join(str(record.__dict__) for record in caplog.records)
    assert "connect refused" in logs and "token expired" in logs  # it did log
    for secret in (good, bad, good.split(".")[1], bad.split(".")[2], SECRET, "token="):
        assert secret not in logs
    # Finding 9: the connect line names the opaque user id, never the token subject.
    assert ALICE in logs and "alice" not in logs and "bob" not in logs


class Context:
    function_name = "pairchat-connect"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:pairchat-connect"
    aws_request_id = "req-auth"


def test_connect_without_an_authorizer_context_opens_nothing(required: ChatService) -> None:
    """A $connect that reaches the handler without the authorizer's context (a deployment
    whose route lost its authorizer) is refused: no token was checked, so no session."""
    for token in (None, make_token("alice")):
        assert ws.handle_connect(connect_event("N=", token), required) == {"statusCode": 500}
    assert required.store.client.dbsize() == 0


def test_the_entry_points_configured_from_the_environment(
    redis_url: str, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As Lambda runs them: settings from env vars, the authorizer's key built once per cold
    start, the real JSON log output free of tokens."""
    from pairchat.handlers import authorizer

    log_stream = io.StringIO()
    handler = authorizer.logger.registered_handler
    previous = handler.setStream(log_stream)  # type: ignore[attr-defined]
    for name, value in {
        "REDIS_URL": redis_url,
        "KEY_PREFIX": "{authenv}:",
        "AUTH_MODE": "required",
        "AUTH_SECRET": SECRET,
        "ALLOWED_ORIGINS": "https://chat.example.com",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(ws, "_runtime", None)
    monkeypatch.setattr(authorizer, "_state", None)

    def through_lambda(event: dict) -> int:
        try:
            answer = authorizer.handler(authorizer_event(event), Context())
        except authorizer.Unauthorized:
            return 401
        if answer["policyDocument"]["Statement"][0]["Effect"] != "Allow":
            return 403
        event["requestContext"]["authorizer"] = {"principalId": "p", **answer["context"]}
        return int(ws.on_connect(event, Context())["statusCode"])

    try:
        good = make_token("carol")
        assert through_lambda(connect_event("E1=")) == 401
        assert through_lambda(connect_event("E2=", good)) == 200
        assert through_lambda(connect_event("E3=", good, "https://evil.example")) == 403
        assert redis_client.get("{authenv}:conn:E2=") == token_user_id("", "carol")
        assert not redis_client.exists("{authenv}:conn:E1=", "{authenv}:conn:E3=")
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
        monkeypatch.setattr(ws, "_runtime", None)
        monkeypatch.setattr(authorizer, "_state", None)
    logs = log_stream.getvalue()
    assert "connect refused" in logs  # it logged
    assert good not in logs and good.split(".")[2] not in logs and SECRET not in logs
    assert "carol" not in logs and token_user_id("", "carol") in logs


def test_refusals_are_counted(required: ChatService) -> None:
    counted: list[str] = []

    class Counter:
        def count(self, name: str, value: float = 1) -> None:
            counted.append(name)

        def timing(self, name: str, milliseconds: float) -> None:
            pass

    required.telemetry = Counter()
    gateway_connect(connect_event("R1="), required)
    gateway_connect(connect_event("R2=", make_token(), "https://evil.example"), required)
    gateway_connect(connect_event("R3=", make_token(), pool="nowhere"), required)
    assert counted == ["Error_unauthorized", "Error_forbidden_origin", "Error_unknown_pool"]


def test_a_broken_authenticator_refuses_without_raising(
    required: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = Authenticator.from_settings(required.settings)

    def broken(token: str) -> tuple[str, str]:
        raise ImportError("No module named 'jwt'")

    monkeypatch.setattr(auth, "verify_claims", broken)
    assert gateway_connect(connect_event("X=", make_token()), required, auth) == {"statusCode": 500}
    assert required.store.client.dbsize() == 0


def test_an_unknown_pool_is_refused_with_400_and_nothing_written(
    required: ChatService,
) -> None:
    """The authorizer lets it through with an empty pool (who the client is was fine), and
    $connect refuses the bad parameter: 400, as for any bad request, and no key written."""
    for pool in ("nowhere", "EN", "en es", "x" * 33):
        event = connect_event("P=", make_token(), pool=pool)
        assert gateway_connect(event, required)["statusCode"] == 400, pool
    assert required.store.client.dbsize() == 0
    # the first (here the only) pool by name, or by naming none, is accepted
    assert gateway_connect(connect_event("Q=", make_token(), pool="default"), required) == OK
    assert gateway_connect(connect_event("R=", make_token("bob")), required) == OK


def test_the_context_alone_decides_identity_and_pool(required: ChatService) -> None:
    """Whatever the query says, a connection with an authorizer context is who the context
    says: the handler never re-reads the token or the pool parameter."""
    event = connect_event("S=", "not-a-token", pool="nowhere")
    event["requestContext"]["authorizer"] = {
        "principalId": "dora",
        "userId": "dora",
        "pool": "default",
        "authenticated": "true",
    }
    assert ws.handle_connect(event, required) == OK
    r, k = required.store.client, required.store.keys
    assert r.get(k.connection("S=")) == "dora"
    assert r.hget(k.session("dora"), "auth") == "token"


OK = {"statusCode": 200}


def test_the_authorizer_entry_point_then_connect_as_lambda_runs_them(
    redis_url: str, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Settings from env vars, both entry points: the authorizer's policy and context, and
    $connect opening the session in the pool the context names, under that pool's tag."""
    from pairchat.handlers import authorizer

    for name, value in {
        "REDIS_URL": redis_url,
        "KEY_PREFIX": "{authz}:",
        "POOLS": "en,es",
        "AUTH_MODE": "optional",
        "AUTH_SECRET": SECRET,
        "ALLOWED_ORIGINS": "https://chat.example.com",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(ws, "_runtime", None)
    monkeypatch.setattr(authorizer, "_state", None)
    try:
        request = connect_event("Z1=", make_token("erin"), pool="es")
        answer = authorizer.handler(authorizer_event(request), Context())
        (statement,) = answer["policyDocument"]["Statement"]
        assert statement["Effect"] == "Allow"
        assert statement["Resource"].endswith("/prod/$connect")
        erin = token_user_id("", "erin")
        assert answer["context"] == {
            "userId": erin,
            "pool": "es",
            "authenticated": "true",
            "source": source_of(request),
        }
        assert all(isinstance(v, str) for v in answer["context"].values())
        request["requestContext"]["authorizer"] = {"principalId": erin, **answer["context"]}
        assert ws.on_connect(request, Context()) == OK
        assert redis_client.get("{authz:es:c0bc}:conn:Z1=") == erin
        assert not redis_client.exists("{authz:en:dbd3}:conn:Z1=", "{authz}:conn:Z1=")

        anonymous = authorizer.handler(authorizer_event(connect_event("Z2=")), Context())
        assert anonymous["context"]["pool"] == "en"  # none named: the first pool
        assert anonymous["context"]["authenticated"] == "false"
        with pytest.raises(authorizer.Unauthorized, match=r"^Unauthorized$"):
            authorizer.handler(authorizer_event(connect_event("Z3=", "bad")), Context())
        evil = connect_event("Z4=", origin="https://evil.example")
        denied = authorizer.handler(authorizer_event(evil), Context())
        assert denied["policyDocument"]["Statement"][0]["Effect"] == "Deny"
        assert "context" not in denied
    finally:
        monkeypatch.setattr(ws, "_runtime", None)
        monkeypatch.setattr(authorizer, "_state", None)
