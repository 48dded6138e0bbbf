"""Issue 11 over real WebSockets through `pairchat dev` (its handlers wired from template.yaml,
the typing route included): interests, relaxation, queue status, typing."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
import redis

from tests.e2e.conftest import Gateway
from tests.e2e.devserver import close_all, open_clients
from tests.e2e.test_gateway import keys
from tests.support import relax_now

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-gateway")]


def join(gender: str, preference: str, **fields: object) -> dict[str, object]:
    return {"action": "join", "gender": gender, "preference": preference, **fields}


def test_interests_pair_and_report_what_is_shared(gateway: Gateway) -> None:
    async def scenario() -> None:
        a, b, c = await open_clients(gateway.ws_url, 3)
        try:
            await a.send(join("female", "any", interests=["Jazz  Piano", "MUSIC"]))
            queued = await a.until("queued")
            assert queued["interests"] == ["jazz piano", "music"] and queued["fallback"] is True
            assert queued["online"] == 3 and queued["etaMs"] is None
            assert queued["onlyRecent"] is False and 0 < queued["retryMs"] <= 5000
            await c.send(join("male", "female"))  # open to anyone: a is not, yet
            assert (await c.until("queued"))["type"] == "queued"
            await b.send(join("male", "any", interests=["music", "chess"]))
            mb, ma = await b.until("matched"), await a.until("matched")
            for m in (ma, mb):
                assert m["commonInterests"] == ["music"] and m["relaxed"] is False
            assert ma["roomId"] == mb["roomId"]
        finally:
            await close_all([a, b, c])

    asyncio.run(scenario())


def test_a_waiter_is_paired_by_fallback_on_its_heartbeat(
    gateway: Gateway, gateway_redis: redis.Redis
) -> None:
    async def scenario() -> None:
        a, b = await open_clients(gateway.ws_url, 2)
        try:
            await a.send(join("male", "female"))
            await a.until("queued")
            await b.send(join("female", "any", interests=["knitting"]))
            queued = await b.until("queued")  # nobody shares knitting; b is not open yet
            await b.send({"action": "heartbeat"})
            pong = await b.until("pong")
            assert pong["state"] == "queued" and pong["online"] == 2
            assert queued["retryMs"] <= 5000
            # MATCH_RELAX_SECONDS (the template's 10 s) passes for b, the one relaxing waiter
            prefix = keys().prefix + "sess:"
            relaxed = [
                relax_now(gateway_redis, keys(), key.removeprefix(prefix))
                for key in gateway_redis.scan_iter(keys().pattern("sess"))
            ]
            assert relaxed.count(True) == 1
            await b.send({"action": "heartbeat"})
            assert (await b.until("pong"))["state"] == "queued"
            mb, ma = await b.until("matched"), await a.until("matched")
            assert mb["relaxed"] is True and ma["relaxed"] is True
            assert mb["commonInterests"] == []
        finally:
            await close_all([a, b])

    asyncio.run(scenario())


def test_typing_reaches_the_partner_and_floods_are_dropped(gateway: Gateway) -> None:
    async def scenario() -> None:
        a, b = await open_clients(gateway.ws_url, 2)
        try:
            await a.send(join("male", "any"))
            await a.until("queued")
            await b.send(join("female", "any"))
            room = (await b.until("matched"))["roomId"]
            await a.until("matched")
            mark = len(a.frames)
            for _ in range(6):  # within a second: 2 go through
                await b.send({"action": "typing", "typing": True})
            await b.send({"action": "send", "text": "hi"})
            # Frames of one connection run as concurrent invocations (as in API Gateway), so
            # their order at the partner is not fixed: take everything that arrives until the
            # message and for half a second more.
            await a.until("message")
            with contextlib.suppress(TimeoutError):
                while True:
                    await a.recv(timeout=0.5)
            got = a.frames[mark:]
            assert sorted(f["type"] for f in got) == ["message", "typing", "typing"], got
            typing = [f for f in got if f["type"] == "typing"]
            assert typing[0]["roomId"] == room and typing[0]["typing"] is True
            await b.send({"action": "heartbeat"})
            assert (await b.recv())["type"] == "pong"  # no error frame for the dropped ones
            await b.send({"action": "typing", "typing": "yes"})
            error = await b.recv()
            assert error["code"] == "invalid_field" and "typing" in error["message"]
        finally:
            await close_all([a, b])

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "fields",
    [
        {"interests": ["a", "b", "c", "d", "e", "f"]},
        {"interests": "music"},
        {"interests": ["c++"]},
        {"interests": [""]},
        {"fallback": "no"},
    ],
)
def test_bad_interests_or_fallback_are_refused_naming_the_field(
    gateway: Gateway, gateway_redis: redis.Redis, fields: dict[str, object]
) -> None:
    async def scenario() -> None:
        c = (await open_clients(gateway.ws_url, 1))[0]
        try:
            before = sorted(gateway_redis.scan_iter(keys().prefix + "wait*"))
            await c.send(join("male", "any", **fields))
            error = await c.recv()
            assert error["type"] == "error" and error["code"] == "invalid_field"
            assert next(iter(fields)) in error["message"]
            assert sorted(gateway_redis.scan_iter(keys().prefix + "wait*")) == before
            await c.send({"action": "typing", "typing": True})
            assert (await c.recv())["code"] == "not_in_room"
        finally:
            await c.close()

    asyncio.run(scenario())


def test_only_recent_partners_waiting_is_said(gateway: Gateway) -> None:
    async def scenario() -> None:
        a, b = await open_clients(gateway.ws_url, 2)
        try:
            await a.send(join("male", "any"))
            await a.until("queued")
            await b.send(join("female", "any"))
            await b.until("matched")
            await a.until("matched")
            await a.send({"action": "next"})
            await a.until("queued")
            await b.send({"action": "next"})
            assert (await b.until("queued"))["onlyRecent"] is True
            await a.send({"action": "heartbeat"})
            assert (await a.until("pong"))["onlyRecent"] is True
        finally:
            await close_all([a, b])

    asyncio.run(scenario())
