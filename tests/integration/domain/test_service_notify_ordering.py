"""Who is told what, in which order, when connections die: the bug the old design had."""

from __future__ import annotations

import time

import pytest
import redis

from pairchat.domain.errors import NotInRoom
from pairchat.domain.service import ChatService
from pairchat.domain.store import ChatStore
from tests.conftest import RecordingNotifier

pytestmark = pytest.mark.integration


def test_matched_is_pushed_while_both_sessions_exist(
    service: ChatService, notifier: RecordingNotifier, store: ChatStore
) -> None:
    seen_sessions: list[bool] = []
    original = notifier.post

    def post(cid: str, frame: dict[str, object]) -> bool:
        if frame["type"] == "matched":
            seen_sessions.append(
                bool(store.client.exists(store.keys.session("u-a"), store.keys.session("u-b")) == 2)
            )
        return original(cid, frame)

    notifier.post = post  # type: ignore[method-assign]
    service.connect("ca", "u-a")
    service.connect("cb", "u-b")
    service.join("ca", "male", "any")
    service.join("cb", "female", "any")
    assert seen_sessions == [True, True]
    # and only then is the waiting state gone
    assert store.client.zcard(store.keys.queue("male", "any")) == 0


def test_dead_waiter_is_removed_and_joiner_rematched(
    service: ChatService, notifier: RecordingNotifier, store: ChatStore
) -> None:
    service.connect("dead", "u-dead")
    service.connect("alive", "u-alive")
    service.connect("joiner", "u-joiner")
    service.join("dead", "female", "male")
    time.sleep(0.003)
    service.join("alive", "female", "male")
    notifier.gone.add("dead")  # its socket died; $disconnect never came
    service.join("joiner", "male", "any")
    assert notifier.types("joiner") == ["matched"]
    room = notifier.last("joiner")["roomId"]
    assert notifier.last("joiner")["partnerId"] == service.alias(room, "u-alive")
    assert notifier.last("alive")["partnerId"] == service.alias(room, "u-joiner")
    assert not store.client.exists(store.keys.session("u-dead"))
    assert not store.client.exists(store.keys.connection("dead"))
    assert store.client.zcard(store.keys.queue("female", "male")) == 0
    rooms = [k for k in store.client.scan_iter(store.keys.pattern("room"))]
    assert len(rooms) == 1


def test_only_dead_waiters_leaves_the_joiner_queued(
    service: ChatService, notifier: RecordingNotifier, store: ChatStore
) -> None:
    for i in range(6):
        service.connect(f"dead{i}", f"u-dead{i}")
        service.join(f"dead{i}", "female", "male")
        notifier.gone.add(f"dead{i}")
    service.connect("joiner", "u-joiner")
    service.join("joiner", "male", "any")
    assert notifier.types("joiner") == ["queued"]
    assert store.client.zrange(store.keys.queue("male", "any"), 0, -1) == ["u-joiner"]
    assert not list(store.client.scan_iter(store.keys.pattern("room")))


def test_dead_joiner_ends_the_room_and_tells_the_waiter(
    service: ChatService, notifier: RecordingNotifier, store: ChatStore
) -> None:
    service.connect("waiter", "u-w")
    service.connect("joiner", "u-j")
    service.join("waiter", "female", "any")
    notifier.gone.add("joiner")
    service.join("joiner", "male", "any")
    assert notifier.types("waiter") == ["queued", "matched", "partner_left"]
    assert not list(store.client.scan_iter(store.keys.pattern("room")))
    assert not store.client.exists(store.keys.session("u-j"))
    with pytest.raises(NotInRoom):
        service.send("waiter", "hello?")


def test_gone_partner_found_while_relaying_ends_the_room(
    service: ChatService, notifier: RecordingNotifier, store: ChatStore
) -> None:
    service.connect("a", "u-a")
    service.connect("b", "u-b")
    service.join("a", "female", "any")
    service.join("b", "male", "any")
    notifier.gone.add("b")
    service.send("a", "are you there")
    assert notifier.last("a")["type"] == "partner_left"
    assert not store.client.exists(store.keys.session("u-b"))
    assert not store.client.hexists(store.keys.session("u-a"), "room")


def test_expired_partner_session_ends_the_room(
    service: ChatService, notifier: RecordingNotifier, store: ChatStore, redis_client: redis.Redis
) -> None:
    service.connect("a", "u-a")
    service.connect("b", "u-b")
    service.join("a", "female", "any")
    service.join("b", "male", "any")
    redis_client.delete(store.keys.session("u-b"))  # as if its TTL ran out
    service.send("a", "hello")
    assert notifier.last("a")["type"] == "partner_left"
    assert "b" not in notifier.frames or notifier.types("b")[-1] == "matched"


def test_partner_left_to_a_dead_partner_cleans_it_up(
    service: ChatService, notifier: RecordingNotifier, store: ChatStore
) -> None:
    service.connect("a", "u-a")
    service.connect("b", "u-b")
    service.join("a", "female", "any")
    service.join("b", "male", "any")
    notifier.gone.add("b")
    service.leave("a")
    assert not store.client.exists(store.keys.session("u-b"))
    assert notifier.last("a")["type"] == "left"


def test_disconnect_erases_everything_and_tells_the_partner(
    service: ChatService, notifier: RecordingNotifier, store: ChatStore
) -> None:
    service.connect("a", "u-a")
    service.connect("b", "u-b")
    service.join("a", "female", "any")
    service.join("b", "male", "any")
    service.disconnect("b")
    assert notifier.last("a")["type"] == "partner_left"
    assert not store.client.exists(store.keys.session("u-b"), store.keys.connection("b"))
    service.connect("c", "u-c")
    service.join("c", "female", "any")
    service.disconnect("c")
    assert store.client.zcard(store.keys.queue("female", "any")) == 0
