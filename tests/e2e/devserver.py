"""`pairchat dev` as a subprocess on a free port, and a small WebSocket client for tests."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

_READY = re.compile(r"WebSocket\s+(ws://\S+)")
_REDIS = re.compile(r"^\s+Redis\s+(.*)", re.M)


@dataclass
class DevServer:
    proc: subprocess.Popen[bytes]
    log: Path
    ws_url: str
    http_url: str
    redis_line: str

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def dev_server(
    *args: str, env: dict[str, str | None] | None = None, startup_s: float = 90.0
) -> Iterator[DevServer]:
    """Runs ``pairchat dev --port 0 ARGS``; stops it with SIGINT and checks it exits 0.

    ``env`` adds to the test's environment; a ``None`` value removes that variable.
    """
    merged = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    child_env = {k: v for k, v in merged.items() if v is not None}
    fd, name = tempfile.mkstemp(prefix="pairchat-dev-", suffix=".log")
    log = Path(name)
    with os.fdopen(fd, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pairchat_tools.cli",
                "dev",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                *list(args),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=child_env,
        )
    try:
        deadline = time.monotonic() + startup_s
        match = None
        while match is None:
            text = log.read_text(errors="replace")
            match = _READY.search(text)
            if proc.poll() is not None:
                raise RuntimeError(f"pairchat dev exited with {proc.returncode}:\n{text}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"pairchat dev did not start:\n{text}")
            if match is None:
                time.sleep(0.05)
        ws_url = match.group(1)
        redis_match = _REDIS.search(text)
        server = DevServer(
            proc=proc,
            log=log,
            ws_url=ws_url,
            http_url=ws_url.replace("ws://", "http://").removesuffix("/ws"),
            redis_line=redis_match.group(1) if redis_match else "",
        )
        yield server
        stop(server)
        assert proc.returncode == 0, f"pairchat dev exited {proc.returncode}:\n{server.output()}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.unlink(missing_ok=True)


def stop(server: DevServer, timeout_s: float = 20.0) -> int:
    """Ctrl-C, as a person would stop it."""
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGINT)
        try:
            server.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()
            raise AssertionError(f"pairchat dev ignored Ctrl-C:\n{server.output()}") from None
    return server.proc.returncode


_addresses = itertools.count()


def next_loopback_address() -> tuple[str, int]:
    n = next(_addresses) % (250 * 250)
    return (f"127.2.{n // 250}.{n % 250 + 1}", 0)


class Client:
    """A real WebSocket client that reads JSON frames with a timeout."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, url: str, **kwargs: Any) -> Client:
        """Each client connects from its own loopback address (Linux routes 127.0.0.0/8 to
        lo), as different people do: the server's limits per client address would count a
        whole test's clients as one otherwise. ``local_addr`` picks one."""
        kwargs.setdefault("local_addr", next_loopback_address())
        ws = await connect(url, compression=None, ping_interval=None, open_timeout=20, **kwargs)
        return cls(ws)

    async def send(self, frame: dict[str, Any] | str | bytes) -> None:
        if isinstance(frame, dict):
            frame = json.dumps(frame)
        await self.ws.send(frame)

    async def recv(self, timeout: float = 10.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            raw = await self.ws.recv()
        frame: dict[str, Any] = json.loads(raw)
        self.frames.append(frame)
        return frame

    async def until(self, kind: str, timeout: float = 10.0) -> dict[str, Any]:
        """Reads frames until one of type ``kind``; the others stay in ``frames``."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.recv(timeout)
                if frame.get("type") == kind:
                    return frame

    async def join(self, gender: str, preference: str) -> None:
        await self.send({"action": "join", "gender": gender, "preference": preference})

    async def close(self) -> None:
        await self.ws.close()


async def open_clients(url: str, n: int) -> list[Client]:
    return list(await asyncio.gather(*(Client.open(url) for _ in range(n))))


async def close_all(clients: Sequence[Client]) -> None:
    await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
