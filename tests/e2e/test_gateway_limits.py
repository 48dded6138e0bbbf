"""The emulator's limits and its answers to hostile input, over real sockets against
`pairchat dev` with the real handlers: per-connection throttling (``local/throttle.py``),
frames too deeply nested to parse, and request lines too long to read."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.e2e.conftest import Gateway
from tests.e2e.devserver import Client

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-gateway")]

BURST = 5_000


def test_a_burst_from_one_socket_is_throttled_and_stalls_no_new_handshake(
    gateway: Gateway,
) -> None:
    async def scenario() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        flood = await Client.open(gateway.ws_url)
        heartbeat = json.dumps({"action": "heartbeat"})
        for _ in range(BURST):
            await flood.ws.send(heartbeat)
        # Right behind the burst: a new client connects and is answered.
        fresh = await Client.open(gateway.ws_url)
        await fresh.send({"action": "heartbeat"})
        pong = await fresh.until("pong", timeout=60)
        # The flooding socket got API Gateway's throttle answer for what it sent too fast.
        notices: list[dict[str, Any]] = []
        async with asyncio.timeout(60):
            while not notices:
                frame = await flood.recv(timeout=60)
                if frame.get("message") == "Too Many Requests":
                    notices.append(frame)
        await asyncio.gather(flood.close(), fresh.close())
        return notices, pong

    notices, pong = asyncio.run(scenario())
    assert pong["type"] == "pong" and pong["state"] == "idle"
    notice = notices[0]
    assert set(notice) == {"message", "connectionId", "requestId"}
    assert notice["connectionId"] and notice["requestId"]


@pytest.mark.parametrize(
    "frame",
    [
        "[" * 5_000 + "]" * 5_000,
        '{"action":' * 1_000 + '"join"' + "}" * 1_000,
    ],
    ids=["arrays", "objects"],
)
def test_a_frame_nested_too_deep_gets_invalid_json_and_the_socket_survives(
    gateway: Gateway, frame: str
) -> None:
    async def scenario() -> dict[str, Any]:
        c = await Client.open(gateway.ws_url)
        try:
            await c.send(frame)
            error = await c.recv()
            await c.send({"action": "heartbeat"})
            assert (await c.until("pong"))["state"] == "idle"
            return error
        finally:
            await c.close()

    error = asyncio.run(scenario())
    assert error["type"] == "error" and error["code"] == "invalid_json", error


def _raw_upgrade(url: str, target: str, extra_header: str = "", timeout: float = 20.0) -> bytes:
    """Sends a WebSocket upgrade by hand and returns the first bytes of the answer."""
    host, port = url.split("//")[1].split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(
            (
                f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                f"Sec-WebSocket-Version: 13\r\n{extra_header}\r\n"
            ).encode()
        )
        return sock.recv(4096)


@pytest.mark.parametrize(
    ("target", "header", "status"),
    [
        ("/ws?x=" + "a" * 9_000, "", b"414"),  # a request line over 8 KB
        ("/ws", "X-Long: " + "b" * 9_000 + "\r\n", b"431"),  # a header line over 8 KB
        ("/ws?x=" + "c" * 5_000, "", b"414"),  # past API Gateway's 4,096-character URL
    ],
    ids=["request-line", "header-line", "url-quota"],
)
def test_an_oversized_handshake_is_answered_not_left_hanging(
    gateway: Gateway, target: str, header: str, status: bytes
) -> None:
    answer = _raw_upgrade(gateway.ws_url, target, header)
    assert answer.split(b"\r\n", 1)[0].split(b" ")[1] == status, answer[:200]

    async def still_serving() -> None:
        c = await Client.open(gateway.ws_url)
        await c.send({"action": "heartbeat"})
        await c.until("pong")
        await c.close()

    asyncio.run(still_serving())


def test_a_url_within_the_quota_still_connects(gateway: Gateway) -> None:
    async def scenario() -> None:
        async with connect(gateway.ws_url + "?x=" + "d" * 3_000, compression=None) as ws:
            await ws.send(json.dumps({"action": "heartbeat"}))
            assert json.loads(await ws.recv())["type"] == "pong"
        with pytest.raises(InvalidStatus) as refused:
            await connect(gateway.ws_url + "?x=" + "d" * 4_100, compression=None)
        assert refused.value.response.status_code == 414

    asyncio.run(scenario())
