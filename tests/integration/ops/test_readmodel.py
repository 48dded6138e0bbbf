"""Bounded counting: past its SCAN budget the read model estimates, and says so."""

from __future__ import annotations

import pytest
import redis
from fastapi.testclient import TestClient

from pairchat.domain.service import ChatService
from pairchat.settings import Settings
from pairchat_ops.readmodel import ReadModel

pytestmark = pytest.mark.integration


def test_counts_are_exact_within_the_budget_and_estimated_past_it(
    redis_client: redis.Redis, settings: Settings, service: ChatService
) -> None:
    for i in range(400):
        service.connect(f"c{i}")  # a session key and a connection key each
    rooms, sessions = ReadModel(redis_client, settings).census()
    assert sessions.value == 400 and sessions.exact and rooms.value == 0
    assert sessions.sampled_keys == 802  # and the pool hash and the online set

    calls = []
    original = redis_client.scan

    def counting_scan(*args: object, **kwargs: object) -> object:
        calls.append(kwargs.get("count"))
        return original(*args, **kwargs)  # type: ignore[arg-type]

    redis_client.scan = counting_scan  # type: ignore[method-assign]
    rooms, sessions = ReadModel(redis_client, settings, scan_budget=200, scan_count=50).census()
    assert not sessions.exact and 200 <= sessions.sampled_keys < 800
    assert len(calls) <= 200 // 50 + 1  # bounded work, whatever the keyspace
    # about half of the sampled keys are sessions: the estimate is near 400
    assert 250 <= sessions.value <= 550, sessions


def test_stats_sample_raises_the_budget_within_a_cap(api: TestClient, service: ChatService) -> None:
    for i in range(300):
        service.connect(f"c{i}")
    assert api.get("/stats", params={"sample": 100}).json()["live_sessions"]["exact"] is False
    body = api.get("/stats", params={"sample": 5000}).json()
    assert body["live_sessions"] == {"value": 300, "exact": True, "sampled_keys": 602}
    assert api.get("/stats", params={"sample": 10**6}).status_code == 422
