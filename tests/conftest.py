"""Shared fixtures: a private redis-server per session, settings, a store, notifiers."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from pairchat.domain.ports import ReportNotStored
from pairchat.domain.reports import ReportRecord
from pairchat.domain.service import ChatService
from pairchat.domain.store import ChatStore
from pairchat.settings import Settings
from tests.support import engine_under_test, redis_server

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "pairchat-tests")
# `pairchat dev` records itself in $XDG_RUNTIME_DIR/pairchat and the CLI reads it from there
# (pairchat_tools.devstate): every test process gets a private one, so a dev stack a test
# starts is never found by the developer's own CLI, and a test's CLI never finds theirs.
_XDG = tempfile.mkdtemp(prefix="pairchat-tests-xdg-")
os.environ["XDG_RUNTIME_DIR"] = _XDG
atexit.register(shutil.rmtree, _XDG, ignore_errors=True)


class RecordingNotifier:
    """An in-memory notifier: records frames per connection; ``gone`` ids answer 410."""

    def __init__(self) -> None:
        self.frames: dict[str, list[dict[str, Any]]] = {}
        self.gone: set[str] = set()
        self.calls: list[str] = []

    def post(self, connection_id: str, frame: dict[str, Any]) -> bool:
        self.calls.append(connection_id)
        if connection_id in self.gone:
            return False
        self.frames.setdefault(connection_id, []).append(frame)
        return True

    def types(self, connection_id: str) -> list[str]:
        return [f["type"] for f in self.frames.get(connection_id, [])]

    def last(self, connection_id: str) -> dict[str, Any]:
        return self.frames[connection_id][-1]


class RecordingReports:
    """An in-memory report store (:class:`~pairchat.domain.ports.ReportSink`); ``failing``
    makes every write fail as a store that is down does."""

    def __init__(self) -> None:
        self.items: dict[str, ReportRecord] = {}
        self.failing = False
        self.attempts = 0

    def put(self, report: ReportRecord) -> None:
        self.attempts += 1
        if self.failing:
            raise ReportNotStored("the test store is down")
        self.items[report.id] = report

    def all(self) -> list[ReportRecord]:
        """In the order they were first written."""
        return list(self.items.values())


def pytest_report_header() -> str:
    return f"test engine: {engine_under_test()} (PAIRCHAT_TEST_ENGINE)"


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with redis_server() as server:
        yield server.url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.flushall()  # our own private server, never the machine's
    yield client
    client.close()


@pytest.fixture
def settings(redis_url: str) -> Settings:
    # No minimum room age: tests pair and report in the same millisecond
    # (tests/integration/lua/test_report.py covers the minimum).
    return Settings(
        redis_url=redis_url,
        key_prefix="{pc}:",
        management_endpoint="http://x",
        report_min_room_age_s=0,
    )


@pytest.fixture
def store(redis_client: redis.Redis, settings: Settings) -> ChatStore:
    return ChatStore(redis_client, settings)


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def service(store: ChatStore, notifier: RecordingNotifier, settings: Settings) -> ChatService:
    return ChatService(store, notifier, settings)
