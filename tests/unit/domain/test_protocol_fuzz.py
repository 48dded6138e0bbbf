"""Fuzzing the frame parser: whatever arrives, parse returns a command or raises a
PairchatError with a code and a message; nothing else escapes, and what it returns can be
encoded into a server frame."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pairchat.domain.errors import PairchatError
from pairchat.domain.protocol import (
    ACTIONS,
    Block,
    Heartbeat,
    Join,
    Leave,
    Next,
    Report,
    Send,
    encode,
    parse,
)
from pairchat.domain.protocol import frame as server_frame

LIMIT = 64
#: Every code point, lone surrogates included (JSON can carry them as \\udXXX escapes).
any_char = st.characters(exclude_categories=())
texts = st.text(any_char, max_size=LIMIT + 8) | st.builds(
    lambda a, odd, b: a + odd + b,
    st.text(max_size=20),
    st.sampled_from(["\ud800", "\udfff", "\x00", "\u2028", "\u202e", "\ufeff", "\x1b[2J"]),
    st.text(max_size=20),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=80),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
FORGED = ("userId", "roomId", "partnerId", "connectionId", "reported", "reporter")
frames = st.fixed_dictionaries(
    {"action": st.sampled_from(ACTIONS) | st.text(max_size=40) | json_values},
    optional={
        "gender": st.sampled_from(["male", "female"]) | json_values,
        "preference": st.sampled_from(["male", "female", "any"]) | json_values,
        "text": texts | json_values,
        "reason": texts | json_values,
        **{name: json_values for name in FORGED},
    },
)


def check(body: str | bytes) -> None:
    try:
        command = parse(body, LIMIT, 32)
    except PairchatError as error:
        assert error.code and isinstance(error.message, str) and error.message
        return
    assert isinstance(command, Join | Next | Send | Leave | Heartbeat | Report | Block)
    # nothing the client said about identity survives parsing
    assert not any(hasattr(command, name) for name in FORGED)
    if isinstance(command, Send):
        assert 0 < len(command.text) <= LIMIT and command.text.strip()
        out = json.loads(encode(server_frame("message", roomId="r", text=command.text)))
        assert out["text"] == command.text
    if isinstance(command, Report):
        assert len(command.reason) <= 32
        encode(server_frame("reported", reason=command.reason))


@settings(max_examples=300, deadline=None)
@given(frames)
def test_structured_frames(data: dict[str, Any]) -> None:
    check(json.dumps(data))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ACTIONS), texts, st.dictionaries(st.sampled_from(FORGED), json_values))
def test_every_action_with_hostile_text(action: str, text: str, forged: dict[str, Any]) -> None:
    body = {**forged, "action": action, "text": text, "reason": text}
    check(json.dumps(body))
    check(json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass"))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300))
def test_arbitrary_bytes_and_text(body: bytes | str) -> None:
    check(body)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 200_000), st.sampled_from("[{"))
def test_deep_nesting(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    inner = (
        opener * depth + closer * depth if opener == "[" else '{"a":' * depth + "1" + "}" * depth
    )
    check('{"action": "send", "text": ' + inner + "}")
    check(inner)


def test_lone_surrogates_are_refused_not_crashed() -> None:
    for body in [
        '{"action": "send", "text": "\\ud800"}',
        '{"action": "report", "reason": "\\udfff"}',
    ]:
        check(body)
        try:
            parse(body, LIMIT)
        except PairchatError as error:
            assert error.code == "invalid_field"
        else:
            raise AssertionError("a lone surrogate was accepted")
