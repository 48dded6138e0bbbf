"""How the gateway runs a handler: one interface, two implementations.

- :class:`ThreadInvoker` runs handlers in a thread pool of the gateway process
  (``pairchat dev --workers 0``: one GIL for sockets and handlers; attach a debugger here).
- ``workers.WorkerPool`` runs them in spawned worker processes, as Lambda runs containers
  (the default).

The gateway only sees :class:`Invoker`: it awaits ``call`` where API Gateway waits for the
integration ($connect, $disconnect) and fires ``invoke`` for frames, whose reply comes back
on the event loop. A handler that raises is logged where it ran and reported as
``ok=False``; the gateway turns that into API Gateway's answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from pairchat_tools.local.lambda_runtime import HandlerHost
from pairchat_tools.local.template_wiring import Wiring

log = logging.getLogger("pairchat_tools.local.invokers")

#: ``(ok, result)``, run on the event loop: ok is False when the handler raised (or its
#: result could not cross to the gateway).
Reply = Callable[[bool, Any], None]


class Invoker(Protocol):
    async def start(self) -> None:
        """Ready to serve: every handler module imported (cold starts done or under way)."""

    def invoke(self, route: str, event: dict[str, Any], reply: Reply) -> None:
        """Starts one invocation; ``reply`` runs on the event loop when it ends."""

    async def call(self, route: str, event: dict[str, Any]) -> tuple[bool, Any]:
        """One invocation, awaited."""

    async def close(self) -> None:
        """Waits for the invocations under way, then releases threads or processes."""


def log_failure(route: str, event: dict[str, Any]) -> None:
    """Logs the exception being handled, with the ids that find the request."""
    context = event.get("requestContext") or {}
    log.exception(
        "%s handler raised (connection %s, request %s)",
        route,
        context.get("connectionId"),
        context.get("requestId"),
    )


class ThreadInvoker:
    """Handlers in a thread pool of this process."""

    def __init__(self, wiring: Wiring, threads: int, region: str) -> None:
        self.host = HandlerHost(wiring, region)
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="lambda")
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    def _run(self, route: str, event: dict[str, Any]) -> tuple[bool, Any]:
        try:
            return True, self.host.call(route, event)
        except Exception:
            log_failure(route, event)
            return False, None

    def _run_and_reply(self, route: str, event: dict[str, Any], reply: Reply) -> None:
        ok, result = self._run(route, event)
        loop = self._loop
        assert loop is not None
        with contextlib.suppress(RuntimeError):  # the loop closed with the server
            loop.call_soon_threadsafe(reply, ok, result)

    def invoke(self, route: str, event: dict[str, Any], reply: Reply) -> None:
        try:
            self.pool.submit(self._run_and_reply, route, event, reply)
        except RuntimeError:  # the pool is shutting down with the server: drop the frame
            log.debug("%s invocation dropped at shutdown", route)

    async def call(self, route: str, event: dict[str, Any]) -> tuple[bool, Any]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, self._run, route, event)

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.pool.shutdown, True)
