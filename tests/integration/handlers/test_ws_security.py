"""Frames that lie about identity, oversized and malformed frames, hostile text."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pairchat.domain.protocol import MAX_FRAME_BYTES, encode
from pairchat.domain.service import ChatService
from pairchat.handlers import ws
from tests.conftest import RecordingNotifier
from tests.integration.lua.test_rate_limits import snapshot
from tests.support import load_event, pair

pytestmark = pytest.mark.integration


def two_rooms(service: ChatService, notifier: RecordingNotifier) -> dict[str, str]:
    """Attacker m in room R1 with n; victims v and w in room R2."""
    pair(service, "m", "n")
    pair(service, "v", "w")
    return {
        "attacker_room": notifier.last("m")["roomId"],
        "victim_room": notifier.last("v")["roomId"],
    }


@pytest.mark.parametrize(
    "body",
    [
        {"action": "send", "text": "psst"},
        {"action": "report", "reason": "x"},
        {"action": "block"},
        {"action": "heartbeat"},
        {"action": "next"},
        {"action": "leave"},
        {"action": "join", "gender": "male", "preference": "any"},
    ],
)
def test_forged_identity_fields_never_reach_another_room(
    service: ChatService, notifier: RecordingNotifier, body: dict[str, Any]
) -> None:
    rooms = two_rooms(service, notifier)
    forged = {
        **body,
        "userId": "u-v",
        "roomId": rooms["victim_room"],
        "partnerId": "u-w",
        "connectionId": "v",
        "reported": "u-w",
        "requestContext": {"connectionId": "v"},
    }
    victims_before = {c: list(notifier.frames[c]) for c in ("v", "w")}
    r, k = service.store.client, service.store.keys
    victim_room = r.hgetall(k.room(rooms["victim_room"]))
    ws.handle_message(load_event(body["action"], "m", forged), service)
    assert {c: notifier.frames[c] for c in ("v", "w")} == victims_before
    assert r.hgetall(k.room(rooms["victim_room"])) == victim_room
    assert r.smembers(k.blocks("u-v")) == set() and "u-w" not in r.smembers(k.blocks("u-m"))
    for _id, entry in r.xrange(k.reports()):
        assert entry["reporter"] == "u-m" and entry["reported"] == "u-n"
    if body["action"] == "send":
        assert notifier.last("n")["text"] == "psst"
        assert notifier.last("n")["roomId"] == rooms["attacker_room"]


def test_a_user_back_after_expiry_gets_nothing_of_its_old_room(
    service: ChatService, notifier: RecordingNotifier
) -> None:
    """A token user's session expired (no $disconnect); it comes back and chats elsewhere.
    The old partner's messages must not follow it into the new room."""
    pair(service, "a", "b", token=True)
    old_room = notifier.last("a")["roomId"]
    service.store.client.delete(service.store.keys.session("u-b"))
    service.connect("b2", "u-b", authenticated=True)
    service.connect("c", "u-c")
    service.join("b2", "female", "any")
    service.join("c", "male", "any")
    new_room = notifier.last("c")["roomId"]
    assert notifier.last("b2")["roomId"] == new_room != old_room
    seen = list(notifier.frames["b2"])
    service.send("a", "still there?")
    assert notifier.frames["b2"] == seen
    assert notifier.last("a")["type"] == "partner_left"
    service.send("c", "hi b")
    assert notifier.last("b2")["text"] == "hi b"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("x" * (MAX_FRAME_BYTES + 1), "too_large"),
        (json.dumps({"action": "send", "text": "y" * 5000}), "too_large"),
        (json.dumps({"action": "report", "reason": "z" * 501}), "too_large"),
        ("{", "invalid_json"),
        ("\x00\x01\x02", "invalid_json"),
        (
            '{"action": "send", "text": "a", "text": ' + "[" * 30_000 + "]" * 30_000 + "}",
            "invalid_json",
        ),
        (
            '{"action": "join", "gender": '
            + '{"a":' * 500
            + "1"
            + "}" * 500
            + ', "preference": "any"}',
            "invalid_field",
        ),
        ('{"action": {"nested": "join"}}', "unknown_action"),
        ('{"action": "send", "text": "\\ud800"}', "invalid_field"),
        ('{"action": "report", "reason": 12}', "invalid_field"),
        ("[]", "invalid_json"),
        ("null", "invalid_json"),
    ],
)
def test_bad_frames_get_an_error_and_change_nothing(
    service: ChatService, notifier: RecordingNotifier, body: str, code: str
) -> None:
    pair(service, "a", "b")
    before = snapshot(service)
    seen_b = list(notifier.frames["b"])
    response = ws.handle_message(load_event("send", "a", body), service)
    assert response["statusCode"] < 500
    assert notifier.last("a")["type"] == "error" and notifier.last("a")["code"] == code
    assert snapshot(service) == before
    assert notifier.frames["b"] == seen_b


HOSTILE = [
    "a\x00b",
    "line\u2028break\u2029",
    "\u202eevil.exe",
    "\ufeffbom",
    "\x1b[2J\x1b[31mred",
    "<script>alert(1)</script>",
    '"}, {"type": "matched", "roomId": "x"',
    "👩‍👩‍👧‍👦 ﷽ \U0001d54f \U0010fffd",
    "\\u0000 not an escape",
    "a\r\nb\tc",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_unicode_and_control_characters_are_relayed_exactly_and_safely(
    service: ChatService, notifier: RecordingNotifier, text: str
) -> None:
    pair(service, "a", "b")
    body = json.dumps({"action": "send", "text": text})
    assert ws.handle_message(load_event("send", "a", body), service) == {"statusCode": 200}
    received = notifier.last("b")
    assert received["type"] == "message" and received["text"] == text
    wire = encode(received)
    wire.decode("utf-8")  # valid UTF-8 on the wire
    assert not any(b < 0x20 for b in wire)  # control characters travel escaped
    assert json.loads(wire) == received  # one JSON object: no frame injection
