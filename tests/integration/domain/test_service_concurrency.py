"""Hundreds of users joining at once from many threads against one real redis-server."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis

from pairchat.domain.keys import GENDERS, PREFERENCES
from pairchat.domain.service import ChatService
from pairchat.domain.store import ChatStore
from pairchat.settings import Settings
from tests.invariants import check, compatible_pairs_waiting

pytestmark = pytest.mark.integration


class ThreadSafeNotifier:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.frames: dict[str, list[dict[str, Any]]] = {}

    def post(self, connection_id: str, frame: dict[str, Any]) -> bool:
        with self.lock:
            self.frames.setdefault(connection_id, []).append(frame)
        return True


@pytest.mark.parametrize("seed", [1, 2])
def test_concurrent_joins(
    redis_url: str, redis_client: redis.Redis, settings: Settings, seed: int
) -> None:
    users = 400
    rng = random.Random(seed)
    prefs = {f"c{i}": (rng.choice(GENDERS), rng.choice(PREFERENCES)) for i in range(users)}
    pool = redis.ConnectionPool.from_url(redis_url, decode_responses=True, max_connections=64)
    store = ChatStore(redis.Redis(connection_pool=pool), settings)
    notifier = ThreadSafeNotifier()
    service = ChatService(store, notifier, settings)

    def user(cid: str) -> None:
        service.connect(cid, "u" + cid[1:])
        service.join(cid, *prefs[cid])

    with ThreadPoolExecutor(max_workers=32) as executor:
        list(executor.map(user, list(prefs)))

    state = check(redis_client, store.keys)
    # Everyone is either in exactly one room or waiting in exactly one queue.
    in_rooms = {u for pair in state.rooms.values() for u in pair}
    assert len(in_rooms) == 2 * len(state.rooms)
    assert len(in_rooms) + len(state.queued) == users
    assert state.rooms, "nobody was matched"
    # Nobody was told `matched` twice, and what they were told is what Redis holds.
    for cid, frames in notifier.frames.items():
        matched = [f for f in frames if f["type"] == "matched"]
        assert len(matched) <= 1, f"{cid} matched twice"
        uid = "u" + cid[1:]
        if matched:
            a, b = state.rooms[matched[0]["roomId"]]
            partner = b if uid == a else a
            assert uid in (a, b)
            assert matched[0]["partnerId"] == service.alias(matched[0]["roomId"], partner)
        else:
            assert uid in state.queued
    # No two compatible users are left waiting (nobody has recent partners here).
    assert compatible_pairs_waiting(state) == []
