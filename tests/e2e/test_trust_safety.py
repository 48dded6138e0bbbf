"""Issue 13's attacks, replayed over real WebSockets through `pairchat dev` (the API Gateway
emulator running the real handlers on a private redis-server), each shown to fail."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import redis
from websockets.exceptions import InvalidStatus

from pairchat.domain.keys import Keys
from tests.e2e.conftest import Gateway
from tests.e2e.devserver import Client, DevServer, close_all, dev_server
from tests.support import redis_server

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-trust")]

SECRET = "e2e-trust-and-safety-secret-32-bytes!"
KEYS = Keys("{pairchat}:")


def token(sub: str) -> str:
    return jwt.encode({"sub": sub, "exp": int(time.time()) + 300}, SECRET, algorithm="HS256")


class Stack:
    def __init__(self, server: DevServer, redis_url: str) -> None:
        self.server = server
        self.redis = redis.Redis.from_url(redis_url, decode_responses=True)

    async def open(self, sub: str | None = None, **kwargs: Any) -> Client:
        url = self.server.ws_url + (f"?token={token(sub)}" if sub else "")
        return await Client.open(url, **kwargs)

    def user_of(self, client_room: str, member: str) -> str:
        uid = self.redis.hget(KEYS.room(client_room), member)
        assert isinstance(uid, str) and uid
        return uid


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with redis_server() as private:
        url = private.url
        with dev_server(
            "--log-level", "warning", "--no-ops",
            "--env", "AUTH_MODE=optional",
            "--env", f"AUTH_SECRET={SECRET}",
            "--env", "TEXT_FILTER=block",
            "--env", "TEXT_FILTER_WORDS=zorblax,strip club",
            "--env", "RATE_CONNECTS_PER_SOURCE=16",
            "--env", "RATE_JOINS_PER_SOURCE=12",
            env={"REDIS_URL": url},
        ) as server:  # fmt: skip
            s = Stack(server, url)
            yield s
            s.redis.close()


@pytest.fixture
def fresh(stack: Stack) -> Stack:
    stack.redis.flushall()  # our private server
    return stack


async def pair(first: Client, second: Client) -> tuple[dict[str, object], dict[str, object]]:
    await first.join("female", "any")
    await first.until("queued")
    await second.join("male", "female")
    return await first.until("matched"), await second.until("matched")


def test_finding_1_a_token_naming_a_strangers_id_does_not_take_over_its_session(
    fresh: Stack,
) -> None:
    """The audit's attack: learn an anonymous stranger's id, connect with a valid token whose
    sub is that id. Before: the attacker got the stranger's session, room and messages and
    the stranger got session_expired. Now the token's id lives in another namespace."""

    async def scenario() -> None:
        victim, partner = await fresh.open(), await fresh.open("partner")
        mv, _ = await pair(victim, partner)
        room = str(mv["roomId"])
        victim_id = fresh.user_of(room, "a")
        assert victim_id.startswith("a:")
        # Whatever the attacker learnt or guessed: the raw id, its uuid, or the alias.
        attackers = [
            await fresh.open(sub)
            for sub in (victim_id, victim_id.removeprefix("a:"), str(mv["partnerId"]))
        ]
        await partner.send({"action": "send", "text": "for the victim only"})
        assert (await victim.until("message"))["text"] == "for the victim only"
        await victim.send({"action": "heartbeat"})
        pong = await victim.until("pong")
        assert (pong["state"], pong["roomId"]) == ("room", room)
        assert fresh.redis.hget(KEYS.session(victim_id), "room") == room
        for attacker in attackers:
            await attacker.send({"action": "heartbeat"})
            assert (await attacker.until("pong"))["state"] == "idle"
            assert not [f for f in attacker.frames if f["type"] == "message"]
        await asyncio.gather(victim.close(), partner.close(), *(a.close() for a in attackers))

    asyncio.run(scenario())


def test_finding_2_strangers_see_a_per_room_alias_never_the_login_id(fresh: Stack) -> None:
    """A token user whose subject is an e-mail address meets two strangers in turn: neither
    learns the address or the user id, and the two cannot link their aliases."""

    async def scenario() -> None:
        alice = await fresh.open("alice@example.com")
        first, second = await fresh.open(), await fresh.open()
        _, seen_by_first = await pair(alice, first)
        room1 = str(seen_by_first["roomId"])
        alice_id = fresh.user_of(room1, "a")
        await first.send({"action": "heartbeat"})
        pong = await first.until("pong")
        assert pong["partnerId"] == seen_by_first["partnerId"]  # stable within the room
        await alice.send({"action": "leave"})
        await alice.until("left")
        _, seen_by_second = await pair(alice, second)
        aliases = {seen_by_first["partnerId"], seen_by_second["partnerId"]}
        assert len(aliases) == 2, "the same person must not be recognisable across rooms"
        for alias in aliases:
            assert isinstance(alias, str) and len(alias) == 16
            assert "alice" not in alias and alias not in alice_id and alias != alice_id
        await asyncio.gather(alice.close(), first.close(), second.close())

    asyncio.run(scenario())


def test_text_filter_masks_by_default(gateway: Gateway) -> None:
    """The stock configuration (TEXT_FILTER=mask, the library's English list): the partner
    reads asterisks where a listed word was, leetspeak and accents included."""

    async def scenario() -> None:
        a, b = await Client.open(gateway.ws_url), await Client.open(gateway.ws_url)
        await pair(a, b)
        await a.send({"action": "send", "text": "you are an A$$HOLE, analyse that"})
        got = await b.until("message")
        assert got["text"] == "you are an *******, analyse that"
        await asyncio.gather(a.close(), b.close())

    asyncio.run(scenario())


def test_text_filter_block_refuses_with_an_error_and_delivers_nothing(fresh: Stack) -> None:
    async def scenario() -> None:
        a, b = await fresh.open(), await fresh.open()
        await pair(a, b)
        await a.send({"action": "send", "text": "meet me at the STRIP  club", "ref": "m1"})
        error = await a.until("error")
        assert (error["code"], error["ref"]) == ("text_refused", "m1")
        await a.send({"action": "send", "text": "z0rblax"})
        assert (await a.until("error"))["code"] == "text_refused"
        await a.send({"action": "send", "text": "just hello"})
        assert (await b.until("message"))["text"] == "just hello"
        assert [f["text"] for f in b.frames if f["type"] == "message"] == ["just hello"]
        await asyncio.gather(a.close(), b.close())

    asyncio.run(scenario())


def test_finding_3_a_reconnecting_process_is_limited_by_its_address(fresh: Stack) -> None:
    """The audit's attack: one process opens socket after socket (each a new anonymous user,
    so per-user limits never bind) and joins on each. Before: 62 accepted joins per second
    against a limit of 20 per minute. Now joins and connects count per address too; the
    module's stack allows 12 joins and 16 connects per address and window."""

    async def scenario() -> tuple[int, int, int]:
        accepted = limited = refused = 0
        clients: list[Client] = []
        for _ in range(24):
            try:
                c = await fresh.open(local_addr=("127.0.0.1", 0))  # one address
            except InvalidStatus as status:
                assert status.response.status_code == 429
                refused += 1
                continue
            clients.append(c)
            await c.join("male", "male")
            frame = await c.recv()
            while frame["type"] not in ("queued", "matched", "error"):
                frame = await c.recv()
            if frame["type"] == "error":
                assert frame["code"] == "rate_limited", frame
                limited += 1
            else:
                accepted += 1
        await close_all(clients)
        return accepted, limited, refused

    accepted, limited, refused = asyncio.run(scenario())
    assert accepted == 12 and limited == 4 and refused == 8, (accepted, limited, refused)


def test_finding_4_a_heartbeat_flood_is_answered_only_up_to_its_bucket(fresh: Stack) -> None:
    """The audit's attack: 500 heartbeats in 3 s, all answered, each ~24 Redis commands.
    Now a token bucket per user answers a burst of 10 (one more every 2 s) and refuses the
    rest with rate_limited before touching anything; leaves are limited per window too."""

    async def scenario() -> tuple[int, int, int, int]:
        c = await fresh.open()
        # One at a time: the emulator's own throttle (API Gateway's) would answer a burst of
        # more than 10 frames in flight before pairchat sees them.
        for _ in range(40):
            await c.send({"action": "heartbeat"})
            await c.recv()
        pongs = sum(f["type"] == "pong" for f in c.frames)
        limited = sum(f.get("code") == "rate_limited" for f in c.frames)
        c.frames.clear()
        for _ in range(40):
            await c.send({"action": "leave"})
            await c.recv()
        left = sum(f["type"] == "left" for f in c.frames)
        leave_limited = sum(f.get("code") == "rate_limited" for f in c.frames)
        await c.close()
        return pongs, limited, left, leave_limited

    pongs, limited, left, leave_limited = asyncio.run(scenario())
    # 10 at once, and at most a couple more refilled while the 40 were answered.
    assert 10 <= pongs <= 12 and pongs + limited == 40, (pongs, limited)
    assert left == 30 and leave_limited == 10, (left, leave_limited)
