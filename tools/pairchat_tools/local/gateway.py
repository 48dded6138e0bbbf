"""An API Gateway WebSocket API emulator, as one ASGI app.

- ``/ws``: the WebSocket endpoint. Each connection gets an id in API Gateway's format; each
  frame is routed by the template's RouteSelectionExpression to the function template.yaml
  wires to that route, with an event shaped like API Gateway's and a Lambda-like context.
  Handlers run in worker processes (``workers.py``), or in a thread pool of this process
  with ``workers=0``; either way concurrently, as Lambda runs invocations. One that raises
  costs the client API Gateway's ``Internal server error`` frame, nothing more.
- ``/@connections/{id}`` (also ``/{stage}/@connections/{id}``): the Management API, so the
  handlers' stock boto3 ``apigatewaymanagementapi`` client works with only its endpoint set.
- Anything else: the chat page, and the ops app under ``/ops`` when it is installed.

The hot paths (frames in, ``POST @connections`` out) are plain ASGI with no framework
routing: one dict lookup per post, one JSON parse per frame for route selection.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import random
import string
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pairchat.domain.protocol import MAX_FRAME_BYTES
from pairchat_tools.local.template_wiring import FunctionSpec, Wiring

if TYPE_CHECKING:
    from pairchat_tools.local.workers import WorkerPool

log = logging.getLogger("pairchat_tools.local.gateway")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Handler = Callable[[dict[str, Any], Any], Any]

STATIC_DIR = Path(__file__).resolve().parent / "static"
#: What API Gateway sends a client when the integration fails (spacing included).
_INTERNAL_ERROR = '{{"message": "Internal server error", "connectionId":"{}", "requestId":"{}"}}'
_FORBIDDEN = '{{"message": "Forbidden", "connectionId":"{}", "requestId":"{}"}}'
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


def _uuid() -> str:
    return str(uuid.UUID(int=_rng.getrandbits(128), version=4))


def _api_id() -> str:
    return "".join(_rng.choice(string.ascii_lowercase + string.digits) for _ in range(10))


def _header_name(raw: bytes) -> str:
    name = raw.decode("latin-1").lower()
    return _HEADER_CASE.get(name) or "-".join(p.capitalize() for p in name.split("-"))


def _request_time(epoch_s: float) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(epoch_s))


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True)
class GatewayOptions:
    #: API Gateway closes a connection idle this long (no frame from the client).
    idle_timeout_s: float = 600.0
    #: ... and any connection this old.
    max_lifetime_s: float = 7200.0
    #: Handler threads (in each worker process when ``workers`` > 0). Each invocation
    #: mostly waits on Redis and on a POST back to this process.
    concurrency: int = 16
    #: Worker processes that run the handlers; 0 runs them in this process's thread pool,
    #: where they share the event loop's GIL.
    workers: int = 0
    #: The workers' log level (they log handler failures).
    log_level: int = logging.INFO
    static_dir: Path = STATIC_DIR
    #: Mounted at ``/ops`` when given.
    ops_app: ASGIApp | None = None
    region: str = "us-east-1"


class LambdaContext:
    """What the Python Lambda runtime passes as ``context``."""

    __slots__ = (
        "_deadline",
        "aws_request_id",
        "client_context",
        "function_name",
        "function_version",
        "identity",
        "invoked_function_arn",
        "log_group_name",
        "log_stream_name",
        "memory_limit_in_mb",
    )

    def __init__(self, spec: FunctionSpec, region: str) -> None:
        name = f"pairchat-local-{spec.logical_id}"
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:000000000000:function:{name}"
        #: The runtime passes it as a string (from AWS_LAMBDA_FUNCTION_MEMORY_SIZE).
        self.memory_limit_in_mb = str(spec.memory_mb)
        self.aws_request_id = _uuid()
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + _uuid().replace("-", "")
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + spec.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class Connection:
    __slots__ = (
        "close_code",
        "close_reason",
        "closed",
        "connected_at",
        "connected_mono",
        "domain",
        "id",
        "last_active_mono",
        "send",
        "source_ip",
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


class Invoker:
    """Loads the handlers template.yaml names and runs them like Lambda would."""

    def __init__(self, wiring: Wiring, concurrency: int, region: str) -> None:
        self.wiring = wiring
        self.region = region
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="lambda")
        self.handlers: dict[str, tuple[FunctionSpec, Handler]] = {}
        for route, spec in wiring.routes.items():
            self.handlers[route] = (spec, self._load(spec))
        self._cold = {spec.module for spec, _ in self.handlers.values()}
        self._cold_lock = threading.Lock()

    @staticmethod
    def _load(spec: FunctionSpec) -> Handler:
        code = str(spec.code_uri)
        if code not in sys.path:
            sys.path.insert(0, code)
        handler: Handler = getattr(import_module(spec.module), spec.attribute)
        return handler

    def call(self, route: str, event: dict[str, Any]) -> Any:
        """One invocation, in a pool thread. The first one per module runs alone: a cold
        start builds the module's clients once, as in a fresh Lambda container."""
        spec, handler = self.handlers[route]
        context = LambdaContext(spec, self.region)
        started = time.monotonic()
        if spec.module in self._cold:
            with self._cold_lock:
                result = handler(event, context)
                self._cold.discard(spec.module)
        else:
            result = handler(event, context)
        elapsed = time.monotonic() - started
        if elapsed > spec.timeout_s:
            log.warning(
                "%s took %.1f s; Lambda would have stopped it at %.0f s",
                spec.logical_id,
                elapsed,
                spec.timeout_s,
            )
        return result

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=False)


class Gateway:
    """The ASGI app. Create it after the handlers' environment is in ``os.environ``."""

    def __init__(
        self,
        wiring: Wiring,
        options: GatewayOptions | None = None,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        self.wiring = wiring
        self.options = options or GatewayOptions()
        self.on_ready = on_ready
        self.api_id = _api_id()
        self.stage = wiring.stage
        self.selection_path = wiring.selection_path
        self.routes = frozenset(wiring.routes)
        self.connections: dict[str, Connection] = {}
        opts = self.options
        self.workers: WorkerPool | None = None
        self.invoker: Invoker | None = None
        if opts.workers > 0:
            from pairchat_tools.local.workers import WorkerPool

            self.workers = WorkerPool(
                wiring, opts.workers, opts.concurrency, opts.region, opts.log_level
            )
        else:
            self.invoker = Invoker(wiring, opts.concurrency, opts.region)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reaper: asyncio.Task[None] | None = None
        self._exit = AsyncExitStack()
        self._fallback = self._build_fallback()

    # -- ASGI entry -------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "websocket":
            if scope["path"] in ("/ws", "/ws/", f"/{self.stage}"):
                await self._websocket(scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        if kind == "http":
            path: str = scope["path"]
            i = path.find("/@connections/")
            if i == 0 or (i > 0 and path[1:i] == self.stage):
                await self._management(scope, receive, send, path[i + 14 :])
                return
            await self._fallback(scope, receive, send)
            return
        if kind == "lifespan":
            await self._lifespan(receive, send)

    # -- lifespan ---------------------------------------------------------------------------

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> None:
        self._loop = asyncio.get_running_loop()
        ops = self.options.ops_app
        lifespan = getattr(getattr(ops, "router", None), "lifespan_context", None)
        if ops is not None and lifespan is not None:
            await self._exit.enter_async_context(lifespan(ops))
        self._reaper = asyncio.create_task(self._reap())
        if self.workers is not None:
            await self.workers.start()
        if self.on_ready is not None:
            self.on_ready()

    async def shutdown(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)
        await self._exit.aclose()
        if self.workers is not None:
            await self.workers.close()
        if self.invoker is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.invoker.close)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- WebSocket --------------------------------------------------------------------------

    def _context(self, conn: Connection, route: str, event_type: str, now: float) -> dict[str, Any]:
        rid = new_id()
        return {
            "routeKey": route,
            "eventType": event_type,
            "extendedRequestId": rid,
            "requestTime": _request_time(now),
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

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # websocket.connect
        headers: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for raw_name, raw_value in scope.get("headers", []):
            name, value = _header_name(raw_name), raw_value.decode("latin-1")
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
        now = time.time()
        context = self._context(conn, "$connect", "CONNECT", now)
        event = {
            "headers": headers,
            "multiValueHeaders": multi,
            "queryStringParameters": query,
            "multiValueQueryStringParameters": multi_query,
            "requestContext": context,
            "isBase64Encoded": False,
        }
        status, result = await self._connect(event)
        if not 200 <= status < 300:
            await self._refuse(send, status, result)
            return
        accept: dict[str, Any] = {"type": "websocket.accept"}
        protocol = _result_header(result, "Sec-WebSocket-Protocol")
        if protocol:
            accept["subprotocol"] = protocol
        await send(accept)
        self.connections[conn.id] = conn
        code, reason = 1005, ""
        try:
            while True:
                message = await receive()
                kind = message["type"]
                if kind == "websocket.receive":
                    conn.last_active_mono = time.monotonic()
                    self._frame(conn, message.get("text"), message.get("bytes"))
                elif kind == "websocket.disconnect":
                    code = int(message.get("code") or 1005)
                    reason = str(message.get("reason") or "")
                    break
        finally:
            conn.closed = True
            self.connections.pop(conn.id, None)
            if conn.close_code is not None:
                code, reason = conn.close_code, conn.close_reason
            await self._disconnect(conn, code, reason)

    async def _connect(self, event: dict[str, Any]) -> tuple[int, Any]:
        if "$connect" not in self.routes:
            return 200, None
        if self.workers is not None:
            ok, result = await self.workers.call("$connect", event)
            if not ok:  # the worker logged it
                return 500, None
        else:
            assert self.invoker is not None
            try:
                result = await asyncio.get_running_loop().run_in_executor(
                    self.invoker.pool, self.invoker.call, "$connect", event
                )
            except Exception:
                log.exception("$connect handler raised (connection %s)", _cid(event))
                return 500, None
        if result is None:
            return 200, None
        status = result.get("statusCode", 200) if isinstance(result, dict) else 500
        try:
            return int(status), result
        except (TypeError, ValueError):
            return 500, result

    async def _refuse(self, send: Send, status: int, result: Any) -> None:
        try:
            HTTPStatus(status)
        except ValueError:  # uvicorn answers only standard statuses
            status = 500
        body = result.get("body") if isinstance(result, dict) else None
        payload = body.encode() if isinstance(body, str) else b""
        await send(
            {
                "type": "websocket.http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "websocket.http.response.body", "body": payload})

    def _route(self, text: str | None) -> str:
        if text is None:
            return "$default"
        try:
            value: Any = json.loads(text)
        except ValueError:
            return "$default"
        for part in self.selection_path:
            if not isinstance(value, dict):
                return "$default"
            value = value.get(part)
        if isinstance(value, str) and value in self.routes:
            return value
        return "$default"

    def _frame(self, conn: Connection, text: str | None, data: bytes | None) -> None:
        """One client frame: pick the route and hand the invocation to the pool."""
        route = self._route(text)
        now = time.time()
        context = self._context(conn, route, "MESSAGE", now)
        context["messageId"] = new_id()
        if text is not None:
            event = {"requestContext": context, "body": text, "isBase64Encoded": False}
        else:
            encoded = base64.b64encode(data or b"").decode()
            event = {"requestContext": context, "body": encoded, "isBase64Encoded": True}
        if route not in self.routes:  # no $default route either
            self._spawn(self._post_text(conn, _FORBIDDEN.format(conn.id, context["requestId"])))
            return
        if self.workers is not None:
            rid = context["requestId"]
            self.workers.invoke(
                route, event, lambda ok, result: self._message_done(conn, route, rid, ok, result)
            )
            return
        assert self.invoker is not None
        try:
            self.invoker.pool.submit(self._invoke_message, conn, route, event)
        except RuntimeError:  # the pool is shutting down with the server: drop the frame
            log.debug("frame from %s dropped at shutdown", conn.id)

    def _invoke_message(self, conn: Connection, route: str, event: dict[str, Any]) -> None:
        """Runs in a pool thread; only a failure or a two-way reply comes back to the loop."""
        loop = self._loop
        assert loop is not None and self.invoker is not None
        try:
            result = self.invoker.call(route, event)
        except Exception:
            rid = event["requestContext"]["requestId"]
            log.exception("%s handler raised (connection %s, request %s)", route, conn.id, rid)
            frame = _INTERNAL_ERROR.format(conn.id, rid)
            loop.call_soon_threadsafe(self._spawn, self._post_text(conn, frame))
            return
        if route in self.wiring.two_way and isinstance(result, dict):
            body = result.get("body")
            if isinstance(body, str):
                loop.call_soon_threadsafe(self._spawn, self._post_text(conn, body))

    def _message_done(self, conn: Connection, route: str, rid: str, ok: bool, result: Any) -> None:
        """A worker's reply, on the event loop: as ``_invoke_message`` ends in a thread."""
        if not ok:  # the worker logged the traceback
            self._spawn(self._post_text(conn, _INTERNAL_ERROR.format(conn.id, rid)))
        elif route in self.wiring.two_way and isinstance(result, dict):
            body = result.get("body")
            if isinstance(body, str):
                self._spawn(self._post_text(conn, body))

    async def _post_text(self, conn: Connection, text: str) -> None:
        if conn.closed:
            return
        try:
            await conn.send({"type": "websocket.send", "text": text})
        except Exception:  # the socket went away meanwhile
            conn.closed = True

    async def _disconnect(self, conn: Connection, code: int, reason: str) -> None:
        if "$disconnect" not in self.routes:
            return
        now = time.time()
        context = self._context(conn, "$disconnect", "DISCONNECT", now)
        context["disconnectStatusCode"] = code
        context["disconnectReason"] = reason
        event = {
            "headers": {"Host": conn.domain},
            "requestContext": context,
            "isBase64Encoded": False,
        }
        if self.workers is not None:
            await self.workers.call("$disconnect", event)  # a failure is logged by the worker
            return
        assert self.invoker is not None
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self.invoker.pool, self.invoker.call, "$disconnect", event)
        except Exception:
            log.exception("$disconnect handler raised (connection %s)", conn.id)

    async def close_connection(self, conn: Connection, code: int, reason: str) -> None:
        """Closes from the gateway side (DELETE, idle, lifetime); $disconnect follows."""
        if conn.closed:
            return
        conn.closed = True
        conn.close_code, conn.close_reason = code, reason
        try:
            await conn.send({"type": "websocket.close", "code": code, "reason": reason})
        except Exception:
            log.debug("close of %s failed: already gone", conn.id)

    async def _reap(self) -> None:
        """Enforces the idle timeout and the connection lifetime."""
        idle, lifetime = self.options.idle_timeout_s, self.options.max_lifetime_s
        tick = max(0.05, min(1.0, idle / 10, lifetime / 10))
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            for conn in list(self.connections.values()):
                too_old = now - conn.connected_mono >= lifetime
                if too_old or now - conn.last_active_mono >= idle:
                    await self.close_connection(conn, 1001, "Going away")

    # -- Management API ---------------------------------------------------------------------

    async def _management(self, scope: Scope, receive: Receive, send: Send, cid: str) -> None:
        method = scope["method"]
        conn = self.connections.get(cid)
        if method == "POST":
            body = await _read_body(receive)
            if conn is None or conn.closed:
                await _aws_error(send, 410, "GoneException")
                return
            if len(body) > MAX_FRAME_BYTES:
                await _aws_error(send, 413, "PayloadTooLargeException")
                return
            try:
                text = body.decode()
            except UnicodeDecodeError:
                message: Message = {"type": "websocket.send", "bytes": body}
            else:
                message = {"type": "websocket.send", "text": text}
            try:
                await conn.send(message)
            except Exception:
                conn.closed = True
                await _aws_error(send, 410, "GoneException")
                return
            await _respond(send, 200, b"")
        elif method == "GET":
            await _read_body(receive)
            if conn is None or conn.closed:
                await _aws_error(send, 410, "GoneException")
                return
            identity: dict[str, str] = {"sourceIp": conn.source_ip}
            if conn.user_agent is not None:
                identity["userAgent"] = conn.user_agent
            last_active = conn.connected_at + (conn.last_active_mono - conn.connected_mono)
            info = {
                "connectedAt": _iso(conn.connected_at),
                "identity": identity,
                "lastActiveAt": _iso(last_active),
            }
            await _respond(send, 200, json.dumps(info).encode(), b"application/json")
        elif method == "DELETE":
            await _read_body(receive)
            if conn is None or conn.closed:
                await _aws_error(send, 410, "GoneException")
                return
            await self.close_connection(conn, 1000, "")
            await _respond(send, 204, b"")
        else:
            await _read_body(receive)
            await _aws_error(send, 403, "ForbiddenException", "Forbidden")

    # -- everything else --------------------------------------------------------------------

    def _build_fallback(self) -> ASGIApp:
        from starlette.applications import Starlette
        from starlette.routing import BaseRoute, Mount
        from starlette.staticfiles import StaticFiles

        routes: list[BaseRoute] = []
        if self.options.ops_app is not None:
            routes.append(Mount("/ops", app=self.options.ops_app))
        routes.append(Mount("/", app=StaticFiles(directory=self.options.static_dir, html=True)))
        app = Starlette(routes=routes)

        async def no_cache(scope: Scope, receive: Receive, send: Send) -> None:
            async def send_with_header(message: Message) -> None:
                if message["type"] == "http.response.start" and not scope["path"].startswith(
                    "/ops"
                ):
                    message["headers"] = [
                        *message.get("headers", []),
                        (b"cache-control", b"no-cache"),
                    ]
                await send(message)

            await app(scope, receive, send_with_header)

        return no_cache


def _cid(event: dict[str, Any]) -> str:
    return str(event["requestContext"]["connectionId"])


def _result_header(result: Any, name: str) -> str | None:
    if not isinstance(result, dict):
        return None
    headers = result.get("headers") or {}
    for key, value in headers.items():
        if key.lower() == name.lower():
            return str(value)
    return None


def _query(raw: bytes) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    if not raw:
        return None, None
    from urllib.parse import parse_qsl

    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        single[key] = value
        multi.setdefault(key, []).append(value)
    return single, multi


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes = b"application/json",
    extra: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"x-amzn-requestid", _uuid().encode()),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _aws_error(send: Send, status: int, code: str, message: str | None = None) -> None:
    """An error as AWS REST-JSON services send it; boto3 raises ``client.exceptions.<code>``."""
    body = json.dumps({"message": message}).encode()
    await _respond(send, status, body, extra=[(b"x-amzn-errortype", code.encode())])
