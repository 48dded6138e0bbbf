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
    Typing,
    frame,
    normalize_interest,
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


# -- interests, fallback, typing (issue 11) --------------------------------------------------


def join(**fields: object) -> object:
    return p({"action": "join", "gender": "male", "preference": "any", **fields})


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("Music", "music"),
        ("  Jazz \t  Piano  ", "jazz piano"),  # trimmed, inner white space collapsed
        ("Straße", "strasse"),  # case-folded, not just lowered
        ("\uff2d\uff35\uff33\uff29\uff23", "music"),  # NFKC: full-width letters
        ("ﬅ", "st"),  # a ligature NFKC splits, then case-folded
        ("संगीत", "संगीत"),  # letters with combining marks (Devanagari)
        ("日本語 の 本", "日本語 の 本"),
        ("rock-n_roll 2", "rock-n_roll 2"),
        ("x" * 32, "x" * 32),
    ],
)
def test_interests_are_normalized(raw: str, normalized: str) -> None:
    assert normalize_interest(raw) == normalized
    assert join(interests=[raw]) == Join("male", "any", (normalized,), True)


@pytest.mark.parametrize(
    "raw", ["", "   ", "x" * 33, "c++", "a:b", "a,b", "😀", "dot.com", "\u0000x", "x\u200b"]
)
def test_interests_outside_the_alphabet_are_refused(raw: str) -> None:
    assert normalize_interest(raw) is None
    with pytest.raises(InvalidField) as info:
        join(interests=[raw])
    assert "interests" in info.value.message


def test_interests_are_deduplicated_and_sorted_and_at_most_five() -> None:
    assert join(interests=["b", "A", "a ", "B"]) == Join("male", "any", ("a", "b"), True)
    assert join(interests=[]) == Join("male", "any", (), True)
    five = join(interests=["a", "b", "c", "d", "e"])
    assert five == Join("male", "any", ("a", "b", "c", "d", "e"), True)
    for bad in (["a", "b", "c", "d", "e", "f"], "music", [1], [None], {"a": 1}):
        with pytest.raises(InvalidField) as info:
            join(interests=bad)
        assert "interests" in info.value.message


def test_fallback_is_a_boolean_defaulting_to_true() -> None:
    assert join(fallback=False) == Join("male", "any", (), False)
    assert join() == Join("male", "any", (), True)
    for bad in ("false", 0, 1):
        with pytest.raises(InvalidField) as info:
            join(fallback=bad)
        assert "fallback" in info.value.message


def test_next_reuses_what_it_is_not_given() -> None:
    assert p({"action": "next"}) == Next("", "", None, None)
    assert p({"action": "next", "interests": ["Go"]}) == Next("", "", ("go",), None)
    assert p({"action": "next", "fallback": False}) == Next("", "", None, False)


def test_typing_takes_a_boolean() -> None:
    assert p({"action": "typing", "typing": True}) == Typing(True)
    assert p({"action": "typing", "typing": False}) == Typing(False)
    for bad in ({}, {"typing": "yes"}, {"typing": 1}):
        with pytest.raises(InvalidField) as info:
            p({"action": "typing", **bad})
        assert "typing" in info.value.message
