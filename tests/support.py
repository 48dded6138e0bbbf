"""Test helpers shared by every tier: private servers (the product's launcher, on the test
engine), events, frame readers."""

from __future__ import annotations

import copy
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from pairchat_tools.local.redis_server import ENGINES, Engine, RedisServer, free_port
from pairchat_tools.local.redis_server import redis_server as launch

__all__ = ["free_port"]

EVENTS_DIR = Path(__file__).resolve().parent.parent / "infra" / "events"


def engine_under_test() -> Engine:
    """The engine the test servers run: ``PAIRCHAT_TEST_ENGINE=valkey`` (``make test`` runs
    the integration tier once more that way) or Redis, the default."""
    engine = os.environ.get("PAIRCHAT_TEST_ENGINE", "redis")
    if engine not in ENGINES:
        raise RuntimeError(f"PAIRCHAT_TEST_ENGINE={engine!r}: expected one of {ENGINES}")
    return cast(Engine, engine)


@contextmanager
def redis_server(
    *extra: str, port: int | None = None, engine: Engine | None = None
) -> Iterator[RedisServer]:
    """A private server of the test engine (or ``engine``) on a free loopback port, stopped
    afterwards."""
    with launch(*extra, engine=engine or engine_under_test(), port=port) as server:
        yield server


def load_event(
    route: str,
    connection_id: str = "Abc123=",
    body: Any = None,
    *,
    pool: str = "default",
    user_id: str | None = None,
    authenticated: bool = False,
) -> dict[str, Any]:
    """A sample API Gateway WebSocket event for a route, from infra/events/<route>.json, with
    the ``requestContext.authorizer`` the ``$connect`` authorizer would have attached: an
    anonymous user id (a new one for every ``$connect``, as the authorizer makes) in ``pool``.
    """
    name = route.lstrip("$")
    event: dict[str, Any] = copy.deepcopy(json.loads((EVENTS_DIR / f"{name}.json").read_text()))
    event["requestContext"]["connectionId"] = connection_id
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    uid = user_id or (f"a:{uuid.uuid4()}" if name == "connect" else "a:sample-user")
    event["requestContext"]["authorizer"] = {
        "principalId": uid,
        "userId": uid,
        "pool": pool,
        "authenticated": "true" if authenticated else "false",
        "integrationLatency": 0,
    }
    return event


def authorizer_event(connect_event: dict[str, Any]) -> dict[str, Any]:
    """The REQUEST authorizer's input for a ``$connect`` event (what API Gateway sends it)."""
    ctx = connect_event["requestContext"]
    return {
        "type": "REQUEST",
        "methodArn": f"arn:aws:execute-api:us-east-1:123456789012:{ctx['apiId']}/"
        f"{ctx['stage']}/$connect",
        "headers": connect_event.get("headers"),
        "multiValueHeaders": connect_event.get("multiValueHeaders"),
        "queryStringParameters": connect_event.get("queryStringParameters"),
        "multiValueQueryStringParameters": connect_event.get("multiValueQueryStringParameters"),
        "stageVariables": {},
        "requestContext": {k: v for k, v in ctx.items() if k != "authorizer"},
    }


def gateway_connect(
    event: dict[str, Any], service: Any, authenticator: Any = None
) -> dict[str, Any]:
    """``$connect`` as API Gateway runs it: the authorizer first (a Deny answers 403, an
    ``Unauthorized`` failure 401, any other failure 500), then, on Allow, the ``$connect``
    handler with the authorizer's context in ``requestContext.authorizer``."""
    from pairchat.adapters.auth import Authenticator
    from pairchat.handlers import authorizer, ws

    auth = authenticator or Authenticator.from_settings(service.settings)
    try:
        answer = authorizer.handle_authorize(
            authorizer_event(event), service.settings, auth, service.telemetry
        )
    except authorizer.Unauthorized:
        return {"statusCode": 401}
    except Exception:
        return {"statusCode": 500}
    (statement,) = answer["policyDocument"]["Statement"]
    if statement["Effect"] != "Allow":
        return {"statusCode": 403}
    event = copy.deepcopy(event)
    event["requestContext"]["authorizer"] = {
        "principalId": answer["principalId"],
        **answer["context"],
        "integrationLatency": 1,
    }
    result: dict[str, Any] = ws.handle_connect(event, service)
    return result


def split_frames(data: bytes) -> list[dict[str, Any]]:
    """moto appends every posted frame to one byte string: split it back into frames."""
    text = data.decode()
    decoder = json.JSONDecoder()
    frames, i = [], 0
    while i < len(text):
        obj, i = decoder.raw_decode(text, i)
        frames.append(obj)
    return frames


def make_sweeper(
    client: Any,
    settings: Any,
    notifier: Any = None,
    telemetry: Any = None,
    **bounds: int,
) -> Any:
    """A :class:`Sweeper` over ``client``; ``notifier=None`` sweeps without telling anyone."""
    from pairchat.bootstrap import Unannounced
    from pairchat.domain.service import ChatService
    from pairchat.domain.store import ChatStore
    from pairchat.domain.sweeper import Sweeper

    service = ChatService(
        ChatStore(client, settings), notifier or Unannounced(), settings, telemetry
    )
    return Sweeper(service, announce=notifier is not None, **bounds)


def pair(service: Any, a: str, b: str, *, token: bool = False) -> tuple[str, str]:
    """Connects ``a`` and ``b`` (user ids ``u-a``/``u-b``) and puts them in one room."""
    service.connect(a, f"u-{a}", authenticated=token)
    service.connect(b, f"u-{b}", authenticated=token)
    service.join(a, "male", "any")
    service.join(b, "female", "any")
    rid = service.store.client.hget(service.store.keys.session(f"u-{a}"), "room")
    assert rid, "the two should have been paired"
    return f"u-{a}", f"u-{b}"


def relax_now(client: Any, keys: Any, user_id: str) -> bool:
    """Lets ``user_id``'s relaxation time pass at once (as if MATCH_RELAX_SECONDS had run):
    its wait state's deadline and its relaxation entry move to the epoch. False when it has
    no pending relaxation (no interests, fallback off, already open, or not waiting)."""
    from pairchat.domain.store import WaitState

    raw = client.hget(keys.session(user_id), "w")
    state = WaitState.parse(raw)
    if state is None or not state.rd or state.open or not state.fallback:
        return False
    client.hset(keys.session(user_id), "w", state.with_rd("0"))
    if client.zscore(keys.relax(), user_id) is not None:
        client.zadd(keys.relax(), {user_id: 0})
    return True


def keyspace(client: Any) -> dict[str, Any]:
    """Every key of a (private, test) Redis with its value: two snapshots compare equal when
    nothing was written in between, rate counters and sorted sets included."""
    out: dict[str, Any] = {}
    for key in client.scan_iter():
        kind = client.type(key)
        if kind == "hash":
            out[key] = client.hgetall(key)
        elif kind == "zset":
            out[key] = client.zrange(key, 0, -1, withscores=True)
        elif kind == "set":
            out[key] = client.smembers(key)
        elif kind == "list":
            out[key] = client.lrange(key, 0, -1)
        elif kind == "stream":
            out[key] = client.xrange(key)
        else:
            out[key] = client.get(key)
    return out
