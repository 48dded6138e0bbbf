"""Event shaping: what API Gateway hands a WebSocket integration, built from a socket.

``infra/events/`` holds one real-shaped event per route, and
``tests/e2e/test_gateway_contract.py`` compares these with them field by field. Route
selection lives here too: it reads the frame exactly as API Gateway does before anything is
invoked.
"""

from __future__ import annotations

import base64
import json
import os
import random
import string
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

Scope = MutableMapping[str, Any]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

#: Header names API Gateway passes with their usual capitalisation.
_HEADER_CASE = {
    "sec-websocket-key": "Sec-WebSocket-Key",
    "sec-websocket-version": "Sec-WebSocket-Version",
    "sec-websocket-extensions": "Sec-WebSocket-Extensions",
    "sec-websocket-protocol": "Sec-WebSocket-Protocol",
}

#: Ids come from a PRNG seeded once from the OS: ``os.urandom`` drops the GIL on every call,
#: and the event loop then queues behind handler threads to get it back (measured: ~0.2 ms
#: per id under load). Local ids need to be unique, not unguessable.
_rng = random.Random(os.urandom(32))


def new_id() -> str:
    """An id shaped like API Gateway's connection and request ids (``L0SM9cOFvHcCIhw=``):
    base64 of 11 random bytes, with ``+`` and ``/`` swapped for letters so that an id
    needs no escaping in a URL path."""
    return base64.b64encode(_rng.getrandbits(88).to_bytes(11, "big"), altchars=b"Xq").decode()


def new_api_id() -> str:
    return "".join(_rng.choice(string.ascii_lowercase + string.digits) for _ in range(10))


def header_name(raw: bytes) -> str:
    name = raw.decode("latin-1").lower()
    return _HEADER_CASE.get(name) or "-".join(p.capitalize() for p in name.split("-"))


def request_time(epoch_s: float) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(epoch_s))


def iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Connection:
    """One accepted socket, as the gateway and the Management API see it."""

    __slots__ = (
        "authorizer",
        "close_code",
        "close_reason",
        "closed",
        "connected_at",
        "connected_mono",
        "domain",
        "id",
        "in_flight",
        "last_active_mono",
        "notices",
        "send",
        "source_ip",
        "throttled",
        "tokens",
        "tokens_mono",
        "user_agent",
    )

    def __init__(self, cid: str, send: Send, source_ip: str, user_agent: str | None) -> None:
        self.id = cid
        self.send = send
        self.source_ip = source_ip
        self.user_agent = user_agent
        self.connected_at = time.time()
        self.connected_mono = self.last_active_mono = time.monotonic()
        self.closed = False
        #: Set when the gateway closes the socket, so $disconnect reports why.
        self.close_code: int | None = None
        self.close_reason = ""
        #: The Host the client connected to; API Gateway's ``domainName``.
        self.domain = "localhost"
        #: Throttling (``throttle.py``): invocations under way, the token bucket, and
        #: throttle notices not yet written to the socket.
        self.in_flight = 0
        self.tokens = 0.0
        self.tokens_mono = self.connected_mono
        self.notices = 0
        self.throttled = False
        #: What the ``$connect`` authorizer allowed it with: every event carries it as
        #: ``requestContext.authorizer`` (None: no authorizer on this API).
        self.authorizer: dict[str, Any] | None = None


def _query(raw: bytes) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    if not raw:
        return None, None
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        single[key] = value
        multi.setdefault(key, []).append(value)
    return single, multi


class EventShaper:
    """Builds the events of one API (its id and stage) for its connections."""

    def __init__(self, stage: str, api_id: str | None = None) -> None:
        self.stage = stage
        self.api_id = api_id or new_api_id()

    def context(self, conn: Connection, route: str, event_type: str, now: float) -> dict[str, Any]:
        rid = new_id()
        context = {
            "routeKey": route,
            "eventType": event_type,
            "extendedRequestId": rid,
            "requestTime": request_time(now),
            "messageDirection": "IN",
            "stage": self.stage,
            "connectedAt": int(conn.connected_at * 1000),
            "requestTimeEpoch": int(now * 1000),
            # As in API Gateway's events: the user agent only on CONNECT.
            "identity": {"sourceIp": conn.source_ip}
            if conn.user_agent is None or event_type != "CONNECT"
            else {"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
            "requestId": rid,
            "domainName": conn.domain,
            "connectionId": conn.id,
            "apiId": self.api_id,
        }
        if conn.authorizer is not None:
            context["authorizer"] = dict(conn.authorizer)
        return context

    def connect(self, scope: Scope, send: Send) -> tuple[Connection, dict[str, Any]]:
        """A new connection for an upgrade request, and its ``$connect`` event."""
        headers: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for raw_name, raw_value in scope.get("headers", []):
            name, value = header_name(raw_name), raw_value.decode("latin-1")
            headers[name] = value if name not in headers else f"{headers[name]},{value}"
            multi.setdefault(name, []).append(value)
        client = scope.get("client") or ("127.0.0.1", 0)
        conn = Connection(new_id(), send, str(client[0]), headers.get("User-Agent"))
        conn.domain = headers.get("Host", "localhost")
        server_port = (scope.get("server") or ("", 0))[1]
        headers.setdefault("X-Forwarded-For", conn.source_ip)
        headers.setdefault("X-Forwarded-Port", str(server_port))
        headers.setdefault("X-Forwarded-Proto", "https" if scope.get("scheme") == "wss" else "http")
        query, multi_query = _query(scope.get("query_string", b""))
        event = {
            "headers": headers,
            "multiValueHeaders": multi,
            "queryStringParameters": query,
            "multiValueQueryStringParameters": multi_query,
            "requestContext": self.context(conn, "$connect", "CONNECT", time.time()),
            "isBase64Encoded": False,
        }
        return conn, event

    def message(
        self, conn: Connection, route: str, text: str | None, data: bytes | None
    ) -> dict[str, Any]:
        context = self.context(conn, route, "MESSAGE", time.time())
        context["messageId"] = new_id()
        if text is not None:
            return {"requestContext": context, "body": text, "isBase64Encoded": False}
        encoded = base64.b64encode(data or b"").decode()
        return {"requestContext": context, "body": encoded, "isBase64Encoded": True}

    def disconnect(self, conn: Connection, code: int, reason: str) -> dict[str, Any]:
        context = self.context(conn, "$disconnect", "DISCONNECT", time.time())
        context["disconnectStatusCode"] = code
        context["disconnectReason"] = reason
        headers = {"Host": conn.domain}
        return {"headers": headers, "requestContext": context, "isBase64Encoded": False}


def select_route(text: str | None, path: tuple[str, ...], routes: frozenset[str]) -> str:
    """``$request.body.<path>`` route selection: the frame's value at ``path`` when it names
    a route, else ``$default`` (binary frames, non-JSON, a missing or non-string value), as
    API Gateway does. JSON nested past Python's recursion limit is not JSON the emulator can
    read: ``$default`` too, where the handler answers ``invalid_json`` (docs/protocol.md)."""
    if text is None:
        return "$default"
    try:
        value: Any = json.loads(text)
    except (ValueError, RecursionError):
        return "$default"
    for part in path:
        if not isinstance(value, dict):
            return "$default"
        value = value.get(part)
    if isinstance(value, str) and value in routes:
        return value
    return "$default"
