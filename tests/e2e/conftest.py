"""End-to-end fixtures: `pairchat dev` on a free port with its own private redis-server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis

from tests.e2e.devserver import DevServer, dev_server
from tests.support import redis_server


@dataclass
class Gateway:
    server: DevServer
    redis_url: str

    @property
    def ws_url(self) -> str:
        return self.server.ws_url

    @property
    def http_url(self) -> str:
        return self.server.http_url


@pytest.fixture(scope="session")
def gateway_session() -> Iterator[Gateway]:
    """One stack per xdist worker: the real handlers, wired from template.yaml."""
    with redis_server() as private:
        url = private.url
        # No minimum room age: the tests report seconds after matching (test_reports.py
        # runs its own stack with the defaults).
        with dev_server(
            "--log-level",
            "warning",
            "--env",
            "REPORT_MIN_ROOM_AGE_SECONDS=0",
            env={"REDIS_URL": url},
        ) as server:
            yield Gateway(server, url)


@pytest.fixture
def gateway(gateway_session: Gateway) -> Iterator[Gateway]:
    """The stack with an empty Redis (it is our private server, never the machine's)."""
    client = redis.Redis.from_url(gateway_session.redis_url)
    client.flushall()
    client.close()
    yield gateway_session


@pytest.fixture
def gateway_redis(gateway: Gateway) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(gateway.redis_url, decode_responses=True)
    yield client
    client.close()
