"""``signal`` frames (WebRTC signaling) and ``send``'s optional message id, as parsed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pairchat.domain.errors import InvalidField, InvalidJson, PairchatError, TooLarge
from pairchat.domain.protocol import (
    MAX_SIGNAL_BYTES,
    Send,
    Signal,
    encode,
    parse,
    parse_with_ref,
)


def body(**fields: Any) -> str:
    return json.dumps(fields)


def padded(size: int) -> dict[str, Any]:
    """A payload whose compact UTF-8 encoding is exactly ``size`` bytes."""
    data: dict[str, Any] = {"sdp": ""}
    data["sdp"] = "x" * (size - len(encode(data)))
    assert len(encode(data)) == size
    return data


def test_a_signal_carries_its_object_untouched() -> None:
    data = {"kind": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n", "n": [1, None, True]}
    assert parse(body(action="signal", data=data, roomId="chosen"), 4096) == Signal(data)


def test_the_size_bound_is_on_the_encoded_bytes() -> None:
    at_limit = padded(MAX_SIGNAL_BYTES)
    assert parse(body(action="signal", data=at_limit), 4096) == Signal(at_limit)
    with pytest.raises(TooLarge):
        parse(body(action="signal", data=padded(MAX_SIGNAL_BYTES + 1)), 4096)
    # Multi-byte characters count as the bytes they encode to, not as characters.
    wide = {"sdp": "é" * (MAX_SIGNAL_BYTES // 2)}
    assert len(json.dumps(wide)) < 4 * MAX_SIGNAL_BYTES
    with pytest.raises(TooLarge):
        parse(json.dumps({"action": "signal", "data": wide}, ensure_ascii=False), 4096)


@pytest.mark.parametrize("data", [None, "offer", 5, ["a"], True])
def test_data_must_be_an_object(data: Any) -> None:
    with pytest.raises(InvalidField):
        parse(body(action="signal", data=data), 4096)


def test_no_data_is_invalid_and_the_error_echoes_the_ref() -> None:
    with pytest.raises(PairchatError) as caught:
        parse_with_ref(body(action="signal", ref="s-1"), 4096)
    assert caught.value.code == "invalid_field" and caught.value.ref == "s-1"


def test_lone_surrogates_are_refused() -> None:
    with pytest.raises(InvalidField):
        parse('{"action":"signal","data":{"sdp":"\\ud800"}}', 4096)


def test_a_deep_payload_is_refused_not_crashed() -> None:
    deep = '{"action":"signal","data":' + '{"a":' * 5_000 + "1" + "}" * 5_001
    with pytest.raises(InvalidJson):
        parse(deep, 4096)


def test_send_passes_a_message_id_on() -> None:
    assert parse(body(action="send", text="hi", mid="m-1a2b"), 4096) == Send("hi", "m-1a2b")
    assert parse(body(action="send", text="hi"), 4096) == Send("hi", "")


@pytest.mark.parametrize("mid", ["", "m" * 65, 7, "a\nb", {"x": 1}])
def test_an_unusable_message_id_is_refused(mid: Any) -> None:
    with pytest.raises(InvalidField):
        parse(body(action="send", text="hi", mid=mid), 4096)
