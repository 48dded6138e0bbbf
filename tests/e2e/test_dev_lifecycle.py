"""`pairchat dev` picks its Redis, says which, and leaves nothing behind on Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import re
import time

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


async def chat_once(url: str) -> None:
    a, b = await open_clients(url, 2)
    await a.join("female", "any")
    await b.join("male", "female")
    room = (await a.until("matched"))["roomId"]
    await b.until("matched")
    await a.send({"action": "send", "text": "hi"})
    assert (await b.until("message"))["roomId"] == room
    await asyncio.gather(a.close(), b.close())


def test_private_redis_server_and_no_orphans_after_ctrl_c() -> None:
    with dev_server("--log-level", "warning", env={"REDIS_URL": None}) as server:
        match = re.search(
            r"private redis-server \(pid (\d+)\) at redis://127\.0\.0\.1:\d+", server.redis_line
        )
        assert match, server.output()
        pid = int(match.group(1))
        assert alive(pid)
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
        assert not alive(pid), "redis-server outlived pairchat dev"
        assert "Traceback" not in server.output(), server.output()


def test_fakeredis_when_no_redis_server_is_wanted() -> None:
    with dev_server("--redis", "fake", "--log-level", "warning", env={"REDIS_URL": None}) as server:
        assert "in-process fakeredis (Lua)" in server.redis_line
        asyncio.run(chat_once(server.ws_url))
