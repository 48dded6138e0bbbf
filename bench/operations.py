"""The operations the benchmarks measure, driven through the real WebSocket handlers.

bench/servertime.py (Redis server time) and bench/handlertime.py (the Lambda side) run the
same operations: each prepares its own state untimed (connections, queued users, rooms) and
returns the n calls to time. Every connection gets its own source IP, so per-IP limits, where
they exist, see many people, as they would; :func:`check_posts` checks that a batch posted
exactly the frames its operation should, so a changed script or protocol makes the
benchmarks fail loudly rather than measure something else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from bench.common import event
from pairchat.adapters.connection import source_key
from pairchat.domain.service import ChatService
from pairchat.handlers.ws import handle_connect, handle_disconnect, handle_message

WAITER = {"action": "join", "gender": "male", "preference": "female"}
JOINER = {"action": "join", "gender": "female", "preference": "any"}

Thunk = Callable[[], Any]


class Driver:
    """Sends events through the real handlers; every connection gets its own source IP (so
    per-IP limits see many people, as they would), and every later event of a connection
    carries the context its ``$connect`` got (user id, address), as API Gateway passes it."""

    def __init__(self, service: ChatService) -> None:
        self.service = service
        self._ips = 0
        self._context: dict[str, dict[str, Any]] = {}

    def connect_event(self, cid: str) -> dict[str, Any]:
        ev = event("connect", cid)
        self._ips += 1
        ip = f"10.{self._ips >> 16 & 255}.{self._ips >> 8 & 255}.{self._ips & 255}"
        ev["requestContext"].setdefault("identity", {})["sourceIp"] = ip
        if isinstance(ev.get("headers"), dict):
            ev["headers"]["X-Forwarded-For"] = ip
        context = ev["requestContext"]["authorizer"]
        context["source"] = source_key(ip)
        self._context[cid] = dict(context)
        return ev

    def later_event(self, route: str, cid: str, body: Any = None) -> dict[str, Any]:
        ev = event(route, cid, body)
        if cid in self._context:
            ev["requestContext"]["authorizer"] = dict(self._context[cid])
        return ev

    def connect(self, cids: list[str]) -> None:
        for cid in cids:
            status = handle_connect(self.connect_event(cid), self.service).get("statusCode")
            if status != 200:
                raise AssertionError(f"connect refused with {status}")

    def frame(self, cid: str, body: dict[str, Any]) -> Thunk:
        return partial(handle_message, self.later_event(body["action"], cid, body), self.service)

    def run(self, thunks: list[Thunk]) -> None:
        for t in thunks:
            t()

    def rooms(self, tag: str, n: int) -> list[tuple[str, str]]:
        """n fresh rooms: (waiter, joiner) connection ids."""
        waiters = [f"{tag}w{i}" for i in range(n)]
        joiners = [f"{tag}j{i}" for i in range(n)]
        self.connect(waiters + joiners)
        self.run([self.frame(c, WAITER) for c in waiters])
        self.run([self.frame(c, JOINER) for c in joiners])
        return list(zip(waiters, joiners, strict=True))


@dataclass(frozen=True)
class Op:
    key: str
    label: str
    #: (driver, tag, n) -> the n timed calls; the untimed setup happens inside.
    prepare: Callable[[Driver, str, int], list[Thunk]]
    #: Frames one operation posts, by type (checked).
    posts: dict[str, int]
    #: API Gateway messages received per operation ($connect/$disconnect: none).
    inbound: int = 1


def _connects(d: Driver, tag: str, n: int) -> list[Thunk]:
    return [partial(handle_connect, d.connect_event(f"{tag}c{i}"), d.service) for i in range(n)]


def _join_queue(d: Driver, tag: str, n: int) -> list[Thunk]:
    cids = [f"{tag}q{i}" for i in range(n)]
    d.connect(cids)
    return [d.frame(c, WAITER) for c in cids]


def _join_match(d: Driver, tag: str, n: int) -> list[Thunk]:
    waiters = [f"{tag}w{i}" for i in range(n)]
    joiners = [f"{tag}j{i}" for i in range(n)]
    d.connect(waiters + joiners)
    d.run([d.frame(c, WAITER) for c in waiters])
    return [d.frame(c, JOINER) for c in joiners]


def _in_room(body: dict[str, Any]) -> Callable[[Driver, str, int], list[Thunk]]:
    def prepare(d: Driver, tag: str, n: int) -> list[Thunk]:
        return [d.frame(j, body) for _w, j in d.rooms(tag, n)]

    return prepare


def _in_room_after(body: dict[str, Any]) -> Callable[[Driver, str, int], list[Thunk]]:
    """Like _in_room, after one untimed frame of the same kind by the same user in each room:
    the steady state of a conversation, where the session, the connection key and the room
    were renewed seconds ago and the rate window is open (issue 15: they are renewed once a
    quarter of their TTL, not on every frame)."""

    def prepare(d: Driver, tag: str, n: int) -> list[Thunk]:
        joiners = [j for _w, j in d.rooms(tag, n)]
        d.run([d.frame(j, body) for j in joiners])
        return [d.frame(j, body) for j in joiners]

    return prepare


def _in_room_renewal_due(body: dict[str, Any]) -> Callable[[Driver, str, int], list[Thunk]]:
    """Like _in_room_after, with each sender's session last renewed 20 s ago (its `t` set
    back, untimed): a frame that renews the session, as at most one frame per quarter of the
    session TTL does (every 15 s at the default 60 s)."""

    def prepare(d: Driver, tag: str, n: int) -> list[Thunk]:
        joiners = [j for _w, j in d.rooms(tag, n)]
        d.run([d.frame(j, body) for j in joiners])
        r, keys = d.service.store.client, d.service.store.keys
        sec, _micro = r.time()
        for j in joiners:
            r.hset(keys.session(str(r.get(keys.connection(j)))), "t", (int(sec) - 20) * 1000)
        return [d.frame(j, body) for j in joiners]

    return prepare


def _heartbeat_queued(d: Driver, tag: str, n: int) -> list[Thunk]:
    cids = [f"{tag}q{i}" for i in range(n)]
    d.connect(cids)
    d.run([d.frame(c, WAITER) for c in cids])  # nobody compatible: the retry finds nothing
    return [d.frame(c, {"action": "heartbeat"}) for c in cids]


def _disconnect_idle(d: Driver, tag: str, n: int) -> list[Thunk]:
    cids = [f"{tag}i{i}" for i in range(n)]
    d.connect(cids)
    return [partial(handle_disconnect, d.later_event("disconnect", c), d.service) for c in cids]


def _disconnect_room(d: Driver, tag: str, n: int) -> list[Thunk]:
    return [
        partial(handle_disconnect, d.later_event("disconnect", j), d.service)
        for _w, j in d.rooms(tag, n)
    ]


SEND = {"action": "send", "text": "hello there"}
HEARTBEAT = {"action": "heartbeat"}
#: A direct chat's signaling frame as the chat page sends it: an SDP offer carrying its ICE
#: candidates (about the size tests/e2e/test_chat_page_rtc.py measures, ~0.8 to 1 KB).
SIGNAL = {
    "action": "signal",
    "data": {
        "kind": "description",
        "description": {
            "type": "offer",
            "sdp": "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
            "a=group:BUNDLE 0\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS\r\n"
            "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n"
            "a=candidate:4025437503 1 udp 2113937151 7b4a30fb-8f0a-4411-9650-44e6493ed8eb.local "
            "47993 typ host generation 0 network-cost 999\r\n"
            "a=candidate:3902611855 1 udp 2113942271 02e113e7-a729-49da-a531-51aaeb4bc1ec.local "
            "53054 typ host generation 0 network-cost 999\r\n"
            "a=ice-ufrag:Qh5v\r\na=ice-pwd:7Xh0oX1yPq2s9d8fG3jK4lM5\r\na=ice-options:trickle\r\n"
            "a=fingerprint:sha-256 3B:5C:1A:9F:22:7D:E4:0B:88:61:C3:5A:19:F2:DE:47:A0:6B:93:"
            "1C:55:E8:07:BD:42:6F:91:3A:C8:2E:74:D0\r\na=setup:actpass\r\na=mid:0\r\n"
            "a=sctp-port:5000\r\na=max-message-size:262144\r\n",
        },
    },
}

OPS: tuple[Op, ...] = (
    Op("connect", "connect", _connects, {}, inbound=0),
    Op("join_queue", "join that queues", _join_queue, {"queued": 1}),
    Op("join_match", "join that matches", _join_match, {"matched": 2}),
    Op("send", "relayed message", _in_room_after(SEND), {"message": 1}),
    Op("send_renew", "relayed message, renewal due", _in_room_renewal_due(SEND), {"message": 1}),
    Op("heartbeat_room", "heartbeat in a room", _in_room(HEARTBEAT), {"pong": 1}),
    Op("heartbeat_queued", "heartbeat while queued (idle)", _heartbeat_queued, {"pong": 1}),
    Op("leave", "leave a room", _in_room({"action": "leave"}), {"partner_left": 1, "left": 1}),
    Op("disconnect_idle", "disconnect (idle)", _disconnect_idle, {}, inbound=0),
    Op("disconnect_room", "disconnect (in a room)", _disconnect_room, {"partner_left": 1}, 0),
    Op("report", "report", _in_room({"action": "report", "reason": "spam"}), {"reported": 1}),
    Op("block", "block", _in_room({"action": "block"}), {"partner_left": 1, "blocked": 1}),
    Op("signal", "signaling frame (direct chat)", _in_room(SIGNAL), {"signal": 1}),
)


def check_posts(op: Op, n: int, before: dict[str, int], notifier: Any) -> int:
    """Checks the frames the batch posted (``notifier.types``: counts by frame type)."""
    delta = {k: v - before.get(k, 0) for k, v in notifier.types.items() if v != before.get(k, 0)}
    want = {k: v * n for k, v in op.posts.items()}
    if delta != want:
        raise AssertionError(f"{op.label}: expected frames {want} for {n} operations, got {delta}")
    return sum(delta.values())
