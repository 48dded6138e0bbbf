"""The shadow pool in the ops API and `pairchat inspect`: who is shadowed (per pool, paged,
with the time left) and lifting it (`DELETE /shadow/{user_id}`)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import redis
from fastapi.testclient import TestClient

from pairchat.domain.service import Caller, ChatService
from pairchat.domain.store import ChatStore
from pairchat.settings import Settings
from pairchat_ops.api import create_app
from pairchat_tools.cli import main
from tests.conftest import RecordingNotifier
from tests.integration.conftest import override

pytestmark = pytest.mark.integration


def shadow(svc: ChatService, target: str, reporters: int) -> str:
    """Has ``reporters`` users from as many addresses report ``target`` (a new user)."""
    uid = f"u-{target}"
    svc.connect(target, uid)
    svc.join(target, "male", "any")
    for i in range(reporters):
        if i:
            svc.next(target)
        conn = f"{target}-r{i}"
        svc.connect(conn, f"u-{conn}")
        svc.join(conn, "female", "any")
        svc.report(conn, "spam", Caller(source=f"{target}-address-{i}"))
    return uid


@pytest.fixture
def pooled(settings: Settings) -> Settings:
    return replace(settings, pools=("en", "es"), shadow_reporters=2, shadow_cooldown_s=600)


@pytest.fixture
def services(
    redis_client: redis.Redis, pooled: Settings, notifier: RecordingNotifier
) -> dict[str, ChatService]:
    return {
        pool: ChatService(ChatStore(redis_client, pooled, pool), notifier, pooled)
        for pool in pooled.pools
    }


@pytest.fixture
def api(pooled: Settings, redis_client: redis.Redis) -> TestClient:
    app = create_app()
    override(app, pooled, redis_client)
    return TestClient(app)


def test_shadowed_users_are_listed_per_pool_with_the_time_left(
    api: TestClient, services: dict[str, ChatService]
) -> None:
    assert api.get("/shadow").json()["total"] == 0
    first = shadow(services["en"], "t1", 2)
    second = shadow(services["en"], "t2", 2)
    shadow(services["en"], "t3", 1)  # one reporter: not shadowed
    other = shadow(services["es"], "t4", 2)
    body = api.get("/shadow", params={"pool": "en", "limit": 1}).json()
    assert body["pool"] == "en" and body["total"] == 2 and body["next_offset"] == 1
    [latest] = body["users"]
    assert latest["user_id"] == second and latest["reporters"] == 2
    assert 590_000 < latest["remaining_ms"] <= 600_000
    assert latest["until_ms"] > 0
    rest = api.get("/shadow", params={"pool": "en", "offset": 1}).json()
    assert [u["user_id"] for u in rest["users"]] == [first] and rest["next_offset"] is None
    assert [u["user_id"] for u in api.get("/shadow").json()["users"]] == [second, first]
    assert [u["user_id"] for u in api.get("/shadow", params={"pool": "es"}).json()["users"]] == [
        other
    ]
    stats = api.get("/stats").json()
    assert stats["shadowed"] == 3
    assert {p["pool"]: p["shadowed"] for p in stats["pools"]} == {"en": 2, "es": 1}
    assert api.get("/stats", params={"pool": "es"}).json()["shadowed"] == 1
    assert api.get("/shadow", params={"pool": "fr"}).status_code == 404


def test_lifting_a_flag(
    api: TestClient, services: dict[str, ChatService], redis_client: redis.Redis
) -> None:
    uid = shadow(services["en"], "t", 2)
    keys = services["en"].store.keys
    assert redis_client.exists(keys.shadow(uid))
    assert api.delete("/shadow/u-nobody").status_code == 404
    assert api.delete(f"/shadow/{uid}", params={"pool": "es"}).status_code == 404
    lifted = api.delete(f"/shadow/{uid}")
    assert lifted.status_code == 200 and lifted.json() == {"user_id": uid, "pools": ["en"]}
    assert not redis_client.exists(keys.shadow(uid), keys.reporters(uid))
    assert api.get("/shadow").json()["total"] == 0
    assert api.delete(f"/shadow/{uid}").status_code == 404
    assert api.delete("/shadow/bad%20id").status_code == 422


def test_inspect_shadow(
    pooled: Settings,
    services: dict[str, ChatService],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("POOLS", "en,es")
    uid = shadow(services["en"], "t", 2)
    argv = ["inspect", "shadow", "--redis-url", pooled.redis_url, "--prefix", pooled.key_prefix]
    assert main([*argv, "--pool", "en"]) == 0
    out = capsys.readouterr().out
    assert "Shadowed in pool en: 1" in out and uid in out
    assert main([*argv, "--pool", "es", "--json"]) == 0
    assert '"total": 0' in capsys.readouterr().out
