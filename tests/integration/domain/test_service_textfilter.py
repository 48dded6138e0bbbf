"""The text filter inside ChatService.send, on real Redis: masked text reaches the partner,
a blocked message reaches nobody and writes nothing."""

from __future__ import annotations

import pytest
import redis

from pairchat.domain.errors import TextRefused
from pairchat.domain.service import ChatService
from pairchat.domain.store import ChatStore
from pairchat.domain.textfilter import TextFilter
from pairchat.settings import Settings
from tests.conftest import RecordingNotifier
from tests.support import pair

pytestmark = pytest.mark.integration


def service_with(
    mode: str, store: ChatStore, notifier: RecordingNotifier, settings: Settings
) -> ChatService:
    f = TextFilter(["badword", "strip club"], mode)  # type: ignore[arg-type]
    return ChatService(store, notifier, settings, text_filter=f)


def snapshot(r: redis.Redis) -> dict[str, object]:
    return {k: (r.type(k), r.dump(k)) for k in sorted(r.keys("*"))}


def test_mask_relays_the_masked_text(
    store: ChatStore, notifier: RecordingNotifier, settings: Settings
) -> None:
    svc = service_with("mask", store, notifier, settings)
    pair(svc, "a", "b")
    svc.send("a", "what a B4DWORD, see you at the strip club")
    assert notifier.last("b")["text"] == "what a *******, see you at the ***** ****"


def test_block_refuses_before_any_write(
    store: ChatStore, notifier: RecordingNotifier, settings: Settings, redis_client: redis.Redis
) -> None:
    svc = service_with("block", store, notifier, settings)
    pair(svc, "a", "b")
    before, frames_b = snapshot(redis_client), list(notifier.frames.get("b", []))
    with pytest.raises(TextRefused):
        svc.send("a", "badword")
    assert snapshot(redis_client) == before  # no rate counter, no TTL refresh: nothing
    assert notifier.frames.get("b", []) == frames_b
    svc.send("a", "a clean one")
    assert notifier.last("b")["text"] == "a clean one"
