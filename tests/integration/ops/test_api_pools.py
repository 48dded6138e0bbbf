"""The ops API with several pools: one pool's numbers with ?pool=, every pool's totals by
default, lookups that find a room or user in whichever pool has it, reports merged."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
import redis
from fastapi.testclient import TestClient

from pairchat.bootstrap import pool_service
from pairchat.domain.service import ChatService
from pairchat.domain.store import ChatStore
from pairchat.settings import Settings
from pairchat_ops.api import create_app
from tests.conftest import RecordingNotifier
from tests.integration.conftest import override

pytestmark = pytest.mark.integration


@pytest.fixture
def pooled(settings: Settings) -> Settings:
    return replace(settings, pools=("en", "es"), key_prefix="{ops}:")


@pytest.fixture
def services(
    redis_client: redis.Redis, pooled: Settings, notifier: RecordingNotifier
) -> dict[str, ChatService]:
    stores = {p: ChatStore(redis_client, pooled, p) for p in pooled.pools}
    return {p: pool_service(stores, p, notifier, pooled) for p in pooled.pools}


@pytest.fixture
def api(pooled: Settings, redis_client: redis.Redis) -> Iterator[TestClient]:
    app = create_app()
    override(app, pooled, redis_client)
    with TestClient(app) as client:
        yield client


def pair(svc: ChatService, notifier: RecordingNotifier, a: str, b: str, token: bool = False) -> str:
    svc.connect(a, f"u-{a}", authenticated=token)
    svc.connect(b, f"u-{b}", authenticated=token)
    svc.join(a, "male", "female")
    svc.join(b, "female", "male")
    room: str = notifier.last(a)["roomId"]
    return room


@pytest.fixture
def traffic(services: dict[str, ChatService], notifier: RecordingNotifier) -> dict[str, str]:
    """en: two rooms and one waiter; es: one room and two waiters."""
    en, es = services["en"], services["es"]
    rooms = {"en1": pair(en, notifier, "a1", "b1"), "en2": pair(en, notifier, "a2", "b2")}
    rooms["es1"] = pair(es, notifier, "c1", "d1")
    en.connect("w1", "u-w1")
    en.join("w1", "male", "any")
    for cid in ("w2", "w3"):
        es.connect(cid, f"u-{cid}")
        es.join(cid, "female", "male")
    return rooms


def test_pools_lists_each_pool_with_its_own_slot(api: TestClient) -> None:
    body = api.get("/pools").json()
    assert [p["pool"] for p in body] == ["en", "es"]
    assert [p["prefix"] for p in body] == ["{ops:en:dbd3}:", "{ops:es:c0bc}:"]
    assert body[0]["slot"] != body[1]["slot"] and body[0]["node"] is None


def test_stats_per_pool_and_in_total(api: TestClient, traffic: dict[str, str]) -> None:
    en = api.get("/stats", params={"pool": "en"}).json()
    es = api.get("/stats", params={"pool": "es"}).json()
    total = api.get("/stats").json()
    assert (en["pool"], es["pool"], total["pool"]) == ("en", "es", None)
    assert en["users_waiting"] == 1 and es["users_waiting"] == 2
    assert total["users_waiting"] == 3
    assert en["active_rooms"]["value"] == 2 and es["active_rooms"]["value"] == 1
    assert total["active_rooms"] == {
        "value": 3,
        "exact": True,
        "sampled_keys": total["active_rooms"]["sampled_keys"],
    }
    assert en["live_sessions"]["value"] == 5 and es["live_sessions"]["value"] == 4
    assert total["live_sessions"]["value"] == 9
    assert en["last_hour"]["matches"] == 2 and es["last_hour"]["matches"] == 1
    assert total["last_hour"]["matches"] == 3 and total["last_minute"]["matches"] == 3
    lengths = {q["name"]: q["length"] for q in total["queues"]}
    assert lengths["wait:chat:female:male"] == 2 and lengths["wait:chat:male:any"] == 1
    by_pool = {p["pool"]: p for p in total["pools"]}
    assert by_pool["en"]["users_waiting"] == 1 and by_pool["es"]["matches_last_hour"] == 1
    assert by_pool["en"]["active_rooms"]["value"] == 2
    assert api.get("/queues").json() == total["queues"]
    es_queues = {q["name"]: q["length"] for q in api.get("/queues?pool=es").json()}
    assert es_queues["wait:chat:female:male"] == 2 and es_queues["wait:chat:male:any"] == 0


def test_series_totals_add_the_pools_up(api: TestClient, traffic: dict[str, str]) -> None:
    total = api.get("/stats/series", params={"minutes": 2}).json()
    en = api.get("/stats/series", params={"minutes": 2, "pool": "en"}).json()
    assert total["pool"] is None and en["pool"] == "en"
    assert sum(p["matches"] for p in total["minutes"]) == 3
    assert sum(p["matches"] for p in en["minutes"]) == 2


def test_unknown_pools_are_404_and_bad_names_422(api: TestClient) -> None:
    for path in ("/stats", "/stats/series", "/queues", "/queues/male/any", "/reports"):
        assert api.get(path, params={"pool": "fr"}).status_code == 404, path
        assert api.get(path, params={"pool": "EN!"}).status_code == 422, path
    assert "unknown pool" in api.get("/stats?pool=fr").json()["detail"]


def test_queue_pages_rooms_and_users_know_their_pool(
    api: TestClient,
    traffic: dict[str, str],
    services: dict[str, ChatService],
) -> None:
    page = api.get("/queues/female/male", params={"pool": "es"}).json()
    assert page["pool"] == "es" and [w["user_id"] for w in page["waiters"]] == ["u-w2", "u-w3"]
    assert api.get("/queues/female/male").json()["pool"] == "en"  # default: the first pool
    room = api.get(f"/rooms/{traffic['es1']}").json()
    assert room["pool"] == "es" and {m["user_id"] for m in room["members"]} == {"u-c1", "u-d1"}
    assert api.get(f"/rooms/{traffic['es1']}", params={"pool": "en"}).status_code == 404
    # a token user present in both pools: one view, the other pool listed
    services["es"].connect("t-es", "tom", authenticated=True)
    services["en"].connect("t-en", "tom", authenticated=True)
    services["en"].join("t-en", "female", "female")
    user = api.get("/users/tom").json()
    assert user["pool"] in ("en", "es") and user["other_pools"] == [
        {"en": "es", "es": "en"}[user["pool"]]
    ]
    assert api.get("/users/tom", params={"pool": "en"}).json()["session"]["queue"]
    assert api.get("/users/nobody").status_code == 404


def test_reports_merge_every_pools_stream_newest_first(
    api: TestClient, services: dict[str, ChatService], notifier: RecordingNotifier
) -> None:
    for i, pool in enumerate(("en", "es", "en")):
        svc = services[pool]
        pair(svc, notifier, f"r{i}", f"s{i}")
        svc.report(f"r{i}", f"reason {i}")
        time.sleep(0.002)  # ids are milliseconds: one report per millisecond orders them
    body = api.get("/reports").json()
    assert body["total"] == 3
    assert [r["reason"] for r in body["reports"]] == ["reason 2", "reason 1", "reason 0"]
    assert [r["pool"] for r in body["reports"]] == ["en", "es", "en"]
    first = api.get("/reports", params={"limit": 2}).json()
    assert len(first["reports"]) == 2 and first["next_before"] == first["reports"][-1]["id"]
    rest = api.get("/reports", params={"limit": 2, "before": first["next_before"]}).json()
    assert [r["reason"] for r in rest["reports"]] == ["reason 0"] and rest["next_before"] is None
    assert api.get("/reports", params={"pool": "es"}).json()["total"] == 1


def test_health_checks_the_node_of_every_pool(api: TestClient) -> None:
    body = api.get("/health").json()
    assert body["status"] == "ok" and body["nodes"] == 1  # one server holds both pools


def test_a_page_never_ends_between_reports_of_the_same_id(
    api: TestClient, services: dict[str, ChatService], redis_client: redis.Redis
) -> None:
    """Two pools' streams can hold the same id (the same millisecond): paging by id must not
    lose one of them."""
    for pool in ("en", "es"):
        key = services[pool].store.keys.reports()
        redis_client.xadd(key, {"reason": f"{pool} early"}, id="1000-0")
        redis_client.xadd(key, {"reason": f"{pool} late"}, id="2000-0")
    first = api.get("/reports", params={"limit": 1}).json()
    assert [r["reason"] for r in first["reports"]] == ["en late", "es late"]
    rest = api.get("/reports", params={"limit": 1, "before": first["next_before"]}).json()
    assert [r["reason"] for r in rest["reports"]] == ["en early", "es early"]
    assert rest["next_before"] is None
