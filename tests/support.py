"""Test helpers shared by every tier: private redis-servers, events, frame readers."""

from __future__ import annotations

import copy
import json
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis

EVENTS_DIR = Path(__file__).resolve().parent.parent / "infra" / "events"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def redis_server(*extra: str) -> Iterator[tuple[int, subprocess.Popen[bytes], Path]]:
    """A private redis-server on a free loopback port, killed afterwards."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not on PATH (make test installs it)")
    workdir = Path(tempfile.mkdtemp(prefix="pairchat-redis-"))
    for _ in range(5):
        port = free_port()
        proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(workdir),
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=port)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.02)
        if proc.poll() is None:
            break
    else:
        raise RuntimeError("could not start redis-server")
    try:
        yield port, proc, workdir
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(workdir, ignore_errors=True)


def load_event(route: str, connection_id: str = "Abc123=", body: Any = None) -> dict[str, Any]:
    """A sample API Gateway WebSocket event for a route, from infra/events/<route>.json."""
    name = route.lstrip("$")
    event: dict[str, Any] = copy.deepcopy(json.loads((EVENTS_DIR / f"{name}.json").read_text()))
    event["requestContext"]["connectionId"] = connection_id
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    return event


def split_frames(data: bytes) -> list[dict[str, Any]]:
    """moto appends every posted frame to one byte string: split it back into frames."""
    text = data.decode()
    decoder = json.JSONDecoder()
    frames, i = [], 0
    while i < len(text):
        obj, i = decoder.raw_decode(text, i)
        frames.append(obj)
    return frames


def make_sweeper(
    client: Any,
    settings: Any,
    notifier: Any = None,
    telemetry: Any = None,
    **bounds: int,
) -> Any:
    """A :class:`Sweeper` over ``client``; ``notifier=None`` sweeps without telling anyone."""
    from pairchat.bootstrap import Unannounced
    from pairchat.domain.service import ChatService
    from pairchat.domain.store import ChatStore
    from pairchat.domain.sweeper import Sweeper

    service = ChatService(
        ChatStore(client, settings), notifier or Unannounced(), settings, telemetry
    )
    return Sweeper(service, announce=notifier is not None, **bounds)


def pair(service: Any, a: str, b: str, *, token: bool = False) -> tuple[str, str]:
    """Connects ``a`` and ``b`` (user ids ``u-a``/``u-b``) and puts them in one room."""
    service.connect(a, f"u-{a}", authenticated=token)
    service.connect(b, f"u-{b}", authenticated=token)
    service.join(a, "male", "any")
    service.join(b, "female", "any")
    rid = service.store.client.hget(service.store.keys.session(f"u-{a}"), "room")
    assert rid, "the two should have been paired"
    return f"u-{a}", f"u-{b}"
