"""Fixtures of the ops tier: the FastAPI app pointed at the test Redis via overrides."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pairchat.settings import Settings
from pairchat_ops.api import create_app
from pairchat_ops.deps import get_redis, get_settings


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
