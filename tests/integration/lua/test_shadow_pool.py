"""The shadow pool's matching side: a user under a shadow cooldown (the key report.lua sets
when several people reported it) waits and searches in queues of its own, so it meets only
users in the same state, and nothing it is told differs."""

from __future__ import annotations

import pytest

from pairchat.domain.service import ChatService
from tests.conftest import RecordingNotifier

pytestmark = pytest.mark.integration


def shadow(service: ChatService, uid: str) -> None:
    service.store.client.set(service.store.keys.shadow(uid), "1", px=3_600_000)


def kinds(notifier: RecordingNotifier, cid: str) -> list[str]:
    return [f["type"] for f in notifier.frames[cid]]


def test_a_shadowed_user_meets_only_shadowed_users(
    service: ChatService, notifier: RecordingNotifier
) -> None:
    for cid in ("s1", "n1", "s2", "n2"):
        service.connect(cid, f"u-{cid}")
    shadow(service, "u-s1")
    shadow(service, "u-s2")
    service.join("s1", "male", "any")
    service.join("n1", "female", "any")  # compatible with s1, but not shadowed
    queued_n1 = notifier.last("n1")
    assert kinds(notifier, "s1") == ["queued"] and queued_n1["type"] == "queued"
    service.join("s2", "female", "any")  # shadowed too: pairs with s1
    assert notifier.last("s1")["type"] == "matched" and notifier.last("s2")["type"] == "matched"
    service.join("n2", "male", "any")  # pairs with n1, the normal waiter
    assert notifier.last("n1")["type"] == "matched" and notifier.last("n2")["type"] == "matched"
    # Nobody is told: a shadowed user's queued frame has the same fields as anyone's.
    assert notifier.frames["s1"][0].keys() == queued_n1.keys()


def test_interests_of_shadowed_users_are_in_their_own_index_and_leaving_cleans_it(
    service: ChatService, notifier: RecordingNotifier
) -> None:
    r, k = service.store.client, service.store.keys
    for cid in ("s1", "n1", "s2"):
        service.connect(cid, f"u-{cid}")
    shadow(service, "u-s1")
    service.join("s1", "male", "any", ("chess",), False)
    assert r.zcard(k.index("female", shadow=True)) == 1 and r.zcard(k.index("female")) == 0
    service.join("n1", "female", "any", ("chess",), False)  # shares chess, not shadowed
    assert notifier.last("n1")["type"] == "queued"
    service.leave("s1")
    assert r.zcard(k.index("female", shadow=True)) == 0 and r.zcard(k.index("male", True)) == 0
    shadow(service, "u-s2")
    service.join("s1", "male", "any", ("chess",), False)
    service.join("s2", "female", "any", ("chess",), False)
    assert notifier.last("s2")["type"] == "matched"
    assert notifier.last("s2")["commonInterests"] == ["chess"]


def test_the_sweeper_walks_the_shadow_queues_too(service: ChatService) -> None:
    store, r = service.store, service.store.client
    swept = dict(store.keys.swept())
    assert "wait:shadow:male:any" in swept and "wait:sint:female" in swept
    service.connect("s1", "u-s1")
    shadow(service, "u-s1")
    service.join("s1", "male", "any", ("chess",), False)
    service.join("s1", "male", "any")  # now open to anyone: in the shadow queue
    r.zadd(store.keys.queue_by_name("wait:shadow:male:any"), {"u-gone": 1})
    result = store.sweep_queue("wait:shadow:male:any", ["u-gone", "u-s1"])
    assert (result.removed, result.checked) == (1, 2)
    assert r.zrange(store.keys.queue_by_name("wait:shadow:male:any"), 0, -1) == ["u-s1"]
