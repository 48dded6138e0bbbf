"""Fixtures of the integration tier: services with tuned settings and the ops app, both on
the private test Redis."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pairchat.domain.service import ChatService
from pairchat.domain.store import ChatStore
from pairchat.settings import Settings
from pairchat_ops.api import create_app
from pairchat_ops.deps import get_redis, get_settings
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


def override(app: FastAPI, settings: Settings, client: object) -> None:
    app.dependency_overrides[get_settings] = lambda: settings
    app.dependency_overrides[get_redis] = lambda: client


@pytest.fixture
def ops_app(settings: Settings, redis_client: redis.Redis) -> FastAPI:
    app = create_app()
    override(app, settings, redis_client)
    return app


@pytest.fixture
def api(ops_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(ops_app) as client:
        yield client
