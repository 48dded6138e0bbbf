"""The Redis behind ``pairchat dev``: the one you name, else a private one.

Order: ``REDIS_URL`` when set; else a private ``redis-server`` child process on a free
loopback port (in its own session, so the terminal's Ctrl-C reaches only the gateway, which
then stops Redis after the last ``$disconnect``; and with a parent-death signal, so not even
``kill -9`` of the gateway leaves it orphaned); else an in-process fakeredis TCP server with
Lua (slower, but needs nothing installed).
"""

from __future__ import annotations

import contextlib
import ctypes
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Mode = Literal["auto", "url", "server", "fake"]


class EmbeddedRedisError(RuntimeError):
    pass


@dataclass(frozen=True)
class RedisInfo:
    url: str
    kind: Literal["url", "server", "fake"]
    description: str
    pid: int | None = None


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, timeout_s: float, alive: object = None) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise EmbeddedRedisError(f"Redis at {url} did not answer") from None
                if callable(alive) and not alive():
                    raise EmbeddedRedisError("redis-server exited at start") from None
                time.sleep(0.02)
    finally:
        client.close()


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM it when the gateway process dies (Linux)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@contextmanager
def _redis_server(binary: str, host: str) -> Iterator[RedisInfo]:
    workdir = Path(tempfile.mkdtemp(prefix="pairchat-dev-redis-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        for _ in range(5):
            port = _free_port(host)
            proc = subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(port),
                    "--bind",
                    host,
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(workdir),
                    "--loglevel",
                    "warning",
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
            url = f"redis://{host}:{port}/0"
            try:
                _wait_ready(url, 10.0, alive=lambda p=proc: p.poll() is None)
                break
            except EmbeddedRedisError:
                proc.kill()
                proc.wait()
                proc = None
        if proc is None:
            raise EmbeddedRedisError("could not start redis-server")
        yield RedisInfo(
            url=url,
            kind="server",
            description=f"private redis-server (pid {proc.pid}) at {url}",
            pid=proc.pid,
        )
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def _fake_tcp_server(host: str) -> Any:
    """fakeredis's TCP server, with a handler that keeps the connection after an error.

    The stock handler closes a connection after any error reply, NOSCRIPT included, so
    redis-py's EVALSHA-then-SCRIPT LOAD (how every script gets loaded) fails. This one
    answers errors as Redis does, and reads the socket blocking.
    """
    from fakeredis import TcpFakeServer
    from fakeredis._clients._tcp_server import TCPFakeRequestHandler

    class Handler(TCPFakeRequestHandler):
        def handle(self) -> None:
            sock = self.connection
            sock.setblocking(True)
            sock.settimeout(0.2)
            client = self.current_client
            while not self.server._shutdown_event.is_set():
                while client.can_read():
                    try:
                        reply = client.read_response()
                    except Exception as exc:  # error replies come back raised
                        reply = exc
                    self.writer.dump(reply)
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if not data:
                    break
                try:
                    client.get_socket().sendall(data)
                except Exception as exc:  # a protocol error: answer it, as Redis does
                    self.writer.dump(exc)
                    break

    server = TcpFakeServer((host, 0), server_type="redis")
    server.RequestHandlerClass = Handler
    return server


@contextmanager
def _fake_server(host: str) -> Iterator[RedisInfo]:
    try:
        import lupa  # noqa: F401 - fakeredis runs EVAL through lupa
    except ImportError as exc:  # pragma: no cover - part of the [local] extra
        raise EmbeddedRedisError(
            "no REDIS_URL, no redis-server on PATH, and fakeredis[lua] is not installed"
        ) from exc
    server = _fake_tcp_server(host)
    port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, name="fakeredis", daemon=True)
    thread.start()
    url = f"redis://{host}:{port}/0"
    try:
        _wait_ready(url, 5.0)
        yield RedisInfo(url=url, kind="fake", description=f"in-process fakeredis (Lua) at {url}")
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def embedded_redis(
    env: Mapping[str, str], mode: Mode = "auto", host: str = "127.0.0.1"
) -> Iterator[RedisInfo]:
    """The Redis to use, running for as long as the context is open."""
    url = env.get("REDIS_URL", "")
    if mode in ("auto", "url") and url:
        yield RedisInfo(url=url, kind="url", description=f"REDIS_URL {url}")
        return
    if mode == "url":
        raise EmbeddedRedisError("--redis url needs REDIS_URL to be set")
    binary = shutil.which("redis-server", path=env.get("PATH"))
    if mode == "server" or (mode == "auto" and binary):
        if binary is None:
            raise EmbeddedRedisError("redis-server is not on PATH")
        with _redis_server(binary, host) as info:
            yield info
        return
    with _fake_server(host) as info:
        yield info
