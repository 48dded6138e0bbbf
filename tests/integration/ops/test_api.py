"""The ops API against a real Redis, state made through the real ChatService."""

from __future__ import annotations

import time

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pairchat.domain.keys import Keys
from pairchat.domain.service import ChatService
from pairchat.domain.store import ChatStore
from pairchat.settings import Settings
from pairchat_ops.api import create_app
from tests.conftest import RecordingNotifier
from tests.integration.conftest import override
from tests.support import free_port, make_sweeper

pytestmark = pytest.mark.integration


def pair(service: ChatService, a: str, b: str) -> str:
    """Connects a and b, queues a, lets b join it; returns the room id."""
    service.connect(a)
    service.connect(b)
    service.join(a, "male", "female")
    service.join(b, "female", "male")
    notifier = service.notifier
    assert isinstance(notifier, RecordingNotifier)
    room: str = notifier.last(a)["roomId"]
    return room


def test_health_reports_latency_and_which_scripts_are_loaded(
    api: TestClient, service: ChatService, redis_client: redis.Redis
) -> None:
    redis_client.script_flush()  # our private server: earlier tests in this worker loaded some
    body = api.get("/health").json()
    assert body["status"] == "ok" and body["redis"] is True
    assert 0 <= body["latency_ms"] < 1000
    assert body["scripts"]["match"] is False and body["scripts_loaded"] is False
    service.connect("c1")
    service.join("c1", "male", "any")
    body = api.get("/health").json()
    assert body["scripts"]["connect"] is True and body["scripts"]["match"] is True
    assert body["scripts"]["sweep"] is False


def test_health_is_503_when_redis_is_unreachable(settings: Settings) -> None:
    app = create_app()
    dead = redis.Redis(port=free_port(), socket_connect_timeout=0.5)
    override(app, settings, dead)
    with TestClient(app) as client:
        response = client.get("/health")
        assert response.status_code == 503
        assert response.json()["redis"] is False and response.json()["status"] == "down"
        response = client.get("/stats")
        assert response.status_code == 503
        assert "redis unavailable" in response.json()["detail"]


def test_stats_counts_queues_rooms_sessions_and_matches(
    api: TestClient, service: ChatService
) -> None:
    pair(service, "a1", "b1")
    for cid, g, p in [
        ("w1", "male", "female"),
        ("w2", "male", "female"),
        ("w3", "female", "female"),
    ]:
        service.connect(cid)
        service.join(cid, g, p)
    service.connect("idle")
    body = api.get("/stats").json()
    lengths = {q["name"]: q["length"] for q in body["queues"]}
    assert len(lengths) == 6
    assert lengths["wait:chat:male:female"] == 2
    assert lengths["wait:chat:female:female"] == 1
    assert lengths["wait:chat:male:any"] == 0
    assert body["users_waiting"] == 3
    assert body["active_rooms"]["value"] == 1 and body["active_rooms"]["exact"] is True
    assert body["active_rooms"]["sampled_keys"] > 0
    assert body["live_sessions"]["value"] == 6 and body["live_sessions"]["exact"]
    assert body["last_minute"]["matches"] == 1
    assert body["last_hour"]["matches"] == 1
    # the waiter's wait and the joiner's 0 ms
    wait = body["last_hour"]["wait"]
    assert wait["samples"] == 2 and wait["median_ms"] == 0
    waiter = body["last_hour"]["waiter_wait"]
    assert waiter["samples"] == 1 and waiter["median_ms"] == waiter["p90_ms"] == wait["p90_ms"]
    assert body["last_minute"]["waiter_wait"] == waiter


def test_stats_series_has_one_point_per_minute_ending_now(
    api: TestClient, service: ChatService
) -> None:
    pair(service, "a1", "b1")
    pair(service, "a2", "b2")
    body = api.get("/stats/series", params={"minutes": 10}).json()
    points = body["minutes"]
    assert len(points) == 10
    assert [p["minute"] for p in points] == list(
        range(points[0]["minute"], points[-1]["minute"] + 1)
    )
    assert points[-1]["minute"] == body["time_ms"] // 60000
    assert sum(p["matches"] for p in points) == 2
    assert api.get("/stats/series", params={"minutes": 0}).status_code == 422
    # Queue depth: only minutes the sweeper sampled have one.
    assert all(p["depth"] is None and p["waiting"] is None for p in points)
    service.connect("w")
    service.join("w", "female", "any")
    make_sweeper(service.store.client, service.settings).run()
    last = api.get("/stats/series", params={"minutes": 10}).json()["minutes"][-1]
    assert last["waiting"] == 1 and last["depth"]["wait:chat:female:any"] == 1
    assert len(last["depth"]) == 6


def test_queue_pages_oldest_first_and_flags_stale_waiters(
    api: TestClient, service: ChatService, redis_client: redis.Redis, settings: Settings
) -> None:
    users = []
    for i in range(5):
        users.append(service.connect(f"q{i}"))
        service.join(f"q{i}", "male", "female")
        time.sleep(0.002)  # distinct enqueue milliseconds
    first = api.get("/queues/male/female", params={"limit": 2}).json()
    assert first["length"] == 5 and first["name"] == "wait:chat:male:female"
    assert [w["user_id"] for w in first["waiters"]] == users[:2]
    assert [w["position"] for w in first["waiters"]] == [0, 1]
    assert first["waiters"][0]["waited_ms"] >= first["waiters"][1]["waited_ms"]
    assert first["next_offset"] == 2
    last = api.get("/queues/male/female", params={"offset": 4, "limit": 2}).json()
    assert [w["user_id"] for w in last["waiters"]] == users[4:]
    assert last["next_offset"] is None
    assert not any(w["stale"] for w in first["waiters"])
    # the session of the oldest waiter expires (as after a lost $disconnect)
    redis_client.delete(Keys(settings.key_prefix).session(users[0]))
    again = api.get("/queues/male/female", params={"limit": 1}).json()
    assert again["waiters"][0]["stale"] is True


def test_queue_rejects_unknown_gender_and_bad_paging(api: TestClient) -> None:
    assert api.get("/queues/robot/any").status_code == 422
    assert api.get("/queues/male/robot").status_code == 422
    assert api.get("/queues/male/any", params={"limit": 10_000}).status_code == 422
    assert api.get("/queues/male/any", params={"offset": -1}).status_code == 422
    assert len(api.get("/queues").json()) == 6


def test_room_shows_members_age_and_ttl(
    api: TestClient, service: ChatService, settings: Settings
) -> None:
    room = pair(service, "a1", "b1")
    body = api.get(f"/rooms/{room}").json()
    assert [m["role"] for m in body["members"]] == ["a", "b"]
    assert [m["connection_id"] for m in body["members"]] == ["a1", "b1"]
    assert all(m["in_room"] for m in body["members"])
    assert 0 <= body["age_ms"] < 10_000
    assert 0 < body["ttl_s"] <= settings.room_ttl_s
    assert api.get("/rooms/no-such-room").status_code == 404
    service.leave("a1")
    assert api.get(f"/rooms/{room}").status_code == 404


def test_user_shows_session_room_queue_and_recent_partners(
    api: TestClient, service: ChatService, settings: Settings
) -> None:
    room = pair(service, "a1", "b1")
    notifier = service.notifier
    assert isinstance(notifier, RecordingNotifier)
    # Clients only ever see aliases: the ids are Redis's.
    uid_a = service.store.client.get(service.store.keys.connection("a1"))
    uid_b = service.store.client.get(service.store.keys.connection("b1"))
    body = api.get(f"/users/{uid_a}").json()
    assert body["session"]["connection_id"] == "a1"
    assert body["session"]["connection_live"] is True
    assert 0 < body["session"]["ttl_ms"] <= settings.session_ttl_s * 1000
    assert body["room"]["room_id"] == room
    assert body["queue_entry"] is None
    assert body["recent_partners"] == [uid_b] and body["recent_partners_total"] == 1

    waiter = service.connect("w1")
    service.join("w1", "female", "any")
    body = api.get(f"/users/{waiter}").json()
    assert body["room"] is None
    assert body["queue_entry"]["name"] == "wait:chat:female:any"
    assert body["queue_entry"]["position"] == 0 and body["queue_entry"]["waited_ms"] >= 0
    assert api.get("/users/nobody").status_code == 404


def test_reports_are_paged_newest_first(
    api: TestClient, redis_client: redis.Redis, settings: Settings
) -> None:
    empty = {"total": 0, "reports": [], "next_before": None, "pending": 0}
    assert api.get("/reports").json() == empty
    key = Keys(settings.key_prefix).reports()
    ids = [
        redis_client.xadd(
            key,
            {"reporter": f"u{i}", "reported": "x", "roomId": "r", "reason": "spam", "ts": i},
        )
        for i in range(5)
    ]
    page = api.get("/reports", params={"limit": 2}).json()
    assert page["total"] == 5
    assert [r["id"] for r in page["reports"]] == [ids[4], ids[3]]
    assert page["reports"][0]["reporter"] == "u4" and page["reports"][0]["room_id"] == "r"
    page2 = api.get("/reports", params={"limit": 2, "before": page["next_before"]}).json()
    assert [r["id"] for r in page2["reports"]] == [ids[2], ids[1]]
    page3 = api.get("/reports", params={"limit": 2, "before": page2["next_before"]}).json()
    assert [r["id"] for r in page3["reports"]] == [ids[0]] and page3["next_before"] is None
    assert api.get("/reports", params={"before": "nonsense"}).status_code == 422


def test_openapi_lists_every_route_and_docs_are_served(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    for path in [
        "/health",
        "/stats",
        "/queues/{gender}/{preference}",
        "/rooms/{room_id}",
        "/users/{user_id}",
        "/reports",
        "/shadow",
        "/shadow/{user_id}",
    ]:
        assert path in spec["paths"], path
    assert "swagger-ui" in api.get("/docs").text


def test_app_works_mounted_under_a_prefix(
    settings: Settings, redis_client: redis.Redis, service: ChatService
) -> None:
    ops = create_app()
    override(ops, settings, redis_client)
    parent = FastAPI()
    parent.mount("/ops", ops)
    pair(service, "a1", "b1")
    with TestClient(parent) as client:
        assert client.get("/ops/stats").json()["active_rooms"]["value"] == 1
        page = client.get("/ops/")
        assert page.status_code == 200
        assert 'src="static/dashboard.js"' in page.text
        assert client.get("/ops/static/dashboard.js").status_code == 200
        assert "/ops/openapi.json" in client.get("/ops/docs").text
        assert client.get("/health").status_code == 404  # nothing leaks outside the prefix


def test_works_on_fakeredis_as_pairchat_dev_may_use(settings: Settings) -> None:
    import fakeredis

    app = create_app()
    fake = fakeredis.FakeRedis(decode_responses=True)
    override(app, settings, fake)
    service = ChatService(ChatStore(fake, settings), RecordingNotifier(), settings)
    service.connect("a")
    service.join("a", "female", "any")
    with TestClient(app) as client:
        health = client.get("/health").json()
        assert health["status"] == "ok" and health["redis"] is True
        stats = client.get("/stats").json()
        assert stats["users_waiting"] == 1 and stats["live_sessions"]["value"] == 1
        assert client.get("/stats/series").status_code == 200
