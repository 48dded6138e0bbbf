"""Two pools through ``pairchat dev``, as a client meets them: the authorizer from template.yaml
picks the pool at connect, real sockets in different pools never meet, an unknown pool is
refused before anything is written, bots spread over pools pair only within theirs, and the
chat page and the ops API offer the pools."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from pairchat.settings import Settings
from tests.e2e.devserver import Client, DevServer, dev_server
from tests.support import redis_server

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-pools")]

POOLS = ("en", "es")
PREFIX = {p: Settings(pools=POOLS).prefix_for(p) for p in POOLS}


class Stack:
    def __init__(self, server: DevServer, redis_url: str) -> None:
        self.server = server
        self.redis = redis.Redis.from_url(redis_url, decode_responses=True)

    def url(self, pool: str | None = None) -> str:
        return self.server.ws_url + (f"?pool={pool}" if pool else "")

    def get(self, path: str) -> object:
        with urllib.request.urlopen(self.server.http_url + path, timeout=10) as response:
            return json.loads(response.read())


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with redis_server() as private:
        args = ("--log-level", "warning", "--env", "POOLS=" + ",".join(POOLS))
        with dev_server(*args, env={"REDIS_URL": private.url}) as server:
            yield Stack(server, private.url)


@pytest.fixture
def pools(stack: Stack) -> Stack:
    stack.redis.flushall()  # our private server
    return stack


def test_the_page_and_the_ops_api_list_the_pools(pools: Stack) -> None:
    assert pools.get("/pools.json") == {"pools": list(POOLS)}
    listed = pools.get("/ops/pools")
    assert isinstance(listed, list) and [p["pool"] for p in listed] == list(POOLS)
    assert "Pools           en, es" in pools.server.output()
    assert "and the $connect authorizer" in pools.server.output()


def test_sockets_of_different_pools_never_meet(pools: Stack) -> None:
    async def scenario() -> dict[str, str]:
        en1, es1 = await Client.open(pools.url("en")), await Client.open(pools.url("es"))
        en2 = await Client.open(pools.url())  # no pool named: the first, en
        for c in (en1, es1, en2):
            await c.send({"action": "heartbeat"})
            await c.until("pong")
        await en1.send({"action": "join", "gender": "male", "preference": "any"})
        assert (await en1.until("queued"))["type"] == "queued"
        await es1.send({"action": "join", "gender": "female", "preference": "any"})
        assert (await es1.until("queued"))["type"] == "queued", "matched across pools"
        await en2.send({"action": "join", "gender": "female", "preference": "any"})
        a, b = await en1.until("matched"), await en2.until("matched")
        assert a["roomId"] == b["roomId"]
        await en2.send({"action": "send", "text": "hello in en"})
        assert (await en1.until("message"))["text"] == "hello in en"
        await es1.send({"action": "heartbeat"})
        pong = await es1.until("pong")
        assert pong["state"] == "queued", "the es user is still waiting, untouched"
        rooms = {"en": a["roomId"]}
        for c in (en1, es1, en2):
            await c.ws.close()
        return rooms

    rooms = asyncio.run(scenario())
    keys = set(pools.redis.scan_iter("*"))
    assert any(k.startswith(PREFIX["en"] + "recent:") for k in keys)
    assert not any(k.startswith(PREFIX["es"] + "recent:") for k in keys)
    assert all(k.startswith(tuple(PREFIX.values())) for k in keys), keys
    stats = pools.get("/ops/stats?pool=en")
    assert isinstance(stats, dict) and stats["last_hour"]["matches"] == 1
    with pytest.raises(urllib.error.HTTPError) as missing:
        pools.get(f"/ops/rooms/{rooms['en']}?pool=es")
    assert missing.value.code == 404


def test_an_unknown_pool_is_refused_with_400_before_anything_is_written(pools: Stack) -> None:
    async def refused(pool: str) -> int:
        with pytest.raises(InvalidStatus) as caught:
            await connect(pools.url(pool), compression=None, open_timeout=20)
        return int(caught.value.response.status_code)

    for pool in ("fr", "EN", "default"):
        assert asyncio.run(refused(pool)) == 400, pool
    assert list(pools.redis.scan_iter("*")) == []


def test_bots_spread_over_pools_pair_only_within_theirs(pools: Stack, tmp_path: Path) -> None:
    out = tmp_path / "bots.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pairchat_tools.cli",
            "bots",
            "--url",
            pools.server.ws_url,
            "--pools",
            ",".join(POOLS),
            "--count",
            "40",
            "--preferences",
            "pairs",
            "--messages",
            "1",
            "--think-ms",
            "20",
            "--seed",
            "3",
            "--quiet",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(out.read_text())
    assert result["matches"] == 20 and result["connect_failures"] == 0
    assert result["cross_pool_pairs"] == 0 and result["incompatible_pairs"] == 0
    assert result["matches_by_pool"] == {"en": 10, "es": 10}
    en = pools.get("/ops/stats?pool=en")
    es = pools.get("/ops/stats?pool=es")
    assert isinstance(en, dict) and isinstance(es, dict)
    assert en["last_hour"]["matches"] == 10 and es["last_hour"]["matches"] == 10
