"""The hardening features over real WebSockets, through `pairchat dev` (the API Gateway
emulator running the real handlers on a private redis-server): token identity and origin
refusals at the upgrade, reconnect grace, report and block."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import jwt
import pytest
from websockets.exceptions import InvalidStatus

from tests.e2e.devserver import Client, DevServer, dev_server

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-hardening")]

SECRET = "e2e-hardening-secret-at-least-32-bytes"
ORIGIN = "http://allowed.test"


def token(sub: str) -> str:
    return jwt.encode({"sub": sub, "exp": int(time.time()) + 300}, SECRET, algorithm="HS256")


@pytest.fixture(scope="module")
def server() -> Iterator[DevServer]:
    with dev_server(
        "--redis", "server", "--log-level", "warning", "--no-ops",
        "--env", "AUTH_MODE=optional",
        "--env", f"AUTH_SECRET={SECRET}",
        "--env", f"ALLOWED_ORIGINS={ORIGIN}",
        "--env", "RECONNECT_GRACE_SECONDS=20",
        "--env", "REPORT_MIN_ROOM_AGE_SECONDS=0",
        env={"REDIS_URL": None},
    ) as srv:  # fmt: skip
        yield srv


async def open_as(server: DevServer, sub: str | None, origin: str = ORIGIN) -> Client:
    url = server.ws_url + (f"?token={token(sub)}" if sub else "")
    return await Client.open(url, origin=origin)


async def refused(server: DevServer, url_suffix: str, origin: str = ORIGIN) -> int:
    with pytest.raises(InvalidStatus) as info:
        await Client.open(server.ws_url + url_suffix, origin=origin)
    return int(info.value.response.status_code)


def test_upgrade_refusals(server: DevServer) -> None:
    async def scenario() -> None:
        assert await refused(server, "?token=not-a-jwt") == 401
        expired = jwt.encode({"sub": "x", "exp": int(time.time()) - 100}, SECRET)
        assert await refused(server, f"?token={expired}") == 401
        assert await refused(server, f"?token={token('x')}", "http://evil.test") == 403
        anon = await open_as(server, None)  # optional mode: anonymous still works
        await anon.send({"action": "heartbeat"})
        assert (await anon.until("pong"))["state"] == "idle"
        await anon.close()

    asyncio.run(scenario())


def test_reconnect_grace_report_and_block(server: DevServer) -> None:
    async def scenario() -> None:
        a, b = await open_as(server, "e2e-alice"), await open_as(server, "e2e-bob")
        await a.join("female", "any")
        await a.until("queued")
        await b.join("male", "female")
        room = (await a.until("matched"))["roomId"]
        alias = (await b.until("matched"))["partnerId"]
        assert "alice" not in alias  # a per-room alias, never the subject

        await b.close()  # the socket drops: $disconnect with a token user in a room
        note = await a.until("partner_reconnecting")
        assert note["roomId"] == room and note["graceMs"] == 20_000
        await a.send({"action": "send", "text": "hello?"})
        assert (await a.until("error"))["code"] == "partner_away"

        b2 = await open_as(server, "e2e-bob")
        assert (await a.until("partner_back"))["roomId"] == room
        await b2.send({"action": "heartbeat"})
        pong = await b2.until("pong")
        assert (pong["state"], pong["roomId"], pong["partnerId"]) == ("room", room, alias)
        await a.send({"action": "send", "text": "welcome back", "roomId": "forged"})
        assert (await b2.until("message"))["text"] == "welcome back"

        await a.send({"action": "report", "reason": "testing", "reported": "someone-else"})
        assert (await a.until("reported"))["roomId"] == room
        await a.send({"action": "block", "partnerId": "someone-else"})
        assert (await a.until("blocked"))["roomId"] == room
        assert (await b2.until("partner_left"))["roomId"] == room
        # blocked: never paired again, even though both wait compatibly
        await a.join("female", "any")
        await a.until("queued")
        await b2.join("male", "female")
        assert (await b2.until("queued"))["type"] == "queued"
        await asyncio.gather(a.close(), b2.close())

    asyncio.run(scenario())
