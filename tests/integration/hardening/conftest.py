"""Fixtures for the hardening tests: services with tuned settings on the private Redis."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
import redis

from pairchat.domain.service import ChatService
from pairchat.domain.store import ChatStore
from pairchat.settings import Settings
from tests.conftest import RecordingNotifier

MakeService = Callable[..., ChatService]


@pytest.fixture
def make_service(
    redis_client: redis.Redis, settings: Settings, notifier: RecordingNotifier
) -> MakeService:
    """A service on the test Redis whose settings differ from the defaults by ``overrides``."""

    def make(**overrides: Any) -> ChatService:
        s = replace(settings, **overrides)
        return ChatService(ChatStore(redis_client, s), notifier, s)

    return make


def pair(service: ChatService, a: str, b: str, *, token: bool = False) -> tuple[str, str]:
    """Connects ``a`` and ``b`` (user ids ``u-a``/``u-b``) and puts them in one room."""
    service.connect(a, f"u-{a}", authenticated=token)
    service.connect(b, f"u-{b}", authenticated=token)
    service.join(a, "male", "any")
    service.join(b, "female", "any")
    rid = service.store.client.hget(service.store.keys.session(f"u-{a}"), "room")
    assert rid, "the two should have been paired"
    return f"u-{a}", f"u-{b}"
