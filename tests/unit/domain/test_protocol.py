"""Frame parsing: every malformed input maps to a typed error, never an exception leak."""

from __future__ import annotations

import json

import pytest

from pairchat.domain.errors import InvalidField, InvalidJson, PairchatError, TooLarge, UnknownAction
from pairchat.domain.protocol import (
    MAX_FRAME_BYTES,
    Heartbeat,
    Join,
    Leave,
    Next,
    Send,
    frame,
    parse,
)


def p(obj: object, limit: int = 4096) -> object:
    return parse(obj if isinstance(obj, str) else json.dumps(obj), limit)


def test_valid_actions() -> None:
    assert p({"action": "join", "gender": "male", "preference": "any"}) == Join("male", "any")
    assert p({"action": "next"}) == Next()
    assert p({"action": "next", "gender": "female", "preference": "male"}) == Next("female", "male")
    assert p({"action": "send", "text": "héllo 👋"}) == Send("héllo 👋")
    assert p({"action": "leave"}) == Leave()
    assert p({"action": "heartbeat"}) == Heartbeat()


def test_identity_fields_in_frames_are_ignored() -> None:
    forged = {"action": "send", "text": "x", "userId": "u1", "roomId": "r", "connectionId": "c"}
    assert p(forged) == Send("x")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("", InvalidJson),
        ("not json", InvalidJson),
        ("[1,2]", InvalidJson),
        ('"join"', InvalidJson),
        ("[" * 50_000 + "]" * 50_000, InvalidJson),
        ("{}", UnknownAction),
        ('{"action": 5}', UnknownAction),
        ('{"action": "dance"}', UnknownAction),
        ('{"action": "join"}', InvalidField),
        ('{"action": "join", "gender": "robot", "preference": "any"}', InvalidField),
        ('{"action": "join", "gender": "male", "preference": ["any"]}', InvalidField),
        ('{"action": "next", "gender": "male"}', InvalidField),
        ('{"action": "send"}', InvalidField),
        ('{"action": "send", "text": 42}', InvalidField),
        ('{"action": "send", "text": "   "}', InvalidField),
    ],
)
def test_bad_frames(body: str, error: type[PairchatError]) -> None:
    with pytest.raises(error) as info:
        parse(body, 4096)
    assert info.value.code == error.code and info.value.message


def test_text_limit_is_configurable() -> None:
    assert p({"action": "send", "text": "a" * 10}, limit=10) == Send("a" * 10)
    with pytest.raises(TooLarge):
        p({"action": "send", "text": "a" * 11}, limit=10)


def test_frames_beyond_api_gateway_limit_are_refused() -> None:
    with pytest.raises(TooLarge):
        parse(b"x" * (MAX_FRAME_BYTES + 1), 10**9)


def test_server_frames_carry_unique_ids() -> None:
    a, b = frame("pong"), frame("pong")
    assert a["type"] == "pong" and a["id"] != b["id"]


def test_ref_is_read_and_attached_to_errors() -> None:
    from pairchat.domain.protocol import parse_with_ref

    assert parse_with_ref('{"action":"leave","ref":"r1"}', 10) == (Leave(), "r1")
    assert parse_with_ref('{"action":"leave","ref":7}', 10) == (Leave(), None)
    with pytest.raises(InvalidField) as info:
        parse_with_ref('{"action":"join","ref":"r2"}', 10)
    assert info.value.ref == "r2"
    with pytest.raises(InvalidJson) as bad:
        parse_with_ref("{nope", 10)
    assert bad.value.ref is None
