"""The emulator's API Gateway contract, through handlers that record what they are given.

tests/e2e/lambda_src/template.yaml wires recording_handlers.py next to it with other
intrinsic forms than template.yaml uses (long-form Fn::Sub, Fn::Join, GetAtt, a relative
CodeUri, a route response), so these tests also show the wiring is read from the template.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.e2e.devserver import Client, DevServer, dev_server
from tests.support import EVENTS_DIR, redis_server

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-contract")]

LAMBDA_SRC = Path(__file__).resolve().parent / "lambda_src"
IDLE_S = 2.5
LIFETIME_S = 5.0
CONNECTION_ID = re.compile(r"^[A-Za-z0-9]{15}=$")

TEMPLATE = LAMBDA_SRC / "template.yaml"


class Contract:
    def __init__(self, server: DevServer, redis_url: str) -> None:
        self.server = server
        self.redis = redis.Redis.from_url(redis_url, decode_responses=True)

    @property
    def url(self) -> str:
        return self.server.ws_url

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(e) for e in self.redis.lrange("events", 0, -1)]

    def wait_for(self, route: str, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Every recorded invocation, once one for ``route`` is among them."""
        deadline = time.monotonic() + timeout
        while True:
            seen = self.events()
            if any(s["event"]["requestContext"]["routeKey"] == route for s in seen):
                return seen
            assert time.monotonic() < deadline, f"no {route} invocation: {seen}"
            time.sleep(0.05)


@pytest.fixture(scope="session")
def contract_stack() -> Iterator[Contract]:
    with redis_server() as private:
        url = private.url
        args = ("--template", str(TEMPLATE), "--log-level", "warning")
        limits = ("--idle-timeout", str(IDLE_S), "--max-lifetime", str(LIFETIME_S))
        with dev_server(*args, *limits, env={"REDIS_URL": url}) as server:
            yield Contract(server, url)


@pytest.fixture
def contract(contract_stack: Contract) -> Contract:
    contract_stack.redis.delete("events", "authorizer")
    return contract_stack


def sample(route: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS_DIR / f"{route}.json").read_text())
    return data


def test_events_are_shaped_like_api_gateways(contract: Contract) -> None:
    async def scenario() -> None:
        ws = await connect(
            contract.url + "?lang=en&lang=de&x=1",
            compression=None,
            additional_headers={"User-Agent": "contract-test/1.0"},
        )
        await ws.send(json.dumps({"action": "ping"}))
        assert await ws.recv() == "pong"  # the route response
        await ws.send(b"\x00\x01binary")
        contract.wait_for("$default")
        await ws.close(1000, "bye")

    asyncio.run(scenario())
    seen = contract.wait_for("$disconnect")
    by_route = {s["event"]["requestContext"]["routeKey"]: s for s in seen}
    assert set(by_route) == {"$connect", "ping", "$default", "$disconnect"}
    connect_ev = by_route["$connect"]["event"]
    message_ev = by_route["ping"]["event"]
    binary_ev = by_route["$default"]["event"]
    disconnect_ev = by_route["$disconnect"]["event"]

    # The same fields as API Gateway's events (infra/events holds one per route).
    for ours, theirs in (
        (connect_ev, sample("connect")),
        (message_ev, sample("send")),
        (disconnect_ev, sample("disconnect")),
    ):
        assert set(ours) == set(theirs)
        assert set(ours["requestContext"]) == set(theirs["requestContext"])
        assert set(ours["requestContext"]["identity"]) == set(theirs["requestContext"]["identity"])

    contexts = [e["requestContext"] for e in (connect_ev, message_ev, binary_ev, disconnect_ev)]
    cid = contexts[0]["connectionId"]
    assert CONNECTION_ID.match(cid)
    assert {c["connectionId"] for c in contexts} == {cid}
    assert {c["connectedAt"] for c in contexts} == {contexts[0]["connectedAt"]}
    assert len({c["requestId"] for c in contexts}) == 4
    assert [c["eventType"] for c in contexts] == ["CONNECT", "MESSAGE", "MESSAGE", "DISCONNECT"]
    port = contract.url.split(":")[2].split("/")[0]
    for c in contexts:
        assert c["stage"] == "test"
        assert c["domainName"] == f"127.0.0.1:{port}"
        assert c["identity"]["sourceIp"] == "127.0.0.1"
        assert c["messageDirection"] == "IN"
        assert c["requestTimeEpoch"] >= c["connectedAt"]
        assert re.match(r"^\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000$", c["requestTime"])
    assert contexts[0]["identity"]["userAgent"] == "contract-test/1.0"
    assert CONNECTION_ID.match(message_ev["requestContext"]["messageId"])

    assert connect_ev["headers"]["Host"] == f"127.0.0.1:{port}"
    assert connect_ev["headers"]["Sec-WebSocket-Key"]
    assert connect_ev["queryStringParameters"] == {"lang": "de", "x": "1"}
    assert connect_ev["multiValueQueryStringParameters"] == {"lang": ["en", "de"], "x": ["1"]}
    assert message_ev["body"] == '{"action": "ping"}' and message_ev["isBase64Encoded"] is False
    assert binary_ev["isBase64Encoded"] is True and binary_ev["body"] == "AAFiaW5hcnk="
    assert disconnect_ev["requestContext"]["disconnectStatusCode"] == 1000
    assert disconnect_ev["requestContext"]["disconnectReason"] == "bye"

    # A Lambda-like context, and the template's environment with the local overrides.
    ctx = by_route["$connect"]["context"]
    assert ctx["function_name"].endswith("ConnectFn")
    assert by_route["ping"]["context"]["function_name"].endswith("MessageFn")
    assert 0 < ctx["remaining_ms"] <= 7000
    assert ctx["memory_limit_in_mb"] == "256"
    assert ctx["invoked_function_arn"].startswith("arn:aws:lambda:")
    assert by_route["$connect"]["env"] == {
        "PAIRCHAT_TEST": "from-template",
        "REDIS_CLUSTER": "false",
    }


def test_the_connect_authorizer_runs_first_and_its_context_rides_on_every_event(
    contract: Contract,
) -> None:
    """As API Gateway: the REQUEST authorizer named by $connect's AuthorizerId gets the
    upgrade request (shaped like infra/events/authorizer.json), and its context, with
    principalId and integrationLatency, is requestContext.authorizer of $connect and of
    every later event of the connection."""

    async def scenario() -> None:
        c = await Client.open(contract.url + "?pool=es")
        await c.send({"action": "ping"})
        assert await c.ws.recv() == "pong"
        await c.close()

    asyncio.run(scenario())
    seen = contract.wait_for("$disconnect")
    (request,) = [json.loads(e) for e in contract.redis.lrange("authorizer", 0, -1)]
    theirs = sample("authorizer")
    assert set(request) == set(theirs)
    assert set(request["requestContext"]) == set(theirs["requestContext"])
    assert request["type"] == "REQUEST" and request["queryStringParameters"] == {"pool": "es"}
    api, stage = request["requestContext"]["apiId"], request["requestContext"]["stage"]
    assert (
        request["methodArn"] == f"arn:aws:execute-api:us-east-1:000000000000:{api}/{stage}/$connect"
    )
    contexts = [s["event"]["requestContext"] for s in seen]
    assert {c["routeKey"] for c in contexts} == {"$connect", "ping", "$disconnect"}
    for c in contexts:
        auth = c["authorizer"]
        assert {k: auth[k] for k in ("who", "n", "flag", "principalId")} == {
            "who": "tester",
            "n": 7,
            "flag": True,
            "principalId": "tester",
        }
        assert isinstance(auth["integrationLatency"], int)
    # the same keys as API Gateway's events (infra/events), the context included
    assert set(contexts[0]) == set(sample("connect")["requestContext"])


@pytest.mark.parametrize(
    ("mode", "status"),
    [("deny", 403), ("elsewhere", 403), ("unauthorized", 401), ("boom", 500), ("nested", 500)],
)
def test_what_the_authorizer_answers_decides_the_upgrade(
    contract: Contract, mode: str, status: int
) -> None:
    """Deny (or an Allow for another resource) is 403, an ``Unauthorized`` failure 401, any
    other failure or a context API Gateway cannot pass on 500; $connect never runs."""

    async def scenario() -> int:
        with pytest.raises(InvalidStatus) as refused:
            await connect(contract.url + f"?authz={mode}", compression=None)
        return int(refused.value.response.status_code)

    assert asyncio.run(scenario()) == status
    assert contract.redis.llen("authorizer") == 1
    assert contract.events() == [], "a refused connection reaches no handler"


def test_connect_refused_when_the_handler_returns_non_2xx(contract: Contract) -> None:
    async def scenario() -> None:
        with pytest.raises(InvalidStatus) as refused:
            await connect(contract.url + "?deny=1", compression=None)
        assert refused.value.response.status_code == 401
        with pytest.raises(InvalidStatus) as failed:
            await connect(contract.url + "?boom=1", compression=None)
        assert failed.value.response.status_code == 500
        ok = await Client.open(contract.url)  # and the gateway keeps serving
        await ok.send({"action": "ping"})
        assert await ok.ws.recv() == "pong"
        await ok.close()

    asyncio.run(scenario())
    seen = contract.wait_for("$disconnect")
    routes = [s["event"]["requestContext"]["routeKey"] for s in seen]
    # Refused connections never existed: only the accepted one has a $disconnect.
    assert routes.count("$connect") == 3 and routes.count("$disconnect") == 1


def test_a_handler_that_raises_gets_api_gateways_error_frame(contract: Contract) -> None:
    async def scenario() -> None:
        c = await Client.open(contract.url)
        await c.send({"action": "boom"})
        error = await c.recv()
        boom = next(
            s["event"]["requestContext"]
            for s in contract.events()
            if s["event"]["requestContext"]["routeKey"] == "boom"
        )
        assert error == {
            "message": "Internal server error",
            "connectionId": boom["connectionId"],
            "requestId": boom["requestId"],
        }
        await c.send({"action": "ping"})  # the connection and the gateway carry on
        assert await c.ws.recv() == "pong"
        await c.close()

    asyncio.run(scenario())


def test_handlers_run_in_worker_processes_that_are_replaced_when_they_die(
    contract: Contract,
) -> None:
    async def scenario() -> None:
        c = await Client.open(contract.url)
        await c.send({"action": "crash"})
        error = await c.recv()
        assert error["message"] == "Internal server error"
        for _ in range(4):  # whichever worker takes it, a live one answers
            await c.send({"action": "ping"})
            assert await c.ws.recv() == "pong"
        await c.close()

    asyncio.run(scenario())
    deadline = time.monotonic() + 10
    while True:  # until this connection's $disconnect (the previous test's may be here too)
        seen = contract.events()
        crash = next(s for s in seen if s["event"].get("body") == '{"action": "crash"}')
        cid = crash["event"]["requestContext"]["connectionId"]
        mine = [s for s in seen if s["event"]["requestContext"]["connectionId"] == cid]
        if mine[-1]["event"]["requestContext"]["routeKey"] == "$disconnect":
            break
        assert time.monotonic() < deadline, mine
        time.sleep(0.05)
    assert contract.server.proc.pid not in {s["pid"] for s in seen}, "ran in the gateway process"
    after = mine[mine.index(crash) + 1 :]  # four pings and the $disconnect
    trace = [(s["event"]["requestContext"]["routeKey"], s["pid"]) for s in mine]
    assert len(after) == 5 and crash["pid"] not in {s["pid"] for s in after}, trace
    assert "exited (code 3); starting another" in contract.server.output()


def test_handlers_post_through_the_stock_boto3_client(contract: Contract) -> None:
    async def scenario() -> None:
        c = await Client.open(contract.url)
        await c.send({"action": "echo", "n": 42})
        assert await c.recv() == {"action": "echo", "n": 42}
        await c.close()

    asyncio.run(scenario())


def test_idle_connections_are_closed_with_1001(contract: Contract) -> None:
    async def scenario() -> float:
        c = await Client.open(contract.url)
        started = time.monotonic()
        with pytest.raises(ConnectionClosed) as closed:
            await c.recv(timeout=IDLE_S + 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        return time.monotonic() - started

    waited = asyncio.run(scenario())
    assert IDLE_S - 0.5 <= waited <= IDLE_S + 3
    # Only this connection's $disconnect: the previous test's may land after the reset.
    deadline = time.monotonic() + 10
    while True:
        contexts = [s["event"]["requestContext"] for s in contract.events()]
        cid = next(c["connectionId"] for c in contexts if c["routeKey"] == "$connect")
        gone = [c for c in contexts if c["routeKey"] == "$disconnect" and c["connectionId"] == cid]
        if gone or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert gone and gone[0]["disconnectStatusCode"] == 1001


def test_connections_are_closed_at_the_maximum_lifetime(contract: Contract) -> None:
    async def scenario() -> float:
        c = await Client.open(contract.url)
        started = time.monotonic()
        with pytest.raises(ConnectionClosed) as closed:
            while True:  # busy, never idle
                await c.send({"action": "ping"})
                assert await c.ws.recv() == "pong"
                await asyncio.sleep(0.4)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        return time.monotonic() - started

    lived = asyncio.run(scenario())
    assert LIFETIME_S - 0.5 <= lived <= LIFETIME_S + 3
