"""The product end to end: real WebSocket clients, `pairchat dev`, the real handlers, Redis."""

from __future__ import annotations

import asyncio
import functools
import json
import random
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import boto3
import pytest
import redis
from websockets.exceptions import ConnectionClosed

from pairchat.domain.keys import Keys, compatible
from pairchat.domain.protocol import MAX_FRAME_BYTES
from pairchat_tools.local.template_wiring import default_template, read_wiring
from tests.e2e.conftest import Gateway
from tests.e2e.devserver import Client, close_all, open_clients

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-gateway")]


@functools.cache
def keys() -> Keys:
    """Key names under the prefix template.yaml gives the functions."""
    env, _ = read_wiring(default_template()).environment()
    return Keys(env["KEY_PREFIX"] or "{pairchat}:")


def management(gateway: Gateway) -> Any:
    """A stock boto3 client: only the endpoint differs from AWS."""
    return boto3.session.Session().client(
        "apigatewaymanagementapi",
        endpoint_url=gateway.http_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


async def matched_pair(url: str) -> tuple[Client, Client, dict[str, Any], dict[str, Any]]:
    a, b = await open_clients(url, 2)
    await a.join("male", "female")
    assert (await a.until("queued"))["queue"] == "wait:chat:male:female"
    await b.join("female", "male")
    ma = await a.until("matched")
    mb = await b.until("matched")
    return a, b, ma, mb


def connection_of(r: redis.Redis, user_id: str) -> str:
    conn = r.hget(keys().session(user_id), "conn")
    assert isinstance(conn, str) and conn
    return conn


def joiner_of(r: redis.Redis, matched: dict[str, Any]) -> str:
    """The user id of the room's joiner (``b``): clients only ever see aliases."""
    joiner = r.hget(keys().room(matched["roomId"]), "b")
    assert isinstance(joiner, str) and joiner
    return joiner


def test_match_and_message(gateway: Gateway, gateway_redis: redis.Redis) -> None:
    async def scenario() -> None:
        a, b, ma, mb = await matched_pair(gateway.ws_url)
        try:
            assert ma["roomId"] == mb["roomId"]
            assert ma["partnerId"] != mb["partnerId"]
            room = gateway_redis.hgetall(keys().room(ma["roomId"]))
            # Aliases, never the user ids (issue 13, finding 2).
            assert {room["a"], room["b"]}.isdisjoint({ma["partnerId"], mb["partnerId"]})
            await b.send({"action": "send", "text": "hello from b ✓"})
            got = await a.until("message")
            assert got["text"] == "hello from b ✓" and got["roomId"] == ma["roomId"]
            assert isinstance(got["id"], str) and got["id"] != ma["id"]
            # No echo to the sender: its next frame answers its heartbeat.
            await b.send({"action": "heartbeat"})
            pong = await b.recv()
            assert pong["type"] == "pong" and pong["state"] == "room"
            assert pong["partnerId"] == mb["partnerId"]  # one alias per room
        finally:
            await close_all([a, b])

    asyncio.run(scenario())


def test_partner_left_when_a_socket_closes(gateway: Gateway, gateway_redis: redis.Redis) -> None:
    async def scenario() -> None:
        a, b, ma, _mb = await matched_pair(gateway.ws_url)
        b_user = joiner_of(gateway_redis, ma)
        await b.close()
        left = await a.until("partner_left")
        assert left["roomId"] == ma["roomId"]
        # $disconnect erased b: no session, no room.
        assert not gateway_redis.exists(keys().session(b_user))
        assert not gateway_redis.exists(keys().room(ma["roomId"]))
        await a.close()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("this is not json", "invalid_json"),
        ("[1, 2]", "invalid_json"),
        ("", "invalid_json"),
        ('{"text": "no action"}', "unknown_action"),
        ('{"action": "fly"}', "unknown_action"),
        ('{"action": "join", "gender": "robot", "preference": "any"}', "invalid_field"),
        ('{"action": "join", "gender": "male"}', "invalid_field"),
        ('{"action": "send", "text": "nobody to talk to"}', "not_in_room"),
        ('{"action": "send", "text": 5}', "invalid_field"),
    ],
)
def test_bad_frames_get_error_frames(gateway: Gateway, frame: str, code: str) -> None:
    async def scenario() -> None:
        c = (await open_clients(gateway.ws_url, 1))[0]
        try:
            await c.send(frame)
            error = await c.recv()
            assert error["type"] == "error" and error["code"] == code
            assert isinstance(error["message"], str) and error["message"]
            assert isinstance(error["id"], str)
            # The connection survives and nothing changed.
            await c.send({"action": "heartbeat"})
            pong = await c.until("pong")
            assert pong["state"] == "idle"
        finally:
            await c.close()

    asyncio.run(scenario())


def test_a_frame_over_128_kb_closes_with_1009(gateway: Gateway) -> None:
    async def scenario() -> None:
        c = await Client.open(gateway.ws_url)
        # Exactly at the limit: delivered, and refused by the handler as too long a text.
        at_limit = '{"action":"send","text":"' + "x" * (MAX_FRAME_BYTES - 27) + '"}'
        assert len(at_limit.encode()) == MAX_FRAME_BYTES
        await c.send(at_limit)
        error = await c.recv()
        assert error["type"] == "error" and error["code"] == "too_large"
        await c.send("y" * (MAX_FRAME_BYTES + 1))
        with pytest.raises(ConnectionClosed) as closed:
            await c.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009

    asyncio.run(scenario())


def test_management_api_answers_410_gone_as_aws_does(
    gateway: Gateway, gateway_redis: redis.Redis
) -> None:
    client = management(gateway)

    async def scenario() -> None:
        a, b, ma, _mb = await matched_pair(gateway.ws_url)
        b_conn = connection_of(gateway_redis, joiner_of(gateway_redis, ma))
        loop = asyncio.get_running_loop()
        info = await loop.run_in_executor(None, lambda: client.get_connection(ConnectionId=b_conn))
        assert info["Identity"]["SourceIp"] == b.ws.local_address[0]  # its own address
        assert info["ConnectedAt"] <= info["LastActiveAt"]
        await loop.run_in_executor(
            None,
            lambda: client.post_to_connection(ConnectionId=b_conn, Data=b'{"type":"hello"}'),
        )
        assert (await b.recv()) == {"type": "hello"}
        await b.close()
        await a.until("partner_left")
        for call in (
            lambda: client.post_to_connection(ConnectionId=b_conn, Data=b"{}"),
            lambda: client.get_connection(ConnectionId=b_conn),
            lambda: client.delete_connection(ConnectionId=b_conn),
            lambda: client.post_to_connection(ConnectionId="NoSuchConnId0A=", Data=b"{}"),
        ):
            with pytest.raises(client.exceptions.GoneException) as gone:
                await loop.run_in_executor(None, call)
            assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410
        await a.close()

    asyncio.run(scenario())


def test_delete_connection_closes_the_socket_and_runs_disconnect(
    gateway: Gateway, gateway_redis: redis.Redis
) -> None:
    client = management(gateway)

    async def scenario() -> None:
        a, b, ma, _ = await matched_pair(gateway.ws_url)
        b_conn = connection_of(gateway_redis, joiner_of(gateway_redis, ma))
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: client.delete_connection(ConnectionId=b_conn)
        )
        with pytest.raises(ConnectionClosed):
            while True:
                await b.recv()
        # $disconnect ran: the partner is told and the session is gone.
        left = await a.until("partner_left")
        assert left["roomId"] == ma["roomId"]
        assert not gateway_redis.exists(keys().connection(b_conn))
        await a.close()

    asyncio.run(scenario())


def test_200_concurrent_clients_all_get_paired(
    gateway: Gateway, gateway_redis: redis.Redis
) -> None:
    # Four populations in which any greedy pairing order pairs everyone.
    prefs = (
        [("male", "female")] * 60
        + [("female", "male")] * 60
        + [("male", "male")] * 40
        + [("female", "female")] * 40
    )
    random.Random(7).shuffle(prefs)

    async def scenario() -> None:
        clients = await open_clients(gateway.ws_url, len(prefs))
        try:
            await asyncio.gather(*(c.join(g, p) for c, (g, p) in zip(clients, prefs, strict=True)))
            matches = await asyncio.gather(*(c.until("matched", 30) for c in clients))
            # Nobody is paired twice: the next frame after a heartbeat is its pong.
            await asyncio.gather(*(c.send({"action": "heartbeat"}) for c in clients))
            pongs = await asyncio.gather(*(c.until("pong") for c in clients))
            assert all(p["state"] == "room" for p in pongs)
            assert [p["partnerId"] for p in pongs] == [m["partnerId"] for m in matches]
            for c in clients:
                assert Counter(f["type"] for f in c.frames)["matched"] == 1
            rooms: dict[str, list[int]] = defaultdict(list)
            for i, m in enumerate(matches):
                rooms[m["roomId"]].append(i)
            assert len(rooms) == len(prefs) // 2
            partner_ids = [m["partnerId"] for m in matches]
            assert len(set(partner_ids)) == len(prefs), "a user was given to two partners"
            for room_id, members in rooms.items():
                assert len(members) == 2
                i, j = members
                assert compatible(*prefs[i], *prefs[j]), (prefs[i], prefs[j])
                stored = gateway_redis.hgetall(keys().room(room_id))
                assert {stored["a"], stored["b"]}.isdisjoint({partner_ids[i], partner_ids[j]})
        finally:
            await close_all(clients)

    asyncio.run(scenario())


def test_chat_page_and_assets_are_served(gateway: Gateway) -> None:
    import httpx

    page = httpx.get(gateway.http_url + "/", timeout=5)
    assert page.status_code == 200 and "<title>pairchat" in page.text
    for asset in ("app.js", "app.css"):
        assert httpx.get(f"{gateway.http_url}/{asset}", timeout=5).status_code == 200
    assert json.loads(httpx.get(gateway.http_url + "/@connections/nope", timeout=5).text) == {
        "message": None
    }


def test_bots_pair_everyone_and_report_latencies(gateway: Gateway, tmp_path: Path) -> None:
    out = tmp_path / "bots.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pairchat_tools.cli",
            "bots",
            "--url",
            gateway.ws_url,
            "--count",
            "40",
            "--preferences",
            "pairs",
            "--messages",
            "2",
            "--think-ms",
            "50",
            "--seed",
            "1",
            "--quiet",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(out.read_text())
    assert result["matches"] == 20
    assert result["connect_failures"] == 0 and result["gave_up_waiting"] == 0
    latency = result["join_to_matched_ms"]
    assert latency["count"] == 20 and 0 < latency["p50"] <= latency["p90"] <= latency["p99"]
    assert result["message_relay_ms"]["count"] > 0
    assert result["incompatible_pairs"] == result["double_matches"] == result["misdelivered"] == 0
    assert "join→matched" in done.stdout


def test_bots_with_one_interest_word_all_share_it(gateway: Gateway, tmp_path: Path) -> None:
    """A vocabulary of one word: every bot gives it, so every match shares it."""
    out = tmp_path / "bots.json"
    done = subprocess.run(
        [
            *[sys.executable, "-m", "pairchat_tools.cli", "bots", "--url", gateway.ws_url],
            *["--count", "20", "--preferences", "pairs", "--messages", "1", "--think-ms", "20"],
            *["--interest-share", "1", "--interests-vocab", "Music", "--seed", "3"],
            *["--quiet", "--json", str(out)],
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(out.read_text())
    interests = result["interests"]
    assert result["matches"] == 10 and result["gave_up_waiting"] == 0
    assert interests["matches_sharing_interest"] == interests["matches_with_interests"] == 10
    assert interests["sharing_share"] == 1.0 and interests["relaxed_matches"] == 0
    assert interests["interest_rule_violations"] == 0
    assert set(interests["kinds"]) == {"with_interests"}
    wait = interests["kinds"]["with_interests"]["wait_ms"]
    assert wait["count"] == 20 and 0 < wait["p50"] <= wait["p90"] <= wait["p99"]
    assert "sharing an interest" in done.stdout  # the table row (its text wraps at 80 columns)
