"""The $connect authorizer's answers (no Redis: it touches none): the policy API Gateway
evaluates, the context it hands every later event, and how each refusal is expressed."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from pairchat.adapters.auth import Authenticator
from pairchat.adapters.connection import ConnectionContext, requested_pool, source_of
from pairchat.domain.identity import token_user_id
from pairchat.handlers.authorizer import Unauthorized, handle_authorize
from pairchat.settings import Settings
from tests.support import authorizer_event, load_event

SECRET = "authorizer-unit-secret-at-least-32-bytes"
S = Settings(
    pools=("en", "es"),
    auth_mode="optional",
    auth_secret=SECRET,
    alias_secret="alias-unit-secret-at-least-32-bytes",
    allowed_origins=("https://chat.example.com",),
)


def request(query: dict[str, str] | None = None, origin: str | None = None) -> dict[str, Any]:
    event = load_event("$connect", "A1=")
    del event["requestContext"]["authorizer"]
    event["queryStringParameters"] = query
    if origin:
        event["headers"]["Origin"] = origin
    return authorizer_event(event)


def token(sub: str = "alice", ttl: int = 300) -> str:
    return jwt.encode({"sub": sub, "exp": int(time.time()) + ttl}, SECRET, algorithm="HS256")


def answer(query: dict[str, str] | None = None, origin: str | None = None) -> dict[str, Any]:
    return handle_authorize(request(query, origin), S, Authenticator.from_settings(S))


def test_allow_covers_only_this_connect_and_carries_the_context() -> None:
    out = answer({"token": token(), "pool": "es"})
    (statement,) = out["policyDocument"]["Statement"]
    assert statement == {
        "Action": "execute-api:Invoke",
        "Effect": "Allow",
        "Resource": "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/$connect",
    }
    alice = token_user_id("", "alice")  # the namespaced id, never the raw subject
    assert out["context"] == {
        "userId": alice,
        "pool": "es",
        "authenticated": "true",
        "source": source_of(request({}, None)),  # the address, as an opaque key
    }
    assert out["principalId"] == alice


def test_no_pool_means_the_first_and_an_unknown_one_is_left_for_connect_to_refuse() -> None:
    assert answer()["context"]["pool"] == "en"
    assert answer({"pool": ""})["context"]["pool"] == "en"
    unknown = answer({"pool": "fr"})
    assert unknown["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert unknown["context"]["pool"] == ""
    assert requested_pool({"pool": "es"}, S) == "es"
    assert requested_pool({"pool": ["es"]}, S) == ""  # not a string: not a pool


def test_anonymous_ids_are_fresh_and_never_the_tokens_claims() -> None:
    a, b = answer()["context"], answer()["context"]
    assert a["authenticated"] == b["authenticated"] == "false"
    assert a["userId"] != b["userId"] and a["userId"].startswith("a:")


def test_refusals_are_what_api_gateway_turns_into_401_403_500() -> None:
    with pytest.raises(Unauthorized) as info:
        answer({"token": token(ttl=-100)})
    assert str(info.value) == "Unauthorized"  # the exact message API Gateway maps to 401
    denied = answer({"token": token()}, origin="https://evil.example")
    assert denied["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert "context" not in denied and denied["principalId"] == "refused"

    def failing() -> str:
        raise ConnectionError("ssm down")

    auth = Authenticator.from_settings(S, fetch_secret=failing)
    broken = Settings(
        pools=("en",), auth_mode="required", auth_secret_parameter="p", alias_secret="a" * 32
    )
    with pytest.raises(RuntimeError, match="key source unavailable"):
        handle_authorize(request({"token": token()}), broken, auth)


def test_the_context_round_trips_through_an_event() -> None:
    ctx = ConnectionContext("bob", "es", True)
    event = load_event("send", "B=")
    event["requestContext"]["authorizer"] = {"principalId": "bob", **ctx.as_context()}
    assert ConnectionContext.from_event(event) == ctx
    event["requestContext"]["authorizer"]["authenticated"] = True  # a boolean works too
    assert ConnectionContext.from_event(event) == ctx
    del event["requestContext"]["authorizer"]
    assert ConnectionContext.from_event(event) is None
