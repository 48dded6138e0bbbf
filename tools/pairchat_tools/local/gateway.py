"""An API Gateway WebSocket API emulator, as one ASGI app.

Over 400 lines on purpose: the ASGI app's connection lifecycle is one piece; events,
the Management API, invokers, the authorizer and throttling live in sibling modules.

- ``/ws``: the WebSocket endpoint. Each connection gets an id in API Gateway's format; a
  ``$connect`` guarded by a REQUEST authorizer runs it first (``authorizer.py``), and its
  context rides on every later event of the connection; each
  frame is routed by the template's RouteSelectionExpression to the function template.yaml
  wires to that route, with an event shaped like API Gateway's (``events.py``) and a
  Lambda-like context (``lambda_runtime.py``). Handlers run through an ``invokers.Invoker``:
  worker processes (``workers.py``), or a thread pool of this process with ``workers=0``;
  either way concurrently, as Lambda runs invocations. One that raises costs the client
  API Gateway's ``Internal server error`` frame, nothing more.
- ``/@connections/{id}`` (also ``/{stage}/@connections/{id}``): the Management API
  (``management_api.py``), so the handlers' stock clients work with only their endpoint set.
- ``/_aws/dynamodb``: a DynamoDB-compatible endpoint for the report store (``dynamodb.py``),
  when the stack serves one.
- Anything else: the chat page, and the ops app under ``/ops`` when it is installed.

The hot paths (frames in, ``POST @connections`` out) are plain ASGI with no framework
routing: one dict lookup per post, one JSON parse per frame for route selection.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

from pairchat_tools.local import authorizer
from pairchat_tools.local.dynamodb import PATH as DYNAMODB_PATH
from pairchat_tools.local.dynamodb import DynamoDbEndpoint
from pairchat_tools.local.events import Connection, EventShaper, new_id, select_route
from pairchat_tools.local.guard import request_host
from pairchat_tools.local.invokers import Invoker, ThreadInvoker
from pairchat_tools.local.management_api import ManagementApi
from pairchat_tools.local.template_wiring import AUTHORIZER_ROUTE, Wiring
from pairchat_tools.local.throttle import MAX_PENDING_NOTICES, TOO_MANY_REQUESTS, ThrottleLimits
from pairchat_tools.local.workers import WorkerPool

log = logging.getLogger("pairchat_tools.local.gateway")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

STATIC_DIR = Path(__file__).resolve().parent / "static"
#: What API Gateway sends a client when the integration fails (spacing included).
_INTERNAL_ERROR = '{{"message": "Internal server error", "connectionId":"{}", "requestId":"{}"}}'
#: API Gateway's quota on a WebSocket URL's length, in characters (path and query here; a
#: request line over 8 KB never gets this far: ``ws_protocol.py`` answers it).
MAX_URL_CHARS = 4096
_FORBIDDEN = '{{"message": "Forbidden", "connectionId":"{}", "requestId":"{}"}}'


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
    #: The Host header values answered (``guard.py``: loopback names when bound to
    #: loopback); None answers any Host.
    allowed_hosts: frozenset[str] | None = None
    #: (access key id, secret) every Management API request must be SigV4-signed with;
    #: None checks no signature.
    management_credentials: tuple[str, str] | None = None
    #: Per-connection token bucket and in-flight cap (``throttle.py``).
    throttle: ThrottleLimits = field(default_factory=ThrottleLimits)
    #: The matching pools (``POOLS``), served as ``/pools.json`` for the chat page's select.
    pools: tuple[str, ...] = ()
    #: The report store's DynamoDB-compatible endpoint, served at ``/_aws/dynamodb``.
    dynamodb: DynamoDbEndpoint | None = None


def make_invoker(wiring: Wiring, options: GatewayOptions) -> Invoker:
    """Worker processes when ``options.workers`` > 0, else this process's thread pool."""
    if options.workers > 0:
        return WorkerPool(
            wiring, options.workers, options.concurrency, options.region, options.log_level
        )
    return ThreadInvoker(wiring, options.concurrency, options.region)


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
        self.stage = wiring.stage
        self.selection_path = wiring.selection_path
        self.routes = frozenset(wiring.routes)
        self.connections: dict[str, Connection] = {}
        self.events = EventShaper(wiring.stage)
        self.invoker = make_invoker(wiring, self.options)
        self.management = ManagementApi(
            self.connections, self.close_connection, self.options.management_credentials
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reaper: asyncio.Task[None] | None = None
        self._exit = AsyncExitStack()
        self._fallback = self._build_fallback()

    @property
    def api_id(self) -> str:
        return self.events.api_id

    # -- ASGI entry -------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        allowed = self.options.allowed_hosts
        if allowed is not None and kind != "lifespan" and request_host(scope) not in allowed:
            await self._wrong_host(kind, receive, send)
            return
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
                await self.management(scope, receive, send, path[i + 14 :])
                return
            dynamodb = self.options.dynamodb
            if dynamodb is not None and path.rstrip("/") == DYNAMODB_PATH:
                await dynamodb(scope, receive, send)
                return
            await self._fallback(scope, receive, send)
            return
        if kind == "lifespan":
            await self._lifespan(receive, send)

    async def _wrong_host(self, kind: str, receive: Receive, send: Send) -> None:
        """403 for a Host that is not this server's loopback name (DNS rebinding)."""
        body = b'{"message": "Forbidden: this server answers only its loopback host names"}'
        if kind == "websocket":
            await receive()  # websocket.connect
            prefix = "websocket.http.response"
        else:
            prefix = "http.response"
        headers = [(b"content-type", b"application/json")]
        await send({"type": f"{prefix}.start", "status": 403, "headers": headers})
        await send({"type": f"{prefix}.body", "body": body})

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
        ops = self.options.ops_app
        lifespan = getattr(getattr(ops, "router", None), "lifespan_context", None)
        if ops is not None and lifespan is not None:
            await self._exit.enter_async_context(lifespan(ops))
        self._reaper = asyncio.create_task(self._reap())
        await self.invoker.start()
        if self.on_ready is not None:
            self.on_ready()

    async def shutdown(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)
        await self._exit.aclose()
        await self.invoker.close()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- WebSocket --------------------------------------------------------------------------

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # websocket.connect
        if len(scope.get("raw_path") or b"") + 1 + len(scope["query_string"]) > MAX_URL_CHARS:
            await self._refuse(send, 414, {"body": '{"message": "URI Too Long"}'})
            return
        conn, event = self.events.connect(scope, send)
        status, result = await self._connect(conn, event)
        if not 200 <= status < 300:
            await self._refuse(send, status, result)
            return
        accept: dict[str, Any] = {"type": "websocket.accept"}
        protocol = _result_header(result, "Sec-WebSocket-Protocol")
        if protocol:
            accept["subprotocol"] = protocol
        await send(accept)
        self.options.throttle.start(conn, time.monotonic())
        self.connections[conn.id] = conn
        code, reason = 1005, ""
        try:
            while True:
                message = await receive()
                kind = message["type"]
                if kind == "websocket.receive":
                    conn.last_active_mono = now = time.monotonic()
                    if self.options.throttle.admit(conn, now):
                        self._frame(conn, message.get("text"), message.get("bytes"))
                    else:
                        self._throttled(conn)
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

    async def _connect(self, conn: Connection, event: dict[str, Any]) -> tuple[int, Any]:
        if "$connect" not in self.routes:
            return 200, None
        if self.wiring.authorizer is not None:
            decision = await self._authorize(event)
            if decision.status != 200:
                return decision.status, {"body": decision.body}
            conn.authorizer = decision.context
            event["requestContext"]["authorizer"] = dict(decision.context or {})
        ok, result = await self.invoker.call("$connect", event)
        if not ok:  # the invoker logged it
            return 500, None
        if result is None:
            return 200, None
        status = result.get("statusCode", 200) if isinstance(result, dict) else 500
        try:
            return int(status), result
        except (TypeError, ValueError):
            return 500, result

    async def _authorize(self, event: dict[str, Any]) -> authorizer.Decision:
        """The ``$connect`` authorizer, as API Gateway runs it (``authorizer.py``)."""
        spec = self.wiring.authorizer
        assert spec is not None
        if authorizer.identity_missing(spec, event):
            return authorizer.Decision(401, authorizer.UNAUTHORIZED)
        arn = authorizer.method_arn(self.options.region, self.api_id, self.stage)
        started = time.monotonic()
        ok, result = await self.invoker.call(AUTHORIZER_ROUTE, authorizer.request_event(event, arn))
        if not ok:  # the invoker logged it
            return authorizer.Decision(500, authorizer.INTERNAL)
        return authorizer.decide(result, arn, round((time.monotonic() - started) * 1000))

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

    def _frame(self, conn: Connection, text: str | None, data: bytes | None) -> None:
        """One admitted client frame: pick the route and hand the invocation to the invoker."""
        route = select_route(text, self.selection_path, self.routes)
        event = self.events.message(conn, route, text, data)
        rid = event["requestContext"]["requestId"]
        if route not in self.routes:  # no $default route either
            self.options.throttle.release(conn)
            self._spawn(self._post_text(conn, _FORBIDDEN.format(conn.id, rid)))
            return
        self.invoker.invoke(
            route, event, lambda ok, result: self._message_done(conn, route, rid, ok, result)
        )

    def _throttled(self, conn: Connection) -> None:
        """A frame over the connection's limits: API Gateway's answer, never an invocation."""
        if conn.notices >= MAX_PENDING_NOTICES:
            return  # the client is not reading: drop silently, keep memory bounded
        if conn.notices == 0 and not conn.throttled:
            log.warning("throttling connection %s (%s)", conn.id, self.options.throttle)
        conn.throttled = True
        conn.notices += 1
        self._spawn(self._post_notice(conn, TOO_MANY_REQUESTS.format(conn.id, new_id())))

    async def _post_notice(self, conn: Connection, text: str) -> None:
        try:
            await self._post_text(conn, text)
        finally:
            conn.notices -= 1

    def _message_done(self, conn: Connection, route: str, rid: str, ok: bool, result: Any) -> None:
        """An invocation's end, on the event loop: a failure or a two-way reply is posted."""
        self.options.throttle.release(conn)
        if not ok:  # the invoker logged the traceback
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
        # A failure is logged by the invoker; nobody is left to tell.
        await self.invoker.call("$disconnect", self.events.disconnect(conn, code, reason))

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

    # -- everything else --------------------------------------------------------------------

    def _build_fallback(self) -> ASGIApp:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse
        from starlette.routing import BaseRoute, Mount, Route
        from starlette.staticfiles import StaticFiles

        pools = list(self.options.pools)

        async def pool_list(request: Request) -> JSONResponse:
            """What the chat page offers: the first pool is where a client naming none goes."""
            return JSONResponse({"pools": pools})

        routes: list[BaseRoute] = [Route("/pools.json", pool_list)]
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


def _result_header(result: Any, name: str) -> str | None:
    if not isinstance(result, dict):
        return None
    headers = result.get("headers") or {}
    for key, value in headers.items():
        if key.lower() == name.lower():
            return str(value)
    return None
