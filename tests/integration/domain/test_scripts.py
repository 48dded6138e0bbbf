"""A Redis error raised inside a spliced script names the file and line it came from."""

from __future__ import annotations

import pytest
import redis
from redis.exceptions import RedisError, ResponseError

from pairchat.domain.scripts import lua_dir
from pairchat.domain.store import ChatStore

pytestmark = pytest.mark.integration


def line_of(file: str, text: str) -> int:
    lines = (lua_dir() / file).read_text().splitlines()
    found = [n for n, line in enumerate(lines, 1) if text in line]
    assert len(found) == 1, (file, text, found)
    return found[0]


def test_an_error_in_an_included_helper_names_the_helper_file(
    store: ChatStore, redis_client: redis.Redis
) -> None:
    store.open_session("c1", "u1")
    redis_client.delete(store.keys.session("u1"))
    redis_client.set(store.keys.session("u1"), "not a hash")  # resolve()'s HMGET meets a string
    with pytest.raises(ResponseError) as caught:
        store.heartbeat("c1", "r1")
    line = line_of("includes/resolve.lua", "'conn', ...) -- by the connection key")
    assert f"(includes/resolve.lua:{line} in heartbeat.lua)" in str(caught.value)
    assert "WRONGTYPE" in str(caught.value)
    # still a RedisError: the handlers' mapping of Redis failures is unchanged
    assert isinstance(caught.value, RedisError)


def test_an_error_in_the_script_body_names_the_script_line(
    store: ChatStore, redis_client: redis.Redis
) -> None:
    store.open_session("ca", "ua")
    store.open_session("cb", "ub")
    store.match("ca", "join", "male", "any", "r1")
    assert store.match("cb", "join", "female", "any", "r2").matched
    redis_client.set(store.keys.reporters("ub"), "not a sorted set")
    with pytest.raises(ResponseError) as caught:
        store.report("ca")
    line = line_of("report.lua", "redis.call('ZREMRANGEBYSCORE', rk")
    assert f"(report.lua:{line})" in str(caught.value)
    assert "user_script:" in str(caught.value)  # Redis's own number is kept beside it
