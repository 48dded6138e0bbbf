"""Handler invocations in worker processes, as Lambda runs them in containers.

One Python process cannot be both a busy WebSocket server and a pool of busy handler threads:
they share one GIL, and under load the event loop (which also serves the Management API the
handlers post to) spends its time waiting to get it back. So with ``pairchat dev --workers N``
the gateway process only does socket I/O and the Management API, and N worker processes
started with ``spawn`` (never a fork of a threaded process) each import the handlers once, their
cold start, and serve invocations in a few threads. Events and results cross a socket pair as
length-prefixed JSON, which Lambda's own contract already requires them to be.

A worker dies with the gateway: the gateway closes the pipes and joins the workers at
shutdown, a worker exits on EOF (the gateway is gone), and on Linux the kernel sends it
SIGTERM when the gateway dies (``PR_SET_PDEATHSIG``). Ctrl-C in a terminal reaches the whole
process group; workers ignore it and let the gateway shut down in order ($disconnect first).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import json
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.process import BaseProcess
from typing import Any, cast

from pairchat_tools.local.invokers import Reply, log_failure
from pairchat_tools.local.lambda_runtime import HandlerHost
from pairchat_tools.local.template_wiring import Wiring

log = logging.getLogger("pairchat_tools.local.workers")

_READY = -1
_HEADER = 4


def _frame(payload: Any) -> bytes:
    data = json.dumps(payload, separators=(",", ":")).encode()
    return len(data).to_bytes(_HEADER, "big") + data


class _Link(asyncio.Protocol):
    """The gateway's end of one worker's socket pair: requests out, replies in."""

    def __init__(self, pool: WorkerPool, proc: BaseProcess, sock: socket.socket) -> None:
        self.pool = pool
        self.proc = proc
        self.sock = sock
        self.pending: dict[int, Reply] = {}
        self.ready: asyncio.Future[None] | None = None
        self.transport: asyncio.Transport | None = None
        #: Its handlers are imported: a replacement takes invocations only from then on.
        self.is_ready = False
        self._buf = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        while len(buf) >= _HEADER:
            size = int.from_bytes(buf[:_HEADER], "big")
            if len(buf) < _HEADER + size:
                break
            rid, ok, result = json.loads(buf[_HEADER : _HEADER + size])
            del buf[: _HEADER + size]
            if rid == _READY:
                self.is_ready = True
                if self.ready is not None and not self.ready.done():
                    self.ready.set_result(None)
                continue
            reply = self.pending.pop(rid, None)
            if reply is not None:
                reply(ok, result)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.is_ready = False
        if self.ready is not None and not self.ready.done():
            self.ready.set_exception(RuntimeError(f"worker {self.proc.name} exited at start"))
        pending, self.pending = self.pending, {}
        for reply in pending.values():
            reply(False, None)
        self.pool._lost(self)


class WorkerPool:
    """N worker processes, each serving invocations of every function in the wiring
    (an ``invokers.Invoker``)."""

    def __init__(
        self, wiring: Wiring, workers: int, threads: int, region: str, log_level: int
    ) -> None:
        self._ctx = multiprocessing.get_context("spawn")
        self._args = (wiring, threads, region, log_level)
        self._ids = itertools.count()
        self._closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        # Started now, before the gateway imports its server: cold starts overlap with that.
        self.links = [self._spawn(i) for i in range(workers)]

    def _spawn(self, index: int) -> _Link:
        ours, theirs = socket.socketpair()
        proc = self._ctx.Process(
            target=worker_main,
            args=(theirs, *self._args),
            name=f"pairchat-lambda-{index}",
            daemon=True,
        )
        proc.start()
        theirs.close()
        return _Link(self, proc, ours)

    async def _attach(self, link: _Link) -> None:
        loop = asyncio.get_running_loop()
        link.ready = loop.create_future()
        await loop.create_unix_connection(lambda: link, sock=link.sock)
        await link.ready

    async def start(self, timeout_s: float = 60.0) -> None:
        """Waits until every worker has imported the handlers."""
        self._loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout_s):
            await asyncio.gather(*(self._attach(link) for link in self.links))

    def invoke(self, route: str, event: dict[str, Any], reply: Reply) -> None:
        """Sends one invocation to the least busy worker; ``reply`` runs on the event loop."""
        live = [link for link in self.links if link.is_ready and link.transport is not None]
        if not live:  # every worker is being replaced: queue on one that is starting
            live = [link for link in self.links if link.transport is not None]
        if not live or self._closing:
            reply(False, None)
            return
        link = min(live, key=lambda lk: len(lk.pending))
        rid = next(self._ids)
        link.pending[rid] = reply
        assert link.transport is not None
        link.transport.write(_frame([rid, route, event]))

    async def call(self, route: str, event: dict[str, Any]) -> tuple[bool, Any]:
        future: asyncio.Future[tuple[bool, Any]] = asyncio.get_running_loop().create_future()

        def reply(ok: bool, result: Any) -> None:
            if not future.done():
                future.set_result((ok, result))

        self.invoke(route, event, reply)
        return await future

    def _lost(self, link: _Link) -> None:
        if self._closing or link not in self.links:
            return
        # A container that died is replaced, as Lambda would; its invocations failed above.
        index = self.links.index(link)
        new = self._spawn(index)
        self.links[index] = new
        if self._loop is not None:
            task = self._loop.create_task(self._attach(new))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            self._loop.run_in_executor(None, self._report_exit, link.proc)

    @staticmethod
    def _report_exit(proc: BaseProcess) -> None:
        proc.join(5)  # the pipe closes a moment before the process is reaped
        log.error("%s exited (code %s); starting another", proc.name, proc.exitcode)

    async def close(self) -> None:
        """Closes the pipes (each worker exits on EOF) and reaps every worker."""
        self._closing = True
        for link in self.links:
            if link.transport is not None:
                link.transport.close()
            else:
                link.sock.close()
        await asyncio.get_running_loop().run_in_executor(None, self._reap)

    def _reap(self, timeout_s: float = 5.0) -> None:
        for link in self.links:
            link.proc.join(timeout_s)
            if link.proc.is_alive():
                link.proc.kill()
                link.proc.join()


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _read_exactly(sock: socket.socket, n: int) -> bytes | None:
    chunks: list[bytes] = []
    while n:
        chunk = sock.recv(n)
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def worker_main(
    sock: socket.socket, wiring: Wiring, threads: int, region: str, log_level: int
) -> None:
    """A worker process: import the handlers once, then serve invocations until EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    if os.getppid() == 1:  # the gateway died before the line above
        os._exit(0)
    from pairchat_tools.local import logs

    logs.configure(log_level)
    host = HandlerHost(wiring, region)
    logs.adopt_handler_loggers()
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="lambda")
    lock = threading.Lock()

    def send(payload: Any) -> None:
        data = _frame(payload)
        with lock:
            sock.sendall(data)

    def run(rid: int, route: str, event: dict[str, Any]) -> None:
        try:
            data = _frame([rid, True, host.call(route, event)])
        except Exception:
            log_failure(route, event)
            data = _frame([rid, False, None])
        with contextlib.suppress(OSError), lock:
            sock.sendall(data)

    try:
        send([_READY, True, os.getpid()])
    except OSError:  # the gateway is gone already
        os._exit(0)
    while True:
        head = _read_exactly(sock, _HEADER)
        body = head and _read_exactly(sock, int.from_bytes(head, "big"))
        if not body:
            break
        rid, route, event = json.loads(body)
        pool.submit(run, rid, route, event)
    # EOF: the gateway closed the pipe (it waits for its invocations first) or died.
    os._exit(0)
