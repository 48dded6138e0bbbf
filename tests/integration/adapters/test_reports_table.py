"""The DynamoDB report store (stdlib HTTP, SigV4) against moto's DynamoDB server on loopback,
and the ops API reading it with paging; retries and failures against a loopback stub."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
import redis
from fastapi.testclient import TestClient
from moto.server import ThreadedMotoServer

from pairchat.adapters.management import Credentials
from pairchat.adapters.reports_table import DynamoDbReports, ReportStoreUnavailable
from pairchat.domain.ports import ReportNotStored
from pairchat.domain.reports import REPORT_ID, ReportRecord
from pairchat.domain.service import ChatService
from pairchat.domain.store import ChatStore
from pairchat.settings import Settings
from pairchat_ops.api import create_app
from pairchat_ops.deps import get_report_store
from tests.conftest import RecordingNotifier
from tests.integration.conftest import override

pytestmark = pytest.mark.integration

CREDS = Credentials("testing", "testing")
REGION = "us-east-1"


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def table(moto_endpoint: str, request: pytest.FixtureRequest) -> str:
    """A fresh table with the template's key schema (pk, sk) and TTL attribute."""
    name = f"reports-{request.node.name[-40:]}-{time.monotonic_ns()}".replace("[", "-")[:200]
    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
    client = boto3.client(
        "dynamodb",
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    client.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"}
    )
    return name


@pytest.fixture
def store(moto_endpoint: str, table: str) -> DynamoDbReports:
    return DynamoDbReports(table, REGION, CREDS, endpoint=moto_endpoint, retention_days=30)


def record(pool: str, ts: int, reporter: str, reason: str = "spam") -> ReportRecord:
    return ReportRecord.new(pool, ts, reporter, f"x-{reporter}", f"room-{reporter}", reason)


def test_put_writes_the_item_the_table_expects(
    store: DynamoDbReports, moto_endpoint: str, table: str
) -> None:
    r = record("en", 1_790_000_000_123, "u-a", "rude: «ça» 😡")
    store.put(r)
    client = boto3.client(
        "dynamodb",
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    item = client.get_item(TableName=table, Key={"pk": {"S": "en"}, "sk": {"S": r.id}})["Item"]
    assert item["reporter"] == {"S": "u-a"} and item["reported"] == {"S": "x-u-a"}
    assert item["roomId"] == {"S": "room-u-a"} and item["reason"] == {"S": "rude: «ça» 😡"}
    assert item["ts"] == {"N": "1790000000123"}
    assert item["expires"] == {"N": str(1_790_000_000 + 30 * 86400)}
    assert REPORT_ID.match(r.id)
    store.put(r)  # the same report again: the same item
    assert client.scan(TableName=table)["Count"] == 1
    store.put(record("en", 1_790_000_000_124, "u-b", reason=""))
    empty = client.get_item(
        TableName=table,
        Key={"pk": {"S": "en"}, "sk": {"S": record("en", 1_790_000_000_124, "u-b").id}},
    )["Item"]
    assert "reason" not in empty


def test_pages_come_newest_first_per_pool(store: DynamoDbReports) -> None:
    for i in range(5):
        store.put(record("en", 1_790_000_000_000 + i, f"u{i}"))
    store.put(record("es", 1_790_000_000_002, "other-pool"))
    first, more = store.page("en", None, 2)
    assert [r.reporter for r in first] == ["u4", "u3"] and more
    second, more = store.page("en", first[-1].id, 2)
    assert [r.reporter for r in second] == ["u2", "u1"] and more
    last, more = store.page("en", second[-1].id, 2)
    assert [r.reporter for r in last] == ["u0"] and not more
    assert [r.reporter for r in store.page("es")[0]] == ["other-pool"]
    assert store.page("fr") == ([], False)


def test_a_missing_table_is_not_stored_and_not_retried(moto_endpoint: str) -> None:
    store = DynamoDbReports("no-such-table", REGION, CREDS, endpoint=moto_endpoint)
    with pytest.raises(ReportNotStored, match="ResourceNotFoundException"):
        store.put(record("en", 1, "u"))
    with pytest.raises(ReportStoreUnavailable):
        store.page("en")


class Stub:
    """A loopback DynamoDB that answers the statuses of ``script`` in turn, then 200."""

    def __init__(self) -> None:
        self.script: list[tuple[int, str]] = []
        self.calls: list[dict[str, str]] = []


@pytest.fixture
def stub() -> Iterator[tuple[Stub, str]]:
    state = Stub()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.calls.append({k.lower(): v for k, v in self.headers.items()})
            status, kind = state.script.pop(0) if state.script else (200, "")
            payload = json.dumps(
                {"__type": f"com.amazonaws.dynamodb.v20120810#{kind}"} if kind else {}
            )
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload.encode())

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_throttling_and_5xx_are_retried_then_the_write_fails(stub: tuple[Stub, str]) -> None:
    state, url = stub
    store = DynamoDbReports("t", REGION, CREDS, endpoint=url, max_attempts=3)
    state.script = [(400, "ThrottlingException"), (500, "InternalServerError")]
    store.put(record("en", 1, "u"))  # the third attempt succeeds
    assert len(state.calls) == 3
    assert {c["x-amz-target"] for c in state.calls} == {"DynamoDB_20120810.PutItem"}
    state.calls.clear()
    state.script = [(503, "ServiceUnavailable")] * 3
    with pytest.raises(ReportNotStored, match="503"):
        store.put(record("en", 2, "u"))
    assert len(state.calls) == 3
    state.calls.clear()
    state.script = [(400, "ValidationException")]
    with pytest.raises(ReportNotStored, match="ValidationException"):
        store.put(record("en", 3, "u"))
    assert len(state.calls) == 1  # a refusal is not retried


def test_an_unreachable_store_fails_after_the_bounded_attempts() -> None:
    from tests.support import free_port

    store = DynamoDbReports(
        "t", REGION, CREDS, endpoint=f"http://127.0.0.1:{free_port()}", max_attempts=2
    )
    with pytest.raises(ReportNotStored, match="unreachable"):
        store.put(record("en", 1, "u"))


# -- through the service and the ops API ------------------------------------------------------


def test_the_ops_api_pages_reports_from_the_table_across_pools(
    moto_endpoint: str,
    table: str,
    redis_client: redis.Redis,
    settings: Settings,
    notifier: RecordingNotifier,
) -> None:
    s = Settings(
        redis_url=settings.redis_url,
        key_prefix="{pc}:",
        pools=("en", "es"),
        report_min_room_age_s=0,
        reports_table=table,
        dynamodb_endpoint=moto_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    from pairchat.bootstrap import report_store

    sink = report_store(s)
    assert sink is not None
    services = {
        pool: ChatService(ChatStore(redis_client, s, pool), notifier, s, reports=sink)
        for pool in s.pools
    }
    for i in range(5):
        svc = services["en" if i % 2 == 0 else "es"]
        svc.connect(f"a{i}", f"u-a{i}")
        svc.connect(f"b{i}", f"u-b{i}")
        svc.join(f"a{i}", "male", "any")
        svc.join(f"b{i}", "female", "any")
        svc.report(f"a{i}", f"reason {i}")
        time.sleep(0.002)  # ids start with the millisecond
    assert not any(redis_client.exists(svc.store.keys.reports()) for svc in services.values())
    app = create_app()
    override(app, s, redis_client)
    app.dependency_overrides[get_report_store] = lambda: sink
    with TestClient(app) as api:
        body = api.get("/reports", params={"limit": 2}).json()
        assert [r["reason"] for r in body["reports"]] == ["reason 4", "reason 3"]
        assert [r["pool"] for r in body["reports"]] == ["en", "es"]
        assert body["total"] is None and body["pending"] == 0
        seen = [r["reason"] for r in body["reports"]]
        while body["next_before"]:
            body = api.get("/reports", params={"limit": 2, "before": body["next_before"]}).json()
            seen += [r["reason"] for r in body["reports"]]
        assert seen == [f"reason {i}" for i in (4, 3, 2, 1, 0)]
        only_es = api.get("/reports", params={"pool": "es"}).json()
        assert [r["reason"] for r in only_es["reports"]] == ["reason 3", "reason 1"]
        first = only_es["reports"][0]
        assert first["reporter"] == "u-a3" and first["reported"] == "u-b3"
        assert api.get("/reports", params={"before": "1790000000000-zz"}).status_code == 422
