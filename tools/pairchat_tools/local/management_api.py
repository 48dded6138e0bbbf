"""The API Gateway Management API, emulated: ``POST``/``GET``/``DELETE @connections/{id}``.

The handlers' stock clients (the signed HTTP notifier, boto3's ``apigatewaymanagementapi``)
work against it with only their endpoint changed. Answers are AWS's: an unknown or closed
connection is ``410 GoneException``, a payload over 128 KB ``413 PayloadTooLargeException``,
another method ``403 ForbiddenException``; boto3 raises ``client.exceptions.<code>``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import Any

from pairchat.domain.protocol import MAX_FRAME_BYTES
from pairchat_tools.local.events import Connection, iso
from pairchat_tools.local.guard import sigv4_valid
from pairchat_tools.local.lambda_runtime import new_uuid

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
#: Closes a connection from the gateway side (code, reason); $disconnect follows.
Closer = Callable[[Connection, int, str], Awaitable[None]]


async def read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes = b"application/json",
    extra: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"x-amzn-requestid", new_uuid().encode()),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def aws_error(send: Send, status: int, code: str, message: str | None = None) -> None:
    """An error as AWS REST-JSON services send it; boto3 raises ``client.exceptions.<code>``."""
    body = json.dumps({"message": message}).encode()
    await respond(send, status, body, extra=[(b"x-amzn-errortype", code.encode())])


class ManagementApi:
    """``@connections/{id}`` over the gateway's live connections."""

    def __init__(
        self,
        connections: Mapping[str, Connection],
        close: Closer,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.connections = connections
        self.close = close
        #: (access key id, secret) every request must be SigV4-signed with (``guard.py``);
        #: None when bound to loopback, where only this machine can reach the port.
        self.credentials = credentials
        self._methods = {"POST": self._post, "GET": self._get, "DELETE": self._delete}

    async def __call__(self, scope: Scope, receive: Receive, send: Send, cid: str) -> None:
        body = await read_body(receive)
        method = self._methods.get(scope["method"])
        if self.credentials is not None and not sigv4_valid(scope, body, *self.credentials):
            await aws_error(send, 403, "ForbiddenException", "Forbidden")
            return
        if method is None:
            await aws_error(send, 403, "ForbiddenException", "Forbidden")
            return
        conn = self.connections.get(cid)
        if conn is None or conn.closed:
            await aws_error(send, 410, "GoneException")
            return
        await method(conn, body, send)

    async def _post(self, conn: Connection, body: bytes, send: Send) -> None:
        if len(body) > MAX_FRAME_BYTES:
            await aws_error(send, 413, "PayloadTooLargeException")
            return
        try:
            message: Message = {"type": "websocket.send", "text": body.decode()}
        except UnicodeDecodeError:
            message = {"type": "websocket.send", "bytes": body}
        try:
            await conn.send(message)
        except Exception:  # the socket went away meanwhile
            conn.closed = True
            await aws_error(send, 410, "GoneException")
            return
        await respond(send, 200, b"")

    async def _get(self, conn: Connection, body: bytes, send: Send) -> None:
        identity: dict[str, str] = {"sourceIp": conn.source_ip}
        if conn.user_agent is not None:
            identity["userAgent"] = conn.user_agent
        last_active = conn.connected_at + (conn.last_active_mono - conn.connected_mono)
        info = {
            "connectedAt": iso(conn.connected_at),
            "identity": identity,
            "lastActiveAt": iso(last_active),
        }
        await respond(send, 200, json.dumps(info).encode(), b"application/json")

    async def _delete(self, conn: Connection, body: bytes, send: Send) -> None:
        await self.close(conn, 1000, "")
        await respond(send, 204, b"")
