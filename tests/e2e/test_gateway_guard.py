"""The local stack's doors (``local/guard.py``), attacked over real sockets: a DNS-rebinding
Host on every path, and an unsigned or wrongly signed Management API call when the stack is
bound beyond loopback."""

from __future__ import annotations

import asyncio
import http.client
import re
import socket
from typing import Any

import boto3
import pytest
import redis
from botocore.exceptions import ClientError
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from pairchat.domain.keys import Keys
from pairchat_tools.local.template_wiring import default_template, read_wiring
from tests.e2e.conftest import Gateway
from tests.e2e.devserver import Client, dev_server
from tests.support import redis_server

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-gateway")]

REBOUND = "attacker.example"


def _request(url: str, method: str, path: str, host: str, body: bytes = b"") -> tuple[int, bytes]:
    hostname, port = url.split("//")[1].split("/")[0].split(":")
    conn = http.client.HTTPConnection(hostname, int(port), timeout=10)
    try:
        conn.request(method, path, body=body, headers={"Host": host})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_a_foreign_host_name_is_refused_on_every_path(gateway: Gateway) -> None:
    port = gateway.http_url.rsplit(":", 1)[1]
    for method, path in (
        ("GET", "/ops/api/stats"),
        ("GET", "/"),
        ("POST", "/@connections/AAAAAAAAAAAAAAA="),
        ("GET", "/@connections/AAAAAAAAAAAAAAA="),
        ("DELETE", "/@connections/AAAAAAAAAAAAAAA="),
    ):
        status, body = _request(gateway.http_url, method, path, f"{REBOUND}:{port}", b"{}")
        assert status == 403, (method, path, status, body)
        # The same request under the server's own loopback names is served (not 403).
        for own in (f"127.0.0.1:{port}", f"localhost:{port}"):
            assert _request(gateway.http_url, method, path, own, b"{}")[0] != 403, (path, own)

    # A WebSocket upgrade under the foreign name (one Host header, as a browser sends it).
    hostname, _ = gateway.http_url.split("//")[1].split(":")
    with socket.create_connection((hostname, int(port)), timeout=10) as sock:
        sock.sendall(
            f"GET /ws HTTP/1.1\r\nHost: {REBOUND}:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        assert sock.recv(4096).startswith(b"HTTP/1.1 403 "), "upgrade under a foreign Host"

    async def upgrade() -> None:
        with pytest.raises(InvalidStatus) as refused:  # two Host headers: refused too
            await connect(
                gateway.ws_url, compression=None, additional_headers={"Host": f"{REBOUND}:{port}"}
            )
        assert refused.value.response.status_code == 403
        own_name = gateway.ws_url.replace("127.0.0.1", "localhost")
        async with connect(own_name, compression=None) as ws:
            await ws.send('{"action": "heartbeat"}')
            assert b"pong" in (await ws.recv()).encode()

    asyncio.run(upgrade())


def _client(endpoint: str, secret: str) -> Any:
    return boto3.session.Session().client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="pairchat-local",
        aws_secret_access_key=secret,
    )


def _connection_ids(redis_url: str) -> list[str]:
    """Live connection ids, from the connection keys the handlers write (``keys.py``)."""
    env, _ = read_wiring(default_template()).environment()
    pattern = Keys(env["KEY_PREFIX"] or "{pairchat}:").connection("*")
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        prefix = pattern[:-1]
        return [k[len(prefix) :] for k in client.scan_iter(match=pattern)]
    finally:
        client.close()


def test_beyond_loopback_the_management_api_takes_only_the_runs_secret() -> None:
    args = ("--host", "0.0.0.0", "--log-level", "warning", "--no-ops")
    with redis_server() as private, dev_server(*args, env={"REDIS_URL": private.url}) as server:
        found = re.search(r"secret (\S+) \(this run only\)", server.output())
        assert found, server.output()
        secret = found.group(1)
        host = server.http_url.split("//")[1]

        async def scenario() -> None:
            # The handlers sign their posts with the run's secret: pairing works end to end.
            a, b = await asyncio.gather(Client.open(server.ws_url), Client.open(server.ws_url))
            await a.join("female", "any")
            await b.join("male", "female")
            await asyncio.gather(a.until("matched"), b.until("matched"))
            await b.close()
            await a.until("partner_left")
            (conn_id,) = _connection_ids(private.url)
            loop = asyncio.get_running_loop()

            def unsigned() -> int:
                path = f"/@connections/{conn_id}"
                return _request(server.http_url, "POST", path, host, b'{"type":"forged"}')[0]

            assert await loop.run_in_executor(None, unsigned) == 403
            wrong = _client(server.http_url, "not-the-secret")
            with pytest.raises(ClientError) as denied:
                await loop.run_in_executor(
                    None, lambda: wrong.post_to_connection(ConnectionId=conn_id, Data=b"{}")
                )
            assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
            right = _client(server.http_url, secret)
            await loop.run_in_executor(
                None,
                lambda: right.post_to_connection(ConnectionId=conn_id, Data=b'{"type":"signed"}'),
            )
            # Nothing forged arrived before the signed frame.
            assert (await a.recv()) == {"type": "signed"}
            await a.close()

        asyncio.run(scenario())
